"""The operator's work queue: one reconcile per key at a time, coalescing, requeue, backoff."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta

from kratix_py.operator.queue import WorkQueue


def run_queue(queue: WorkQueue, until, timeout: float = 5.0) -> None:
    async def main() -> None:
        task = asyncio.create_task(queue.run())
        deadline = time.monotonic() + timeout
        while not until() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        queue.stop()
        await task

    asyncio.run(main())


def test_events_during_a_reconcile_coalesce_into_one_follow_up():
    calls: list[float] = []
    concurrent = 0
    max_concurrent = 0
    lock = threading.Lock()

    def reconcile(key):
        nonlocal concurrent, max_concurrent
        with lock:
            concurrent += 1
            max_concurrent = max(max_concurrent, concurrent)
        if len(calls) == 0:
            for _ in range(5):
                queue.add(("thing", "a"))  # arrive while the first reconcile runs
        time.sleep(0.05)
        calls.append(time.monotonic())
        with lock:
            concurrent -= 1
        return None

    queue = WorkQueue({"thing": reconcile}, workers=4)
    queue.add(("thing", "a"))
    run_queue(queue, lambda: len(calls) >= 2 and queue.idle(), timeout=2)
    assert len(calls) == 2
    assert max_concurrent == 1


def test_requeue_after_calls_again_later():
    calls: list[float] = []

    def reconcile(key):
        calls.append(time.monotonic())
        return timedelta(seconds=0.1) if len(calls) == 1 else None

    queue = WorkQueue({"thing": reconcile})
    queue.add(("thing", "a"))
    run_queue(queue, lambda: len(calls) >= 2)
    assert len(calls) == 2 and calls[1] - calls[0] >= 0.09


def test_an_exception_is_retried_with_backoff_not_lost():
    calls: list[float] = []

    def reconcile(key):
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise RuntimeError("transient")
        return None

    queue = WorkQueue({"thing": reconcile}, base_backoff=0.05)
    queue.add(("thing", "a"))
    run_queue(queue, lambda: len(calls) >= 3)
    assert len(calls) == 3
    # Each retry waits at least its backoff (0.05 s, then 0.1 s); a loaded machine can only add to
    # a wait, so lower bounds are what can be asserted.
    assert calls[1] - calls[0] >= 0.05 - 0.005
    assert calls[2] - calls[1] >= 0.1 - 0.005


def test_different_keys_run_concurrently():
    started = threading.Barrier(2, timeout=2)
    done: list[str] = []

    def reconcile(key):
        started.wait()  # both must be inside at once, or this times out
        done.append(key[1])
        return None

    queue = WorkQueue({"thing": reconcile}, workers=2)
    queue.add(("thing", "a"))
    queue.add(("thing", "b"))
    run_queue(queue, lambda: len(done) == 2)
    assert sorted(done) == ["a", "b"]


def test_reconciles_are_counted_under_controller_runtime_names():
    from prometheus_client import REGISTRY

    def value(metric: str, /, **labels: str) -> float:
        return REGISTRY.get_sample_value(metric, labels) or 0.0

    calls: list[int] = []

    def reconcile(key):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return timedelta(seconds=30) if len(calls) == 2 else None

    before = {
        "errors": value("controller_runtime_reconcile_errors_total", controller="metered"),
        "error": value("controller_runtime_reconcile_total", controller="metered", result="error"),
        "after": value("controller_runtime_reconcile_total", controller="metered", result="requeue_after"),
        "retries": value("workqueue_retries_total", name="kratix-py"),
        "time": value("controller_runtime_reconcile_time_seconds_count", controller="metered"),
        "old": value("kratix_py_reconciles_total", kind="Metered", result="error"),
    }
    queue = WorkQueue({"Metered": reconcile}, base_backoff=0.01)
    queue.add(("Metered", "a"))
    run_queue(queue, lambda: len(calls) >= 2, timeout=2)
    assert value("controller_runtime_reconcile_errors_total", controller="metered") == before["errors"] + 1
    assert (
        value("controller_runtime_reconcile_total", controller="metered", result="error")
        == before["error"] + 1
    )
    assert (
        value("controller_runtime_reconcile_total", controller="metered", result="requeue_after")
        == before["after"] + 1
    )
    assert value("workqueue_retries_total", name="kratix-py") == before["retries"] + 1
    assert (
        value("controller_runtime_reconcile_time_seconds_count", controller="metered") == before["time"] + 2
    )
    assert value("kratix_py_reconciles_total", kind="Metered", result="error") == before["old"] + 1
    assert REGISTRY.get_sample_value("workqueue_depth", {"name": "kratix-py"}) is not None
