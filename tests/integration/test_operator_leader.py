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


def election(kube: k.Kube, identity: str) -> LeaderElection:
    return LeaderElection(
        kube, "default", name="test-lease", identity=identity, lease_duration=timedelta(seconds=15)
    )


def test_a_live_lease_is_exclusive_an_expired_or_released_one_is_taken_over(local_platform):
    kube = k.Kube(local_platform.api_client())
    first, second = election(kube, "first"), election(kube, "second")
    assert first.try_acquire(NOW)
    assert not second.try_acquire(NOW + timedelta(seconds=10)), "the Lease is live"
    assert first.try_acquire(NOW + timedelta(seconds=10)), "the holder renews"
    assert second.try_acquire(NOW + timedelta(seconds=26)), "an expired Lease is taken over"
    lease = kube.get(LEASES, "test-lease", "default")
    assert lease["spec"]["holderIdentity"] == "second" and lease["spec"]["leaseTransitions"] == 1
    assert not first.try_acquire(NOW + timedelta(seconds=27))
    second.release()
    assert first.try_acquire(NOW + timedelta(seconds=28)), "a released Lease is free at once"


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
