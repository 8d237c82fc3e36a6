# ruff: noqa: E402
"""How long N resource requests take from apply to Reconciled, what each one costs the operator,
and the operator's peak memory.

Three processes, as in a cluster: the API emulator, the operator (`kratix-py operator`), and this
script, which plays the kubelet with the pod runner in fast mode (the real adapter steps and an
instant user pipeline run in-process, no containers). It installs a Promise whose resource workflow
writes one file, a Git state store (a real Git server over HTTP) and a Destination, then applies N
requests at once and records (from a watch) when each one is Reconciled: its pipeline ran and its
file is in Git.

Per request it prints the API calls the operator made, by verb (from its own
``rest_client_requests_total`` metric), and the operator's CPU milliseconds; with ``--delete`` also
the time from deleting the Promise to the Promise being gone (every request, Work and file with it).

    .venv/bin/python bench/requests.py                     # N = 100 and 1000
    .venv/bin/python bench/requests.py --n 5000 --delete
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the `requests` library, which the Kubernetes client imports: keep the
# script's own folder off the import path so `import requests` finds the library.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from kratix_py import kube as k
from kratix_py.local_platform.gitserver import GitServer
from kratix_py.local_platform.kubeconfig import write_kubeconfig
from kratix_py.local_platform.podrunner import PodRunner
from kratix_py.operator import resources as r
from kratix_py.testing.fixtures import ADAPTER_IMAGE, adapter_steps, install_crds
from kratix_py.testing.objects import open_crd

GROUP = "bench.kratix.io"
REQUESTS = k.Resource(GROUP, "v1", "caches", True, "Cache")


def promise() -> dict[str, Any]:
    return {
        "apiVersion": "platform.kratix.io/v1alpha1",
        "kind": "Promise",
        "metadata": {"name": "cache"},
        "spec": {
            "api": open_crd(GROUP, "Cache", "caches", spec_only=True),
            "workflows": {
                "resource": {
                    "configure": [
                        {
                            "apiVersion": "platform.kratix.io/v1alpha1",
                            "kind": "Pipeline",
                            "metadata": {"name": "instant"},
                            "spec": {"containers": [{"name": "write", "image": "bench/instant:v1"}]},
                        }
                    ]
                }
            },
        },
    }


def instant(ctx: Any) -> int:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # an instant pipeline: as little work as can be
    obj = yaml.load((ctx.path("/kratix/input") / "object.yaml").read_text(), Loader=loader)
    (ctx.path("/kratix/output") / "cache.yaml").write_text(
        yaml.safe_dump(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": obj["metadata"]["name"]}}
        )
    )
    return 0


def done(obj: dict[str, Any]) -> bool:
    """Reconciled: the workflow completed and every Work is written to the Destination's store."""
    conditions = {c.get("type"): c.get("status") for c in (obj.get("status") or {}).get("conditions") or []}
    return conditions.get("Reconciled") == "True"


