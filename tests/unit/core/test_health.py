"""healthStatus aggregation (Kratix's healthrecord_controller priorities), pure."""

from __future__ import annotations

from kratix_py.core.health import health_status, is_for


def rec(name: str, state: str, request: str = "r1", promise: str = "redis") -> dict:
    return {
        "metadata": {"name": name, "namespace": "ns"},
        "data": {
            "promiseRef": {"name": promise},
            "resourceRef": {"name": request, "namespace": "ns"},
            "state": state,
        },
    }


def test_the_worst_state_wins_and_records_are_in_name_order():
    status = health_status([rec("b", "healthy"), rec("a", "degraded"), rec("c", "ready")])
    assert status is not None and status["state"] == "degraded"
    assert [r["source"]["name"] for r in status["healthRecords"]] == ["a", "b", "c"]
    assert health_status([rec("a", "ready"), rec("b", "unhealthy")])["state"] == "unhealthy"  # type: ignore[index]
    assert health_status([rec("a", "unknown"), rec("b", "healthy")])["state"] == "unknown"  # type: ignore[index]
    assert health_status([]) is None


def test_a_record_is_for_its_own_request_of_its_own_promise_only():
    assert is_for(rec("a", "ready"), "redis", "ns", "r1")
    assert not is_for(rec("a", "ready"), "redis", "ns", "r2")
    assert not is_for(rec("a", "ready", promise="pg"), "redis", "ns", "r1")
    assert not is_for(rec("a", "ready"), "redis", "other", "r1")
