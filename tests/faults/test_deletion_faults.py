"""Deletion in every order, a Secret rotated during deletion, and suspend/retryAfter (issue 11).

Each case ends with the suite's invariants: nothing stuck with a finalizer, the requests' files
gone from the store when it can still be reached, no empty commit, no credential anywhere.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.operator import resources as r
from kratix_py.testing.fixtures import wait_for
from tests.faults.harness import PROMISE, REDIS, FaultSystem, condition, log_lines

NAMES = ("alpha", "beta", "gamma")


def _converged(system: FaultSystem, *, delete_pipeline: bool = False) -> None:
    system.install(delete_pipeline=delete_pipeline)
    for name in NAMES:
        system.request(name)
    system.check_converged()


def _delete_requests(system: FaultSystem) -> None:
    for name in NAMES:
        system.kube.delete(REDIS, name, "default")


def _blocked(system: FaultSystem, what: str) -> None:
    """Every request waits with its finalizers and says why, instead of dropping its files."""
    for name in NAMES:
        wait_for(
            lambda n=name: (
                (o := system.kube.get(REDIS, n, "default"))
                and o["metadata"].get("finalizers")
                and what in str((o.get("status") or {}).get("conditions"))
            ),
            timeout=60,
            what=f"request {name} to wait on {what}",
        )
    files = [p for p in system.tree() if p.startswith(f"worker/resources/default/{PROMISE}/")]
    assert len(files) == len(NAMES), "the files stay owned while cleanup cannot run"


def test_deleting_the_promise_with_its_requests(faulty, caplog):
    system, _ = faulty
    caplog.set_level(logging.INFO)
    _converged(system)
    system.kube.delete(r.PROMISES, PROMISE)
    system.check_gone()
    wait_for(lambda: system.kube.get(r.PROMISES, PROMISE) is None, timeout=60, what="the Promise to go")
    system.check_no_credentials(log_lines(caplog.records))


def test_deleting_the_destination_first(faulty, caplog):
    system, _ = faulty
    caplog.set_level(logging.INFO)
    _converged(system)
    system.kube.delete(r.DESTINATIONS, "worker")
    wait_for(lambda: system.kube.get(r.DESTINATIONS, "worker") is None, timeout=60, what="the Destination")
    _delete_requests(system)
    system.check_gone(files_removed=False)  # nothing can say where the files went: they stay
    system.check_no_credentials(log_lines(caplog.records))


@pytest.mark.parametrize("first", ["store", "secret"])
def test_deleting_the_store_or_its_secret_first_blocks_cleanup_until_it_is_back(faulty, caplog, first):
    system, _ = faulty
    caplog.set_level(logging.INFO)
    _converged(system)
    if first == "store":
        system.kube.delete(r.GIT_STATE_STORES, "git")
    else:
        system.kube.delete(k.SECRETS, "git-creds", "default")
    _delete_requests(system)
    _blocked(system, "CleanupBlocked")
    if first == "store":
        system.create_store()
    else:
        system.create_secret()
    system.check_gone()
    system.check_no_credentials(log_lines(caplog.records))


def test_a_secret_rotated_during_deletion(faulty, caplog):
    """Rotation by delete and re-create while the requests are being deleted."""
    system, _ = faulty
    caplog.set_level(logging.INFO)
    _converged(system)
    rotated = threading.Event()

    def rotate() -> None:
        for _ in range(3):
            system.kube.delete(k.SECRETS, "git-creds", "default")
            time.sleep(0.3)
            system.create_secret()
            time.sleep(0.2)
        rotated.set()

    rotator = threading.Thread(target=rotate, daemon=True)
    rotator.start()
    _delete_requests(system)
    rotator.join(30)
    assert rotated.is_set()
    system.check_gone()
    system.check_no_credentials(log_lines(caplog.records))


def test_a_failing_delete_pipeline_holds_deletion_until_it_succeeds(faulty, teardown, caplog):
    system, _ = faulty
    caplog.set_level(logging.INFO)
    _converged(system, delete_pipeline=True)
    teardown.failing = True
    _delete_requests(system)
    for name in NAMES:
        wait_for(
            lambda n=name: (
                condition(system.kube.get(REDIS, n, "default"), c.CONDITION_DELETE_WORKFLOW_COMPLETED).get(
                    "reason"
                )
                == "DeleteWorkflowFailed"
            ),
            timeout=60,
            what=f"request {name} to report its failing delete pipeline",
        )
    assert len([p for p in system.tree() if p.startswith(f"worker/resources/default/{PROMISE}/")]) == 3
    teardown.failing = False
    for name in NAMES:  # the documented way to rerun it now rather than after the backoff
        system.kube.patch(
            REDIS, name, {"metadata": {"labels": {c.LABEL_MANUAL_RECONCILIATION: "true"}}}, "default"
        )
    system.check_gone()
    system.check_no_credentials(log_lines(caplog.records))


def test_suspend_and_retry_after_from_a_pipeline_under_write_faults(faulty, caplog):
    system, proxy = faulty
    caplog.set_level(logging.INFO)
    system.install()
    system.runs.control["retried"] = [{"retryAfter": "1s", "message": "not yet"}] * 2
    system.runs.control["held"] = [{"suspend": True, "message": "approve me"}]
    for method in ("POST", "PATCH", "PUT"):
        for status in (409, 503):
            proxy.inject(method, r"^/api", status, count=2)
    system.request("retried")
    system.request("held")
    wait_for(lambda: system.runs.paused["retried"] == 2, timeout=60, what="both retries to run")
    held = wait_for(
        lambda: (
            (o := system.kube.get(REDIS, "held", "default"))
            and condition(o, c.CONDITION_RECONCILED).get("reason") == "WorkflowSuspended"
            and o
        ),
        timeout=60,
        what="the suspended request to say so",
    )
    assert held["metadata"]["labels"].get(c.LABEL_WORKFLOW_SUSPENDED) == "true"
    time.sleep(2)
    assert system.runs.seen[("held", "small")] == 0, "a suspended workflow does not carry on by itself"
    system.kube.patch(REDIS, "held", {"metadata": {"labels": {c.LABEL_WORKFLOW_SUSPENDED: None}}}, "default")
    system.check_converged()
    assert system.runs.paused == {"retried": 2, "held": 1}
    system.delete_all()
    system.check_no_credentials(log_lines(caplog.records))