def destination_objects(url: str) -> list[tuple[k.Resource, dict[str, Any]]]:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "git", "namespace": "default"},
        "stringData": {"username": "kratix", "password": "bench"},
    }
    store = {
        "apiVersion": "platform.kratix.io/v1alpha1",
        "kind": "GitStateStore",
        "metadata": {"name": "default"},
        "spec": {"url": url, "secretRef": {"name": "git", "namespace": "default"}},
    }
    destination = {
        "apiVersion": "platform.kratix.io/v1alpha1",
        "kind": "Destination",
        "metadata": {"name": "dev", "labels": {"env": "dev"}},
        "spec": {"path": "dev", "stateStoreRef": {"kind": "GitStateStore", "name": "default"}},
    }
    return [(k.SECRETS, secret), (r.GIT_STATE_STORES, store), (r.DESTINATIONS, destination)]


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def api_calls(metrics_port: int) -> dict[str, float]:
    """The operator's API requests so far, by verb (its rest_client_requests_total metric)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    calls: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("rest_client_requests_total{"):
            labels, value = line.rsplit(" ", 1)
            verb = labels.split('verb="', 1)[1].split('"', 1)[0]
            calls[verb] = calls.get(verb, 0.0) + float(value)
    return calls


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class System:
    """A running platform: the API (emulator process), the operator process and its Git repo."""

    kube: k.Kube
    url: str
    emulator_pid: int
    operator_pid: int
    metrics_port: int
    repo: str


@contextlib.contextmanager
def running_system(workdir: Path, git: GitServer, name: str) -> Iterator[System]:
    """Emulator and operator processes, the pod runner here, a Git-backed Destination, the Promise."""
    emulator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kratix_py.local_platform.emulator",
            "--port",
            "0",
            "--event-log-size",
            "400000",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    operator: subprocess.Popen[str] | None = None
    runner: PodRunner | None = None
    try:
        url = emulator.stdout.readline().strip().rsplit(" ", 1)[-1]  # type: ignore[union-attr]
        kubeconfig = write_kubeconfig(workdir / f"kubeconfig-{name}", url)
        configuration = k.kubernetes.client.Configuration()
        configuration.host = url
        kube = k.Kube(k.kubernetes.client.ApiClient(configuration))
        install_crds(kube)
        runner = PodRunner(
            url, steps={**adapter_steps(), "bench/instant:v1": instant}, use_podman=False, max_parallel=8
        ).start()
        metrics_port = free_port()
        command = [sys.executable, "-m", "kratix_py", "operator", "--kubeconfig", str(kubeconfig)]
        command += ["--pipeline-adapter-image", ADAPTER_IMAGE, "--health-port", "0"]
        command += ["--metrics-port", str(metrics_port), "--leader-election", "false"]
        operator = subprocess.Popen(
            [*command, "--log-level", "WARNING"],
            stdout=subprocess.DEVNULL,
            stderr=open(workdir / f"operator-{name}.log", "w"),  # noqa: SIM115
        )
        git.create_repo(name)
        for resource, body in destination_objects(git.http_url(name)):
            kube.create(resource, body)
        kube.create(r.PROMISES, promise())
        deadline = time.monotonic() + 60
        while (kube.get(r.PROMISES, "cache") or {}).get("status", {}).get("status") != "Available":
            if time.monotonic() > deadline:
                raise SystemExit("the Promise did not become Available")
            time.sleep(0.1)
        yield System(kube, url, emulator.pid, operator.pid, metrics_port, name)
    finally:
        if operator is not None:
            stop(operator)
        if runner is not None:
            runner.stop()
        stop(emulator)


def stop(process: subprocess.Popen[Any]) -> None:
    """Stop a process this script started; one that holds thousands of objects may take a while."""
    process.terminate()
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def request(name: str, spec: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Cache",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec or {},
    }


class Watcher:
    """Records when each request first reads Reconciled, from a watch (no polling lists)."""

    def __init__(self, url: str) -> None:
        configuration = k.kubernetes.client.Configuration()
        configuration.host = url
        self.api = k.kubernetes.client.CustomObjectsApi(k.kubernetes.client.ApiClient(configuration))
        self.finished: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        version = ""
        while not self._stop.is_set():
            stream = k.kubernetes.watch.Watch()
            try:
                for event in stream.stream(
                    self.api.list_namespaced_custom_object,
                    GROUP, "v1", "default", "caches",
                    resource_version=version, timeout_seconds=30,
                ):  # fmt: skip
                    obj = event["object"]
                    version = obj["metadata"]["resourceVersion"]
                    name = obj["metadata"]["name"]
                    if name not in self.finished and done(obj):
                        self.finished[name] = time.monotonic()
                    if self._stop.is_set():
                        break
            except Exception:  # a broken stream: watch again from where it was
                version = ""
                time.sleep(0.2)

    def stop(self) -> None:
        self._stop.set()


def run(n: int, workdir: Path, git: GitServer, *, run_index: int = 0, delete: bool = False) -> dict[str, Any]:
    # One repository per run: the same N may be asked for twice (--n 100 --n 100).
    with running_system(workdir, git, f"state-{n}-{run_index}") as system:
        kube = system.kube
        watcher = Watcher(system.url)
        calls_before = api_calls(system.metrics_port)
        cpu_before = cpu_seconds(system.operator_pid)
        emulator_before = cpu_seconds(system.emulator_pid)
        here_before = time.process_time()
        applied: dict[str, float] = {}
        start = time.monotonic()
        for i in range(n):
            name = f"cache-{i:05d}"
            kube.create(REQUESTS, request(name))
            applied[name] = time.monotonic()
        deadline = time.monotonic() + max(120, n * 0.5)
        while len(watcher.finished) < n and time.monotonic() < deadline:
            time.sleep(0.2)
        finished = dict(watcher.finished)
        total = max(finished.values(), default=time.monotonic()) - start
        cpu = cpu_seconds(system.operator_pid) - cpu_before
        emulator_cpu = cpu_seconds(system.emulator_pid) - emulator_before
        here_cpu = time.process_time() - here_before
        calls_after = api_calls(system.metrics_port)
        watcher.stop()
        latencies = sorted(finished[name] - applied[name] for name in finished)
        if not latencies:
            raise SystemExit(f"no request became Reconciled; see the operator log in {workdir}")
        quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0]] * 99
        per_request = {
            verb: (calls_after.get(verb, 0) - calls_before.get(verb, 0)) / n
            for verb in sorted(calls_after)
            if calls_after.get(verb, 0) - calls_before.get(verb, 0)
        }
        result: dict[str, Any] = {
            "n": n,
            "ready": len(finished),
            "total_s": total,
            "requests_per_s": len(finished) / total if total else float("nan"),
            "p50_s": quantiles[49],
            "p95_s": quantiles[94],
            "operator_peak_rss_mib": peak_rss_mib(system.operator_pid),
            "commits": len(git.commits(system.repo, "main")),
            "api_calls_per_request": per_request,
            "cpu_ms_per_request": cpu * 1000 / n,
            "emulator_cpu_ms_per_request": emulator_cpu * 1000 / n,
            "pod_runner_cpu_ms_per_request": here_cpu * 1000 / n,
        }
        if delete:
            started = time.monotonic()
            kube.delete(r.PROMISES, "cache")
            while kube.get(r.PROMISES, "cache") is not None and time.monotonic() - started < 900:
                time.sleep(0.5)
            result["delete_promise_s"] = time.monotonic() - started
        return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--n", type=int, action="append", help="number of requests (repeatable; default 100 and 1000)"
    )
    parser.add_argument(
        "--delete", action="store_true", help="also time deleting the Promise with all its requests"
    )
    args = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    with (
        tempfile.TemporaryDirectory(prefix="kratix-py-bench-") as tmp,
        GitServer(username="kratix", password="bench", https=False, ssh=False) as git,
    ):
        for run_index, n in enumerate(args.n or [100, 1000]):
            result = run(n, Path(tmp), git, run_index=run_index, delete=args.delete)
            calls = ", ".join(
                f"{verb} {count:.1f}" for verb, count in result["api_calls_per_request"].items()
            )
            print(
                f"requests N={result['n']}: {result['ready']} ready in {result['total_s']:.1f}s "
                f"({result['requests_per_s']:.1f}/s); apply->ready p50 {result['p50_s']:.2f}s "
                f"p95 {result['p95_s']:.2f}s; {result['commits']} Git commits; "
                f"operator peak RSS {result['operator_peak_rss_mib']:.0f} MiB",
                flush=True,
            )
            print(
                f"  per request: operator CPU {result['cpu_ms_per_request']:.1f} ms; API calls {calls}; "
                f"beside it: API emulator CPU {result['emulator_cpu_ms_per_request']:.1f} ms, "
                f"pod runner (and this script) CPU {result['pod_runner_cpu_ms_per_request']:.1f} ms",
                flush=True,
            )
            if "delete_promise_s" in result:
                print(
                    f"  delete Promise with {n} requests: gone in {result['delete_promise_s']:.1f}s",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
