"""A level-triggered work queue, in the manner of controller-runtime, on kopf's event loop.

kopf delivers watch events; the handlers only put the affected object's key in this queue. Workers
take keys and call the reconciler for that kind, which reads the current state from the API and moves
the world one step towards what it should be. This gives the guarantees the operator relies on:

- one reconcile per key at a time (no two workers act on the same object concurrently);
- events arriving during a reconcile coalesce into one follow-up reconcile, never a lost one;
- a reconciler can ask to be called again later (``requeue_after``) without blocking anything;
- an exception is logged and retried with exponential backoff, never a crash loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import timedelta

from kratix_py.operator import metrics

log = logging.getLogger(__name__)

Key = tuple[Hashable, ...]
"""(kind tag, ...identity): e.g. ("promise", "postgresql") or ("request", resource, "ns", "name")."""

ReconcileFn = Callable[[Key], timedelta | None]


@dataclass
class _Entry:
    due: float
    attempt: int = 0


@dataclass
class WorkQueue:
    """Keys to reconcile, each due at a time; ``run`` drains it with ``workers`` concurrent workers."""

    reconcilers: dict[str, ReconcileFn]
    workers: int = 4
    base_backoff: float = 0.5
    max_backoff: float = 60.0
    _pending: dict[Key, _Entry] = field(default_factory=dict)
    _active: set[Key] = field(default_factory=set)
    _dirty: set[Key] = field(default_factory=set)
    _failures: dict[Key, int] = field(default_factory=dict)
    _wakeup: asyncio.Event | None = None
    _stopping: bool = False
    paused: bool = False
    """While paused (a standby replica), keys are collected but nothing is reconciled."""
    reconciles: int = 0
    """Reconciles finished so far (successful or not): lets tests and tools tell "idle" from "not started"."""

    def add(self, key: Key, delay: float = 0.0) -> None:
        """Reconcile ``key`` after ``delay`` seconds (an earlier due time always wins)."""
        due = time.monotonic() + max(delay, 0.0)
        if key in self._active and delay <= 0:
            self._dirty.add(key)  # reconcile again right after the running one ends
            return
        entry = self._pending.get(key)
        if entry is None or due < entry.due:
            self._pending[key] = _Entry(due)
        if self._wakeup is not None:
            self._wakeup.set()

    def __len__(self) -> int:
        return len(self._pending) + len(self._active)

    def idle(self) -> bool:
        return not self._active and all(e.due > time.monotonic() for e in self._pending.values())

    async def run(self) -> None:
        self._wakeup = asyncio.Event()
        semaphore = asyncio.Semaphore(self.workers)
        tasks: set[asyncio.Task[None]] = set()
        try:
            while not self._stopping:
                key, wait = self._next_ready()
                if key is None:
                    self._wakeup.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wakeup.wait(), timeout=wait)
                    continue
                await semaphore.acquire()
                del self._pending[key]
                self._active.add(key)
                task = asyncio.create_task(self._work(key, semaphore))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            for task in tasks:
                task.cancel()

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False
        if self._wakeup is not None:
            self._wakeup.set()

    def stop(self) -> None:
        self._stopping = True
        if self._wakeup is not None:
            self._wakeup.set()

    def _next_ready(self) -> tuple[Key | None, float]:
        if self.paused:
            return None, 3600.0  # resume() wakes the loop
        now = time.monotonic()
        soonest = 3600.0
        for key, entry in self._pending.items():
            if key in self._active:
                continue
            if entry.due <= now:
                return key, 0.0
            soonest = min(soonest, entry.due - now)
        return None, soonest

    async def _work(self, key: Key, semaphore: asyncio.Semaphore) -> None:
        kind = str(key[0])
        reconcile = self.reconcilers[kind]
        started = time.monotonic()
        try:
            requeue = await asyncio.to_thread(reconcile, key)
        except Exception as error:
            if getattr(error, "conflict", False):
                # Someone else wrote the object after we read it: normal under concurrency. Start
                # again from fresh state at once; no backoff, no alarming traceback.
                log.debug("conflict reconciling %s; retrying with fresh state", _show(key))
                metrics.RECONCILES.labels(kind, "conflict").inc()
                self._finish(key)
                self.add(key)
                return
            attempt = self._failures.get(key, 0) + 1
            self._failures[key] = attempt
            delay = min(self.base_backoff * 2 ** (attempt - 1), self.max_backoff)
            log.exception("reconciling %s failed (attempt %d); retrying in %.1fs", _show(key), attempt, delay)
            metrics.RECONCILES.labels(kind, "error").inc()
            self._finish(key)
            self.add(key, delay)
        else:
            metrics.RECONCILES.labels(kind, "ok").inc()
            self._failures.pop(key, None)
            self._finish(key)
            if requeue is not None:
                self.add(key, requeue.total_seconds())
        finally:
            metrics.RECONCILE_SECONDS.labels(kind).observe(time.monotonic() - started)
            metrics.QUEUE_DEPTH.set(len(self))
            self.reconciles += 1
            semaphore.release()
            if self._wakeup is not None:
                self._wakeup.set()

    def _finish(self, key: Key) -> None:
        self._active.discard(key)
        if key in self._dirty:
            self._dirty.discard(key)
            self.add(key)


def _show(key: Key) -> str:
    return "/".join(str(part) for part in key[1:] if part) or str(key[0])
