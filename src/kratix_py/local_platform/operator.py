"""Run the real kratix-py operator in a background thread, against any Kubernetes API."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace
from types import TracebackType

from kratix_py.operator.app import Operator
from kratix_py.operator.settings import OperatorSettings


class RunningOperator:
    """``with RunningOperator(settings): ...`` — started when the block begins, stopped at its end.

    The operator runs its own event loop in a daemon thread, with a fresh kopf registry, exactly as
    ``kratix-py operator`` runs it (minus signal handling and the liveness endpoint).
    """

    def __init__(
        self, settings: OperatorSettings, *, startup_timeout: float = 15.0, kratix_config: bool = False
    ) -> None:
        self.settings = settings
        self.kratix_config = kratix_config
        """Read the ``kratix`` ConfigMap at start, as ``kratix-py operator`` does; its values
        replace the given settings' (which here stand for defaults, not flags)."""
        self.startup_timeout = startup_timeout
        self.operator: Operator | None = None
        self._stop: threading.Event = threading.Event()
        self._ready: threading.Event = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self) -> RunningOperator:
        settings = self.settings
        if self.kratix_config:
            from kratix_py import kube as k
            from kratix_py.operator import kratix_config

            config = kratix_config.read(k.Kube(k.load_api_client(settings.kubeconfig)))
            kratix_config.report(config)
            settings = replace(settings, **config.settings)
        self.operator = Operator(settings)
        self._thread = threading.Thread(target=self._main, name="kratix-py-operator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._ready.wait(0.05):
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"the operator failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                raise TimeoutError("the operator did not become ready in time")
        # kopf is ready once its start-up handlers ran; give its watchers a moment to open their
        # streams, so that objects created right after this are seen by a watch, not only a list.
        time.sleep(0.3)
        return self

    def _main(self) -> None:
        assert self.operator is not None
        try:
            asyncio.run(self.operator.run(stop_flag=self._stop, ready_flag=self._ready))
        except BaseException as error:  # reported by start() / stop()
            self._error = error

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise TimeoutError("the operator did not stop in time")
        self._thread = None

    def restart(self) -> RunningOperator:
        """Stop and start again with the same settings: a new process would see the same cluster."""
        self.stop()
        self._stop, self._ready = threading.Event(), threading.Event()
        return self.start()

    def __enter__(self) -> RunningOperator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def settings_for(kubeconfig: str, **overrides: object) -> OperatorSettings:
    """Operator settings for tests: a kubeconfig, no health or metrics port."""
    base = OperatorSettings(
        kubeconfig=kubeconfig, health_port=0, metrics_port=0, workers=4, check_cache_mutations=True
    )
    return replace(base, **overrides)  # type: ignore[arg-type]
