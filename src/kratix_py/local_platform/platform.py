"""The local platform: everything a Kubernetes cluster would give kratix-py, on one machine.

It combines the project's Kubernetes API emulator with the pod runner (which plays the kubelet and
the Job controller with podman) and writes a kubeconfig, so that the operator, the official client and
``kubectl`` all talk to it as they would to a real cluster.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import kubernetes

from kratix_py.local_platform.kubeconfig import write_kubeconfig


@dataclass
class LocalPlatform:
    """An API emulator, optionally a pod runner, and a kubeconfig in ``workdir``.

    ``pods``: ``"podman"`` runs Job pods as real containers, ``"fast"`` runs only the in-process
    ``steps`` (image name -> Python callable), ``None`` runs no pods at all.
    """

    workdir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 0
    pods: str | None = None
    steps: dict[str, Callable[..., Any]] = field(default_factory=dict)
    max_parallel_pods: int = 4

    def __post_init__(self) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.emulator: Any = None
        self.pod_runner: Any = None
        self.kubeconfig: Path | None = None

    @property
    def url(self) -> str:
        return str(self.emulator.url)

    def start(self) -> LocalPlatform:
        from kratix_py.local_platform.emulator import Emulator

        if self.workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="kratix-py-platform-")
            self.workdir = Path(self._tmp.name)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.emulator = Emulator().start(host=self.host, port=self.port)
        self.kubeconfig = write_kubeconfig(self.workdir / "kubeconfig", self.url)
        if self.pods is not None:
            from kratix_py.local_platform.podrunner import PodRunner

            self.pod_runner = PodRunner(
                self.url,
                kubeconfig_for_containers=str(self.kubeconfig),
                steps=dict(self.steps),
                use_podman=self.pods == "podman",
                max_parallel=self.max_parallel_pods,
                workdir=self.workdir / "pods",
            )
            self.pod_runner.start()
        return self

    def api_client(self) -> kubernetes.client.ApiClient:
        """A fresh official-client ApiClient for this platform (each caller gets its own pool)."""
        configuration = kubernetes.client.Configuration()
        configuration.host = self.url
        configuration.api_key = {"authorization": "Bearer local-platform"}
        return kubernetes.client.ApiClient(configuration)

    def stop(self) -> None:
        if self.pod_runner is not None:
            self.pod_runner.stop()
            self.pod_runner = None
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LocalPlatform:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
