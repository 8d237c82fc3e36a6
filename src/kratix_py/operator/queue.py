"""A level-triggered work queue, in the manner of controller-runtime, on the operator's event loop.

Watch events only put the affected object's key in this queue. Workers take keys and call the
reconciler for that kind, which reads the current state (from the cache) and moves the world one
step towards what it should be. The guarantees the operator relies on:

- one reconcile per key at a time (no two workers act on the same object concurrently);
- events arriving during a reconcile coalesce into one follow-up reconcile, never a lost one;
- a reconciler can ask to be called again later (``requeue_after``) without blocking anything;
- an exception is logged and retried with exponential backoff, never a crash loop;
- a conflict (someone wrote first) is retried soon, with a short growing delay, quietly.

Due keys sit in a heap, so taking the next one costs O(log n) whatever the queue holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import timedelta

from kratix_py.operator import logs, metrics

log = logging.getLogger(__name__)

Key = tuple[Hashable, ...]
"""(kind tag, ...identity): e.g. ("promise", "postgresql") or ("request", group, ..., "ns", "name")."""

ReconcileFn = Callable[[Key], timedelta | None]


class NotLeading(Exception):
    """A write was refused because this replica does not hold the Lease (any more)."""


CONFLICT_BACKOFF = (0.02, 1.0)
"""(first, longest) delay before retrying after a conflict: lets the watch catch up."""


@dataclass
class WorkQueue:
    """Keys to reconcile, each due at a time; ``run`` drains it with ``workers`` concurrent workers."""

    reconcilers: dict[str, ReconcileFn]
    workers: int = 4
    describe: Callable[[Key], logs.ObjectRef] = logs.ref_for_key
    """How log lines name a key's object (the operator knows each request plural's Kind)."""
    base_backoff: float = 0.5
    max_backoff: float = 60.0
    _due: dict[Key, float] = field(default_factory=dict)
    _heap: list[tuple[float, int, Key]] = field(default_factory=list)
    _sequence: itertools.count[int] = field(default_factory=itertools.count)
    _active: set[Key] = field(default_factory=set)
    _dirty: set[Key] = field(default_factory=set)
    _failures: dict[Key, int] = field(default_factory=dict)
    _conflicts: dict[Key, int] = field(default_factory=dict)
    _wakeup: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _stopping: bool = False
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    paused: bool = False
    """While paused (a standby replica, or caches not synced yet), keys are collected but nothing runs."""
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    reconciles: int = 0
    """Reconciles finished so far (successful or not): lets tests and tools tell "idle" from "not started"."""

    def add(self, key: Key, delay: float = 0.0) -> None:
        """Reconcile ``key`` after ``delay`` seconds (an earlier due time always wins).

        Safe from any thread: reconcilers, store batchers and write results call it from worker
        threads, and the queue's state belongs to the event loop, so those calls are handed over.
        """
        loop = self._loop
        if loop is not None and not _on(loop):
            with contextlib.suppress(RuntimeError):  # the loop is closed: the operator is stopping
                loop.call_soon_threadsafe(self._add, key, delay)
            return
        self._add(key, delay)

    def _add(self, key: Key, delay: float) -> None:
        if key in self._active and delay <= 0:
            self._dirty.add(key)  # reconcile again right after the running one ends
            return
        due = time.monotonic() + max(delay, 0.0)
        current = self._due.get(key)
        if current is not None and current <= due:
            return
        self._due[key] = due
        heapq.heappush(self._heap, (due, next(self._sequence), key))
        metrics.WORKQUEUE_ADDS.labels(metrics.QUEUE_NAME).inc()
        if self._wakeup is not None and (not self._heap or self._heap[0][2] == key):
            self._wakeup.set()

    def __len__(self) -> int:
        return len(self._due) + len(self._active)

    def __contains__(self, key: Key) -> bool:
        return key in self._due or key in self._active

    def idle(self) -> bool:
        now = time.monotonic()
        return not self._active and all(due > now for due in self._due.values())

    async def run(self) -> None:
        self._wakeup = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        semaphore = asyncio.Semaphore(self.workers)
        try:
            while not self._stopping:
                key, wait = self._next_ready()
                if key is None:
                    self._wakeup.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wakeup.wait(), timeout=wait)
                    continue
                await semaphore.acquire()
                if self._stopping or self.paused:
                    semaphore.release()
                    self.add(key)  # not lost: taken up again on resume
                    continue
                self._active.add(key)
                task = asyncio.create_task(self._work(key, semaphore))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            for task in self._tasks:
                task.cancel()
            self._loop = None

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self._call(self._resume)

    def _resume(self) -> None:
        self.paused = False
        if self._wakeup is not None:
            self._wakeup.set()

    def stop(self) -> None:
        self._stopping = True
        self._call(self._wake)

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    def _call(self, action: Callable[[], None]) -> None:
        loop = self._loop
        if loop is not None and not _on(loop):
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(action)
            return
        action()

    async def drain(self, timeout: float) -> None:
        """Wait (at most ``timeout``) for the reconciles already running to end."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    def _next_ready(self) -> tuple[Key | None, float]:
        if self.paused:
            return None, 3600.0  # resume() wakes the loop
        now = time.monotonic()
        deferred: list[tuple[float, int, Key]] = []
        try:
            while self._heap:
                due, sequence, key = self._heap[0]
                if self._due.get(key) != due:
                    heapq.heappop(self._heap)  # superseded by an earlier due time, or taken
                    continue
                if due > now:
                    return None, due - now
                heapq.heappop(self._heap)
                if key in self._active:
                    deferred.append((due, sequence, key))  # runs again once the active one ends
                    self._dirty.add(key)
                    continue
                del self._due[key]
                return key, 0.0
            return None, 3600.0
        finally:
            for entry in deferred:
                self._due.pop(entry[2], None)

    async def _work(self, key: Key, semaphore: asyncio.Semaphore) -> None:
        kind = str(key[0])
        reconcile = self.reconcilers[kind]
        started = time.monotonic()
        result, requeue = "", None
        # This task's context, copied into the worker thread by to_thread: every line logged
        # for this reconcile, here or in the reconciler, names the object and the reconcile.
        logs.enter(self.describe(key), next(self._numbers))
        try:
            requeue = await asyncio.to_thread(reconcile, key)
        except NotLeading:
            # The Lease was lost mid-reconcile: nothing more was written; the key waits for the
            # next term (the queue is paused by now).
            self._finish(key)
            self.add(key)
        except Exception as error:
            if getattr(error, "conflict", False):
                # Someone else wrote the object after we read it: normal under concurrency. Start
                # again from fresh state soon; no alarming traceback.
                conflicts = self._conflicts.get(key, 0) + 1
                self._conflicts[key] = conflicts
                delay = min(CONFLICT_BACKOFF[0] * 2 ** (conflicts - 1), CONFLICT_BACKOFF[1])
                log.debug("conflict reconciling %s; retrying with fresh state", show_key(key))
                result = "conflict"
                self._finish(key)
                self.add(key, delay)
                return
            attempt = self._failures.get(key, 0) + 1
            self._failures[key] = attempt
            delay = min(self.base_backoff * 2 ** (attempt - 1), self.max_backoff)
            if getattr(error, "status", None) is not None and not isinstance(error, KeyError):
                # An API error has a message worth one line; a traceback adds nothing.
                log.warning(
                    "reconciling %s failed (attempt %d, retrying in %.1fs): %s",
                    show_key(key), attempt, delay, getattr(error, "message", error),
                )  # fmt: skip
            else:
                log.exception(
                    "reconciling %s failed (attempt %d); retrying in %.1fs", show_key(key), attempt, delay
                )
            result = "error"
            self._finish(key)
            self.add(key, delay)
        else:
            result = "ok"
            self._failures.pop(key, None)
            self._conflicts.pop(key, None)
            self._finish(key)
            if requeue is not None:
                self.add(key, requeue.total_seconds())
        finally:
            if result:  # a lost Lease is not a reconcile: nothing ran to its end
                metrics.reconciled(kind, result, time.monotonic() - started, requeue=requeue is not None)
            metrics.queue_depth(len(self))
            self.reconciles += 1
            semaphore.release()
            if self._wakeup is not None:
                self._wakeup.set()

    def _finish(self, key: Key) -> None:
        self._active.discard(key)
        if key in self._dirty:
            self._dirty.discard(key)
            self.add(key)


def _on(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def show_key(key: Key) -> str:
    """``promise/postgresql``, ``request/default/team-a-db``: how logs name what a reconcile is for."""
    parts = [str(part) for part in key[1:] if part]
    if key and key[0] == "request" and len(key) >= 6:
        parts = [str(key[3]), *(str(p) for p in key[4:] if p)]
    return f"{key[0]}/" + "/".join(parts) if parts else str(key[0])
