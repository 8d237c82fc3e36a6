"""Faults on the operator's API writes: 409, 500 and 503 answered by a proxy (issue 11)."""

from __future__ import annotations

import logging
import time

from kratix_py import kube as k
from tests.faults.harness import FIGURES, log_lines


def test_409s_on_job_create_are_checked_again_and_the_pipeline_runs(faulty):
    # Issue 11, item 8: a 409 was taken for "already started" and nothing ran for 10 hours
    # (each reconcile that changes the status wakes the next one; four 409s outlast that).
    system, proxy = faulty
    system.install()
    jobs = proxy.inject("POST", r"/apis/batch/v1/namespaces/default/jobs", 409, count=4)
    started = time.monotonic()
    system.request("one")
    system.check_converged(timeout=60)
    assert jobs.injected == 4
    assert time.monotonic() - started < 60
    assert system.runs.seen[("one", "small")] == 1
    assert len(system.kube.list(k.JOBS, "default")) == 1, "one Job: the 409s created none"


def test_bursts_of_409_500_503_on_every_write_converge(faulty, caplog):
    system, proxy = faulty
    caplog.set_level(logging.INFO)
    system.install()
    # From here on, every kind of write the operator makes meets a burst of each error.
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for status in (409, 500, 503):
            proxy.inject(method, r"^/api", status, count=3)
    for index in range(6):
        system.request(f"burst-{index}")
    system.check_converged()
    for index in range(0, 6, 2):
        system.request(f"burst-{index}", "large")
    # A second round of bursts for the updates and the deletions.
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for status in (409, 500, 503):
            proxy.inject(method, r"^/api", status, count=2)
    system.check_converged()
    system.delete_all()
    injected = proxy.total_injected
    assert injected >= 24, proxy.injected
    system.check_no_credentials(log_lines(caplog.records))
    assert FIGURES["invariants held"] > 0
