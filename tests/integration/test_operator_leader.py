"""Leader election: one replica reconciles, another stands by and takes over when the first goes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.operator import resources as r
from kratix_py.operator.leader import LEASES, LeaderElection
from kratix_py.testing.fixtures import wait_for

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    """A replica's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def election(kube: k.Kube, identity: str, clock: Clock, wall: datetime = NOW) -> LeaderElection:
    return LeaderElection(
        kube,
        "default",
        name="test-lease",
        identity=identity,
        lease_duration=timedelta(seconds=15),
        clock=lambda: wall + timedelta(seconds=clock()),  # wall time moves with the replica's clock
        monotonic=clock,
    )


def test_expiry_is_judged_by_the_observers_own_clock_not_the_holders(local_platform):
    """The standby's wall clock is an hour ahead: it must still wait a whole lease duration of
    unchanged record on its own clock, never compare the holder's renewTime with its time."""
    kube = k.Kube(local_platform.api_client())
    first_clock, second_clock = Clock(), Clock()
    first = election(kube, "first", first_clock)
    second = election(kube, "second", second_clock, wall=NOW + timedelta(hours=1))
    assert first.try_acquire()
    second_clock.now = 100.0
    assert not second.try_acquire(), "first sight of a held Lease: live"
    second_clock.now = 110.0
    assert not second.try_acquire(), "unchanged for 10s of a 15s Lease: still live"
    first_clock.now = 10.0
    assert first.try_acquire(), "the holder renews"
    second_clock.now = 120.0
    assert not second.try_acquire(), "renewed since: the 15s start again from now"
    second_clock.now = 134.0
    assert not second.try_acquire()
    second_clock.now = 136.0
    assert second.try_acquire(), "unchanged for 16s on the observer's clock: expired, taken over"
    lease = kube.get(LEASES, "test-lease", "default")
    assert lease["spec"]["holderIdentity"] == "second" and lease["spec"]["leaseTransitions"] == 1
    first_clock.now = 40.0
    assert not first.try_acquire(), "the old holder sees the new record and stands by"


def test_a_released_lease_is_free_at_once(local_platform):
    kube = k.Kube(local_platform.api_client())
    first_clock, second_clock = Clock(), Clock()
    first, second = election(kube, "first", first_clock), election(kube, "second", second_clock)
    assert first.try_acquire()
    assert not second.try_acquire()
    first.release()
    assert second.try_acquire(), "a released Lease (no holder) is taken without waiting"


def test_a_standby_operator_takes_over_when_the_leader_stops(local_platform):
    kube = k.Kube(local_platform.api_client())
    settings = settings_for(str(local_platform.kubeconfig))
    leader = RunningOperator(settings).start()
    standby = RunningOperator(settings).start()
    try:
        wait_for(lambda: leader.operator.leading, what="the first operator to lead")
        assert not standby.operator.leading and standby.operator.queue.paused
        kube.create(
            r.PROMISES,
            {"apiVersion": c.API_VERSION, "kind": "Promise", "metadata": {"name": "first"}, "spec": {}},
        )
        wait_for(
            lambda: (kube.get(r.PROMISES, "first") or {}).get("status", {}).get("status") == "Available",
            what="the leader",
        )
        assert standby.operator.queue.reconciles == 0, "the standby did not act"

        leader.stop()  # gives the Lease up
        wait_for(lambda: standby.operator.leading, timeout=15, what="the standby to take over")
        kube.create(
            r.PROMISES,
            {"apiVersion": c.API_VERSION, "kind": "Promise", "metadata": {"name": "second"}, "spec": {}},
        )
        wait_for(
            lambda: (kube.get(r.PROMISES, "second") or {}).get("status", {}).get("status") == "Available",
            what="the new leader",
        )
    finally:
        standby.stop()
        leader.stop()


def test_a_leader_that_loses_its_lease_writes_nothing_more(local_platform):
    """Another replica takes the Lease over (as after a partition): the old leader's fence closes
    and its queue stops before it writes anything else."""
    import time

    import pytest

    from kratix_py.operator.queue import NotLeading

    kube = k.Kube(local_platform.api_client())
    with RunningOperator(settings_for(str(local_platform.kubeconfig))) as running:
        operator = running.operator
        wait_for(lambda: operator.leading, what="the operator to lead")
        kube.create(
            r.PROMISES,
            {"apiVersion": c.API_VERSION, "kind": "Promise", "metadata": {"name": "before"}, "spec": {}},
        )
        wait_for(
            lambda: (kube.get(r.PROMISES, "before") or {}).get("status", {}).get("status") == "Available",
            what="the leader to reconcile",
        )
        lease = kube.get(LEASES, "kratix-py-operator", c.SYSTEM_NAMESPACE)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        lease["spec"].update(holderIdentity="another-replica", renewTime=stamp, acquireTime=stamp)
        kube.replace(LEASES, lease)
        wait_for(lambda: not operator.leading, timeout=15, what="the old leader to notice")
        assert operator.queue.paused
        with pytest.raises(NotLeading):
            operator.kube.patch(r.PROMISES, "before", {"metadata": {"labels": {"x": "y"}}})
        kube.create(
            r.PROMISES,
            {"apiVersion": c.API_VERSION, "kind": "Promise", "metadata": {"name": "after"}, "spec": {}},
        )
        time.sleep(2)
        after = kube.get(r.PROMISES, "after") or {}
        assert not after.get("status") and not after["metadata"].get("finalizers"), "nothing written"
        assert "x" not in ((kube.get(r.PROMISES, "before") or {})["metadata"].get("labels") or {})
