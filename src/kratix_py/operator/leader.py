"""Leader election with a ``coordination.k8s.io/v1`` Lease: one active operator, others on standby.

kopf's own peering pauses only its watch streams and freezes every replica that shares a priority,
so kratix-py elects a leader the way client-go does:

- **Expiry is judged by the observer's own clock.** A standby remembers when (on its monotonic
  clock) it last saw the Lease record change; the holder's ``renewTime`` is never compared with
  the local time, so replicas with skewed clocks cannot both believe they lead.
- **The holder gives up before anyone may take over.** It renews every ``lease_duration / 3``
  and stops leading once ``renew_deadline`` (shorter than the duration) passes without a
  successful renewal, while a standby waits a full ``lease_duration`` of unchanged record.
- **Losing the Lease stops every writer first** (:mod:`kratix_py.operator.app`): the write fence
  closes, so no API write and no state-store push leaves this replica after that moment.
- A replica that stops cleanly gives the Lease up, so the standby takes over at once.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kratix_py import kube as k
from kratix_py.api.meta import parse_timestamp

log = logging.getLogger(__name__)

LEASES = k.Resource("coordination.k8s.io", "v1", "leases", kind="Lease")


def default_identity() -> str:
    """The pod name (hostname) plus a random suffix: unique even across restarts of one pod."""
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}_{uuid.uuid4().hex[:8]}"


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class LeaderElection:
    """Acquire, renew and release one Lease for ``identity``."""

    kube: k.Kube
    namespace: str
    name: str = "kratix-py-operator"
    identity: str = field(default_factory=default_identity)
    lease_duration: timedelta = timedelta(seconds=15)
    renew_deadline: timedelta = timedelta(seconds=10)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    """Wall clock, only for the times written into the Lease (people read them)."""
    monotonic: Callable[[], float] = field(default=time.monotonic)
    """The clock expiry is judged by."""
    _observed: tuple[Any, ...] | None = field(default=None, init=False)
    _observed_at: float = field(default=0.0, init=False)

    def try_acquire(self) -> bool:
        """Take the Lease if it is free, expired or already ours; True if we hold it now."""
        now = self.clock()
        lease = self.kube.get(LEASES, self.name, self.namespace)
        if lease is None:
            try:
                self.kube.create(LEASES, self._lease(now, acquired=now, transitions=0))
                return True
            except k.KubeError as error:
                if error.conflict:
                    return False  # another replica created it first
                raise
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        # The resourceVersion changes with every renewal, even one that writes the same renewTime.
        record = (lease["metadata"].get("resourceVersion"), holder, spec.get("renewTime"))
        if record != self._observed:
            self._observed, self._observed_at = record, self.monotonic()
        duration = float(spec.get("leaseDurationSeconds") or self.lease_duration.total_seconds())
        ours = holder == self.identity
        if holder and not ours and self.monotonic() - self._observed_at < duration:
            return False  # someone else holds a Lease we have seen renewed within its duration
        body = self._lease(
            now,
            acquired=parse_timestamp(spec.get("acquireTime")) if ours else now,
            transitions=int(spec.get("leaseTransitions") or 0) + (0 if ours else 1),
        )
        body["metadata"]["resourceVersion"] = lease["metadata"]["resourceVersion"]
        try:
            self.kube.replace(LEASES, body)
        except k.KubeError as error:
            if error.conflict:
                return False  # someone else renewed or took it in between
            raise
        if not ours:
            log.info("became the leader (Lease %s/%s, previous holder %r)", self.namespace, self.name, holder)
        return True

    def release(self) -> None:
        """Give the Lease up if we hold it, so a standby takes over at once."""
        lease = self.kube.get(LEASES, self.name, self.namespace)
        if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
            return
        body = {**lease, "spec": {**lease["spec"], "holderIdentity": ""}}
        try:
            self.kube.replace(LEASES, body)
        except k.KubeError as error:
            log.warning("could not release the Lease: %s", error.message)

    def _lease(self, now: datetime, *, acquired: datetime | None, transitions: int) -> dict[str, Any]:
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": int(self.lease_duration.total_seconds()),
                "acquireTime": _time(acquired or now),
                "renewTime": _time(now),
                "leaseTransitions": transitions,
            },
        }
