"""kratix_py.kube against the local platform's API: apply is create, patch-if-different, or nothing."""

from __future__ import annotations

import pytest

from kratix_py import kube as k


@pytest.fixture
def kube(local_platform) -> k.Kube:
    return k.Kube(local_platform.api_client())


def config_map(data: dict[str, str], labels: dict[str, str] | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "default", "labels": labels or {"app": "x"}},
        "data": data,
    }


def test_apply_creates_then_leaves_an_unchanged_object_alone(kube):
    created = kube.apply(k.CONFIGMAPS, config_map({"a": "1"}))
    again = kube.apply(k.CONFIGMAPS, config_map({"a": "1"}))
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_apply_patches_what_differs_and_keeps_what_others_added(kube):
    kube.apply(k.CONFIGMAPS, config_map({"a": "1"}))
    kube.patch(k.CONFIGMAPS, "settings", {"metadata": {"labels": {"added-by": "someone"}}}, "default")
    updated = kube.apply(k.CONFIGMAPS, config_map({"a": "2"}))
    assert updated["data"] == {"a": "2"}
    assert updated["metadata"]["labels"] == {"app": "x", "added-by": "someone"}


def test_api_errors_carry_the_servers_message(kube):
    with pytest.raises(k.KubeError) as error:
        kube.create(k.CONFIGMAPS, {**config_map({}), "metadata": {"name": "x", "namespace": "missing"}})
    assert error.value.not_found and "missing" in error.value.message
    assert kube.get(k.CONFIGMAPS, "nothing", "default") is None
    assert kube.delete(k.CONFIGMAPS, "nothing", "default") is False


def test_a_429_is_retried_after_the_servers_wait_with_one_log_line_and_no_traceback(
    local_platform, kube, caplog
):
    """kube-apiserver answers 429 while a kind's watch cache starts (after start-up, or a new CRD):
    the call waits Retry-After and goes through; throttling is logged, never as a traceback."""
    kube.apply(k.CONFIGMAPS, config_map({"a": "1"}))
    local_platform.emulator.inject_fault("GET", r"/configmaps/settings$", 429, count=1)
    with caplog.at_level("DEBUG", logger="kratix_py.kube"):
        found = kube.get(k.CONFIGMAPS, "settings", "default")
    assert found is not None and found["data"] == {"a": "1"}
    throttled = [r for r in caplog.records if "HTTP 429" in r.getMessage()]
    assert len(throttled) == 1 and throttled[0].exc_info is None
    assert "retry 1 of" in throttled[0].getMessage()


def test_a_429_that_lasts_fails_with_the_servers_status_once_the_retries_are_spent(local_platform):
    kube = k.Kube(local_platform.api_client(), throttle_retries=1)
    local_platform.emulator.inject_fault("POST", r"/configmaps$", 429, count=2, message="slow down")
    with pytest.raises(k.KubeError) as error:
        kube.create(k.CONFIGMAPS, config_map({"a": "1"}))
    assert error.value.status == 429 and error.value.message == "slow down"
    assert kube.get(k.CONFIGMAPS, "settings", "default") is None, "a refused create stored nothing"


def test_a_write_waiting_out_a_429_is_not_sent_once_leadership_is_lost(local_platform):
    """The fence is asked again before a throttled write is sent again: a replica whose Lease was
    lost while the call waited for its retry writes nothing more."""
    asked: list[str] = []

    class NotLeading(Exception):
        pass

    def fence() -> None:
        asked.append("fence")
        if len(asked) > 1:  # leading for the first send only: the Lease goes during the wait
            raise NotLeading

    kube = k.Kube(local_platform.api_client(), fence=fence)
    local_platform.emulator.inject_fault("POST", r"/configmaps$", 429, count=1)
    with pytest.raises(NotLeading):
        kube.create(k.CONFIGMAPS, config_map({"a": "1"}))
    assert asked == ["fence", "fence"]
    assert kube.get(k.CONFIGMAPS, "settings", "default") is None, "the retry was not sent"


@pytest.mark.parametrize(
    ("header", "body", "seconds"),
    [
        ("3", b"", 3.0),
        (None, b'{"kind":"Status","code":429,"details":{"retryAfterSeconds":2}}', 2.0),
        (None, b"", 1.0),
        ("600", b"", 10.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", b"not json", 1.0),
    ],
)
def test_retry_after_reads_the_header_then_the_status_details(header, body, seconds):
    assert k.retry_after(header, body) == seconds
