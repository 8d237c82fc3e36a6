"""Does the operator's memory grow under steady churn? (kopf has a reported leak with patching
handlers, kopf issue #1172.) The same set-up as bench/requests.py: the operator in its own process,
instant pipelines in fast mode, a real Git server. N requests are created, then every request's spec
is changed R times, one round at a time; the operator's RSS is printed after each round.

    .venv/bin/python bench/soak.py [--n 50] [--rounds 10]
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

# bench/requests.py is named like the `requests` library: keep this folder off the import path.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse
import importlib.util
import tempfile
import time

from kratix_py import kube as k
from kratix_py.local_platform.gitserver import GitServer

_spec = importlib.util.spec_from_file_location("bench_requests", HERE / "requests.py")
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
sys.modules["bench_requests"] = bench  # its dataclasses look their module up there
_spec.loader.exec_module(bench)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_all(kube: k.Kube, names: list[str], generation_of: dict[str, int], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = 0
        for obj in kube.list(bench.REQUESTS, "default"):
            name = obj["metadata"]["name"]
            status = obj.get("status") or {}
            if bench.done(obj) and status.get("observedGeneration", 0) >= generation_of.get(name, 1):
                done += 1
        if done == len(names):
            return
        time.sleep(0.3)
    raise SystemExit("requests did not settle in time")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="kratix-py-soak-") as tmp,
        GitServer(username="kratix", password="bench", https=False, ssh=False) as git,
        bench.running_system(Path(tmp), git, "soak") as system,
    ):
        kube, pid = system.kube, system.operator_pid
        names = [f"cache-{i:04d}" for i in range(args.n)]
        generation = {
            name: kube.create(bench.REQUESTS, bench.request(name, {"round": 0}))["metadata"]["generation"]
            for name in names
        }
        wait_all(kube, names, generation)
        baseline = rss_mib(pid)
        print(f"soak N={args.n}: after creating: operator RSS {baseline:.1f} MiB", flush=True)
        for round_number in range(1, args.rounds + 1):
            started = time.monotonic()
            for name in names:
                updated = kube.patch(bench.REQUESTS, name, {"spec": {"round": round_number}}, "default")
                generation[name] = updated["metadata"]["generation"]
            wait_all(kube, names, generation)
            print(
                f"round {round_number}: {args.n} updates reconciled in {time.monotonic() - started:.1f}s; "
                f"operator RSS {rss_mib(pid):.1f} MiB",
                flush=True,
            )
        grown = rss_mib(pid) - baseline
        print(f"soak: RSS grew {grown:+.1f} MiB over {args.rounds * args.n} updates", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
