"""Flux's source-controller and kustomize-controller as processes against a (worker) API server.

They are the pinned builds of ``make setup-components``; their CRDs come from the same modules.
The controllers run outside any cluster, so they get the worker's kubeconfig through
``KUBECONFIG``, and source-controller's artifact server listens on 127.0.0.1 with that address
advertised, which is where kustomize-controller fetches the artifacts from.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

import yaml

from kratix_py import kube as k
from kratix_py.local_platform import components
from kratix_py.local_platform.controlplane import free_port

log = logging.getLogger(__name__)

NAMESPACE = "flux-system"


class FluxError(RuntimeError):
    pass


class Flux:
    """``with Flux(kube, kubeconfig, workdir): ...`` — CRDs installed, both controllers running."""

    def __init__(self, kube: k.Kube, kubeconfig: Path, workdir: Path, *, ready_timeout: float = 60.0) -> None:
        self.kube = kube
        self.kubeconfig = kubeconfig
        self.workdir = workdir
        self.ready_timeout = ready_timeout
        self._processes: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def start(self) -> Flux:
        binaries = {name: components.binary(name) for name in components.FLUX}
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._install_crds()
        self.kube.apply(
            k.NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        )
        try:
            storage = free_port()
            self._spawn(
                "source-controller",
                binaries["source-controller"],
                [
                    f"--storage-path={self.workdir / 'artifacts'}",
                    f"--storage-addr=127.0.0.1:{storage}",
                    f"--storage-adv-addr=127.0.0.1:{storage}",
                ],
            )
            self._spawn("kustomize-controller", binaries["kustomize-controller"], [])
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for _, popen, _ in reversed(self._processes):
            if popen.poll() is None:
                popen.terminate()
                try:
                    popen.wait(10)
                except subprocess.TimeoutExpired:
                    popen.kill()
                    popen.wait(10)
        self._processes.clear()

    def __enter__(self) -> Flux:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def logs(self, name: str, lines: int = 30) -> str:
        path = self.workdir / f"{name}.log"
        if not path.is_file():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def _install_crds(self) -> None:
        names = []
        for name in components.FLUX:
            for path in sorted(components.crds_dir(name).glob("*.yaml")):
                for crd in yaml.safe_load_all(path.read_text()):
                    if crd:
                        self.kube.apply(k.CRDS, crd)
                        names.append(crd["metadata"]["name"])
        deadline = time.monotonic() + self.ready_timeout
        for name in names:
            while not _established(self.kube.get(k.CRDS, name)):
                if time.monotonic() > deadline:
                    raise FluxError(f"the Flux CRD {name} was not established")
                time.sleep(0.1)

    def _spawn(self, name: str, binary: Path, args: list[str]) -> None:
        health = free_port()
        log_path = self.workdir / f"{name}.log"
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            # Where the controllers record Events and would hold leader election.
            "RUNTIME_NAMESPACE": NAMESPACE,
        }
        with log_path.open("ab") as out:
            popen = subprocess.Popen(
                [
                    str(binary),
                    *args,
                    f"--metrics-addr=127.0.0.1:{free_port()}",
                    f"--health-addr=127.0.0.1:{health}",
                    "--enable-leader-election=false",
                    "--watch-all-namespaces=true",
                    "--log-level=info",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=self.workdir,
            )
        self._processes.append((name, popen, log_path))
        deadline = time.monotonic() + self.ready_timeout
        while True:
            if popen.poll() is not None:
                raise FluxError(f"{name} exited with {popen.returncode}:\n{self.logs(name)}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{health}/readyz", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                raise FluxError(f"{name} not ready after {self.ready_timeout:.0f}s:\n{self.logs(name)}")
            time.sleep(0.2)


def _established(crd: dict[str, object] | None) -> bool:
    status = (crd or {}).get("status") or {}
    assert isinstance(status, dict)
    return any(
        c.get("type") == "Established" and c.get("status") == "True" for c in status.get("conditions") or []
    )
