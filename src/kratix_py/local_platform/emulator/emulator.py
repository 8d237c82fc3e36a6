"""The :class:`Emulator`: a Kubernetes API server in a background thread, for tests.

The server runs on its own event loop in a daemon thread, so it works the same under synchronous
tests, asyncio tests and kopf operators running in other threads. Starting takes milliseconds;
stopping ends open watches first, so it is quick even while clients are watching.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from .cluster import Cluster
from .faults import FaultInjector
from .server import ApiServer

log = logging.getLogger(__name__)
T = TypeVar("T")


class Emulator:
    """An in-process Kubernetes API server.

    >>> with Emulator().start() as emu:          # doctest: +SKIP
    ...     client = kubernetes.client.ApiClient(kubernetes.client.Configuration(host=emu.url))
    """

    def __init__(self, event_log_size: int = 10000) -> None:
        self.cluster = Cluster(event_log_size)
        self.faults = FaultInjector()
        self.url = ""
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> Emulator:
        """Start serving on ``host:port`` (0 picks a free port); returns once it is listening."""
        if self._thread is not None:
            raise RuntimeError("the emulator is already started")
        self._ready = threading.Event()
        self._error = None
        self._thread = threading.Thread(
            target=self._run, args=(host, port), name="k8s-api-emulator", daemon=True
        )
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            self._thread = None
            raise RuntimeError(
                f"the emulator could not start on {host}:{port}: {self._error}"
            ) from self._error
        return self

    def stop(self) -> None:
        """Stop serving; open watches are ended first. Safe to call twice."""
        thread, loop, stop_event = self._thread, self._loop, self._stop_event
        if thread is None or loop is None or stop_event is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop may already be closed
            loop.call_soon_threadsafe(stop_event.set)
        thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> Emulator:
        if self._thread is None:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _run(self, host: str, port: int) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(host, port))
        except BaseException as exc:  # reported to start() if it happened before listening
            if not self._ready.is_set():
                self._error = exc
            else:
                log.exception("the emulator stopped with an error")
        finally:
            self._ready.set()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        self.cluster.defer = lambda fn: loop.call_soon(_logged, fn)
        runner = web.AppRunner(
            ApiServer(self.cluster, self.faults).app,
            access_log=None,
            shutdown_timeout=0.5,
            # A client that hangs up ends its handler, so an abandoned watch is unsubscribed at once.
            handler_cancellation=True,
        )
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        # aiohttp exposes the bound port (for port 0) only through the server's sockets.
        sockets = getattr(site._server, "sockets", None) or []
        bound = sockets[0].getsockname()[1] if sockets else port
        self.url = f"http://{host}:{bound}"
        self._ready.set()
        try:
            await self._stop_event.wait()
        finally:
            await runner.cleanup()

    # --- test helpers ----------------------------------------------------------------------

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the emulator's loop (where the cluster state lives) and return its result."""
        loop = self._loop
        if loop is None or self._thread is None:
            return fn()

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=10)

    def inject_fault(
        self, method: str | None, path_regex: str, status: int, count: int = 1, message: str = ""
    ) -> None:
        """Answer the next ``count`` requests whose method and path match with ``status``.

        ``path_regex`` is searched (``re.search``) in the URL path without the query string;
        ``method=None`` matches any method. Stored state is not touched.
        """
        self.faults.add(method, path_regex, status, count, message)

    def clear_faults(self) -> None:
        self.faults.clear()

    def set_pod_log(self, namespace: str, pod: str, container: str, text: str) -> None:
        """Set the log a container of a pod shows through ``pods/<name>/log``."""
        self.cluster.pod_logs.set(namespace, pod, container, text)

    def watch_count(self, plural: str, group: str = "") -> int:
        """How many watches are open on a resource (all versions), e.g. ``("customresourcedefinitions",
        "apiextensions.k8s.io")``."""
        name = f"{plural}.{group}" if group else plural
        return self.call(self.cluster.watch_counts).get(name, 0)

    def wait_for_watch(self, plural: str, group: str = "", timeout: float = 10.0) -> None:
        """Block until a client watches the resource (e.g. an operator has finished starting)."""
        deadline = time.monotonic() + timeout
        while self.watch_count(plural, group) == 0:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nobody started watching {plural}.{group} within {timeout}s")
            time.sleep(0.005)


def _logged(fn: Callable[[], Any]) -> None:
    try:
        fn()
    except Exception:
        log.exception("a deferred emulator task failed")
