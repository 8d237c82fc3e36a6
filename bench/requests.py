# ruff: noqa: E402
"""How long N resource requests take from apply to Ready, and the operator's peak memory.

Three processes, as in a cluster: the API emulator, the operator (`kratix-py operator`), and this
script, which plays the kubelet with the pod runner in fast mode (the real adapter steps and an
instant user pipeline run in-process, no containers). It installs a Promise whose resource workflow
writes one file, a Git state store (a real Git server over HTTP) and a Destination, then applies N
requests at once and records when each one is Reconciled: its pipeline ran and its file is in Git.

    .venv/bin/python bench/requests.py            # N = 100 and 1000
    .venv/bin/python bench/requests.py --n 50
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
import statistics
import subprocess
import tempfile
import time
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

GROUP = "bench.kratix.io"
REQUESTS = k.Resource(GROUP, "v1", "caches", True, "Cache")


def promise() -> dict[str, Any]:
    return {
        "apiVersion": "platform.kratix.io/v1alpha1",
        "kind": "Promise",
        "metadata": {"name": "cache"},
        "spec": {
            "api": {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": f"caches.{GROUP}"},
                "spec": {
                    "group": GROUP,
                    "names": {"kind": "Cache", "plural": "caches", "singular": "cache"},
                    "scope": "Namespaced",
                    "versions": [
                        {
                            "name": "v1",
                            "served": True,
                            "storage": True,
                            "schema": {
                                "openAPIV3Schema": {
                                    "type": "object",
                                    "properties": {
                                        "spec": {
                                            "type": "object",
                                            "x-kubernetes-preserve-unknown-fields": True,
                                        }
                                    },
                                }
                            },
                        }
                    ],
                },
            },
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
    obj = yaml.safe_load((ctx.path("/kratix/input") / "object.yaml").read_text())
    (ctx.path("/kratix/output") / "cache.yaml").write_text(
        yaml.safe_dump({"kind": "ConfigMap", "metadata": {"name": obj["metadata"]["name"]}})
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


@dataclass
class System:
    """A running platform: the API (emulator process), the operator process and its Git repo."""

    kube: k.Kube
    operator_pid: int
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
            "200000",
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
        command = [sys.executable, "-m", "kratix_py", "operator", "--kubeconfig", str(kubeconfig)]
        command += ["--pipeline-adapter-image", ADAPTER_IMAGE, "--health-port", "0", "--metrics-port", "0"]
        operator = subprocess.Popen(
            [*command, "--log-level", "WARNING"],
            stdout=subprocess.DEVNULL,
            stderr=open(workdir / f"operator-{name}.log", "w"),  # noqa: SIM115
        )
        time.sleep(1.5)
        git.create_repo(name)
        for resource, body in destination_objects(git.http_url(name)):
            kube.create(resource, body)
        kube.create(r.PROMISES, promise())
        deadline = time.monotonic() + 60
        while (kube.get(r.PROMISES, "cache") or {}).get("status", {}).get("status") != "Available":
            if time.monotonic() > deadline:
                raise SystemExit("the Promise did not become Available")
            time.sleep(0.1)
        time.sleep(0.5)  # let kopf start watching the new request kind
        yield System(kube, operator.pid, name)
    finally:
        if operator is not None:
            operator.terminate()
            operator.wait(15)
        if runner is not None:
            runner.stop()
        emulator.terminate()
        emulator.wait(15)


def request(name: str, spec: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Cache",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec or {},
    }


def run(n: int, workdir: Path, git: GitServer) -> dict[str, float]:
    with running_system(workdir, git, f"state-{n}") as system:
        kube = system.kube
        applied: dict[str, float] = {}
        start = time.monotonic()
        for i in range(n):
            name = f"cache-{i:05d}"
            kube.create(REQUESTS, request(name))
            applied[name] = time.monotonic()
        finished: dict[str, float] = {}
        deadline = time.monotonic() + max(120, n * 0.5)
        while len(finished) < n and time.monotonic() < deadline:
            for obj in kube.list(REQUESTS, "default"):
                name = obj["metadata"]["name"]
                if name not in finished and done(obj):
                    finished[name] = time.monotonic()
            time.sleep(0.2)
        total = time.monotonic() - start
        latencies = sorted(finished[name] - applied[name] for name in finished)
        quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0]] * 99
        return {
            "n": n,
            "ready": len(finished),
            "total_s": total,
            "requests_per_s": len(finished) / total,
            "p50_s": quantiles[49],
            "p95_s": quantiles[94],
            "operator_peak_rss_mib": peak_rss_mib(system.operator_pid),
            "commits": len(git.commits(system.repo, "main")),
        }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--n", type=int, action="append", help="number of requests (repeatable; default 100 and 1000)"
    )
    args = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    with (
        tempfile.TemporaryDirectory(prefix="kratix-py-bench-") as tmp,
        GitServer(username="kratix", password="bench", https=False, ssh=False) as git,
    ):
        for n in args.n or [100, 1000]:
            result = run(n, Path(tmp), git)
            print(
                f"requests N={result['n']}: {result['ready']} ready in {result['total_s']:.1f}s "
                f"({result['requests_per_s']:.1f}/s); apply->ready p50 {result['p50_s']:.2f}s "
                f"p95 {result['p95_s']:.2f}s; {result['commits']} Git commits; "
                f"operator peak RSS {result['operator_peak_rss_mib']:.0f} MiB",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
