"""HealthRecords in the request's status.healthStatus (modelled on Kratix's healthchecks system test).

Kratix's suite writes HealthRecords for a request and checks the aggregate state and the records
in the request's status; these tests add what users report stuck in Kratix: deleting a record, the
request or the Promise in any order never leaves a finalizer behind.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.operator import resources as r
from kratix_py.testing.fixtures import ADAPTER_IMAGE, wait_for
from tests.integration.test_operator_fast import REDIS, install, promise_body, request_body


def record(name: str, state: str, *, request: str = "my-redis", finalizer: bool = False, **data: Any) -> dict:
    body: dict[str, Any] = {
        "apiVersion": "platform.kratix.io/v1alpha1",
        "kind": "HealthRecord",
        "metadata": {"name": name, "namespace": "default"},
        "data": {
            "promiseRef": {"name": "redis"},
            "resourceRef": {"name": request, "namespace": "default"},
            "state": state,
            "lastRun": 1767225600,
            **data,
        },
    }
    if finalizer:  # what a record written while Kratix ran the platform carries
        body["metadata"]["finalizers"] = [c.FINALIZER_HEALTH_RECORD_CLEANUP]
    return body


@pytest.fixture
def kube(platform_factory) -> Iterator[k.Kube]:
    platform = platform_factory(pods="fast")
    client = k.Kube(platform.api_client())
    with RunningOperator(settings_for(str(platform.kubeconfig), pipeline_adapter_image=ADAPTER_IMAGE)):
        install(client, promise_body())
        client.create(REDIS, request_body())
        yield client


def health(kube: k.Kube, state: str | None, count: int) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        obj = kube.get(REDIS, "my-redis", "default") or {}
        status = (obj.get("status") or {}).get("healthStatus")
        if state is None:
            return {"gone": True} if status is None else None
        if status and status["state"] == state and len(status["healthRecords"]) == count:
            return status
        return None

    return wait_for(check, what=f"healthStatus {state} with {count} record(s)")


@pytest.mark.both_servers
def test_records_aggregate_to_the_worst_state_and_leave_when_deleted(kube):
    kube.create(r.HEALTH_RECORDS, record("redis-ping", "healthy", details={"latencyMs": 3}))
    status = health(kube, "healthy", 1)
    assert status["healthRecords"] == [
        {
            "state": "healthy",
            "lastRun": 1767225600,
            "source": {"name": "redis-ping", "namespace": "default"},
            "details": {"latencyMs": 3},
        }
    ]
    kube.create(r.HEALTH_RECORDS, record("redis-disk", "degraded"))
    health(kube, "degraded", 2)
    # The Warning Event follows the status write the line above waited for: wait for it too.
    wait_for(
        lambda: any(
            e.get("reason") == "HealthRecord" and e.get("type") == "Warning"
            for e in kube.list(k.EVENTS, "default")
        ),
        what="a Warning Event for the degraded record",
    )
    assert kube.get(r.HEALTH_RECORDS, "redis-disk", "default")["metadata"].get("finalizers") in (None, [])

    kube.delete(r.HEALTH_RECORDS, "redis-disk", "default")
    health(kube, "healthy", 1)
    kube.delete(r.HEALTH_RECORDS, "redis-ping", "default")
    health(kube, None, 0)


def test_kratix_finalizers_never_stick_whatever_goes_first(kube):
    kube.create(r.HEALTH_RECORDS, record("kratix-written", "unhealthy", finalizer=True))
    kube.create(r.HEALTH_RECORDS, record("orphan-later", "ready", finalizer=True))
    health(kube, "unhealthy", 2)
    kube.delete(r.HEALTH_RECORDS, "kratix-written", "default")
    wait_for(lambda: kube.get(r.HEALTH_RECORDS, "kratix-written", "default") is None, what="the record to go")
    health(kube, "ready", 1)

    # The request goes first: its remaining record can still be deleted.
    kube.delete(REDIS, "my-redis", "default")
    wait_for(lambda: kube.get(REDIS, "my-redis", "default") is None, what="the request to go")
    kube.delete(r.HEALTH_RECORDS, "orphan-later", "default")
    wait_for(lambda: kube.get(r.HEALTH_RECORDS, "orphan-later", "default") is None, what="the orphan to go")


def test_a_record_for_a_missing_request_is_logged_with_the_fix(kube, caplog):
    with caplog.at_level(logging.WARNING, logger="kratix_py.operator.health"):
        kube.create(r.HEALTH_RECORDS, record("typo", "healthy", request="my-rediss"))
        wait_for(
            lambda: any("my-rediss, which does not exist" in m.getMessage() for m in caplog.records),
            what="the warning",
        )
    message = next(m.getMessage() for m in caplog.records if "my-rediss" in m.getMessage())
    assert "HealthRecord typo" in message and "fix data.promiseRef / data.resourceRef" in message
    health(kube, None, 0)
