# ruff: noqa: E402
"""Speed of the local platform's Kubernetes API emulator.

Prints: creates/s of ConfigMaps and of custom objects with the official client (emulator in its own
process, as the benchmarks and `kratix-py local-platform` run it), list latency with many objects,
and the latency from creating a custom object to a kopf handler seeing it (p50/p95).

    .venv/bin/python bench/emulator.py [--n 2000] [--kopf-n 200]
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/requests.py is named like the `requests` library the Kubernetes client imports: keep this
# folder off the import path so `import requests` finds the library.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import statistics
import subprocess
import threading
import time
from typing import Any

import kopf
import kubernetes

from kratix_py import kube as k

GROUP = "bench.kratix.io"
THINGS = k.Resource(GROUP, "v1", "things", True, "Thing")


def crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"things.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {"kind": "Thing", "plural": "things", "singular": "thing"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"size": {"type": "integer", "default": 1}},
                                },
                                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                            },
                        }
                    },
                }
            ],
        },
    }


def client(url: str) -> k.Kube:
    configuration = kubernetes.client.Configuration()
    configuration.host = url
    return k.Kube(kubernetes.client.ApiClient(configuration))


def rate(label: str, n: int, create: Any) -> None:
    start = time.perf_counter()
    for i in range(n):
        create(i)
    elapsed = time.perf_counter() - start
    print(f"{label}: {n / elapsed:.0f} creates/s ({n} in {elapsed:.2f}s)", flush=True)


def kopf_latency(url: str, kube: k.Kube, n: int) -> None:
    seen: dict[str, float] = {}
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=url, insecure=True)

    @kopf.on.startup(registry=registry)
    def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.posting.enabled = False
        settings.peering.standalone = True

    @kopf.on.event(GROUP, "v1", "things", registry=registry)
    def handler(name: str, type: str, **_: Any) -> None:
        if type in (None, "ADDED"):
            seen.setdefault(name, time.perf_counter())

    stop, ready = threading.Event(), threading.Event()
    thread = threading.Thread(
        target=lambda: asyncio.run(
            kopf.operator(
                registry=registry, clusterwide=True, stop_flag=stop, ready_flag=ready, standalone=True
            )
        ),
        daemon=True,
    )
    thread.start()
    ready.wait(15)
    time.sleep(0.5)
    created: dict[str, float] = {}
    for i in range(n):
        name = f"kopf-{i}"
        created[name] = time.perf_counter()
        kube.create(
            THINGS,
            {
                "apiVersion": f"{GROUP}/v1",
                "kind": "Thing",
                "metadata": {"name": name, "namespace": "default"},
            },
        )
        time.sleep(0.005)  # a steady trickle, not a burst: this measures latency, not throughput
    deadline = time.perf_counter() + 30
    while len(seen) < n and time.perf_counter() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(10)
    latencies = sorted((seen[name] - created[name]) * 1000 for name in created if name in seen)
    q = statistics.quantiles(latencies, n=100)
    print(
        f"kopf create->handler: p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms ({len(latencies)}/{n} seen)",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--kopf-n", type=int, default=200)
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, "-m", "kratix_py.local_platform.emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = server.stdout.readline().strip().rsplit(" ", 1)[-1]  # type: ignore[union-attr]
        kube = client(url)
        kube.create(k.CRDS, crd())
        rate(
            "configmaps",
            args.n,
            lambda i: kube.create(
                k.CONFIGMAPS,
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": f"cm-{i}", "namespace": "default"},
                },
            ),
        )
        rate(
            "custom objects (schema-validated, defaulted)",
            args.n,
            lambda i: kube.create(
                THINGS,
                {
                    "apiVersion": f"{GROUP}/v1",
                    "kind": "Thing",
                    "metadata": {"name": f"t-{i}", "namespace": "default"},
                },
            ),
        )
        start = time.perf_counter()
        for _ in range(20):
            items = kube.list(THINGS, "default", labels={"nope": "x"})
        print(
            f"label-selected list over {args.n} objects: {(time.perf_counter() - start) / 20 * 1000:.1f} ms ({len(items)} match)"
        )
        kopf_latency(url, kube, args.kopf_n)
    finally:
        server.terminate()
        server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
