"""Leader election with a ``coordination.k8s.io/v1`` Lease: one active operator, others on standby.

kopf's own peering pauses only its watch streams (not this operator's work queue) and freezes every
replica that shares a priority, so kratix-py elects a leader the way controller-runtime does: a
replica runs the operator only while it holds the Lease, renews it every few seconds, and stops at
once when a renewal fails (the Deployment restarts it as a standby). A replica that stops cleanly
gives the Lease up, so the standby takes over without waiting for it to expire.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
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

    def try_acquire(self, now: datetime | None = None) -> bool:
        """Take the Lease if it is free, expired or already ours; True if we hold it now."""
        now = now or datetime.now(UTC)
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
        renewed = parse_timestamp(spec.get("renewTime")) or parse_timestamp(spec.get("acquireTime"))
        duration = timedelta(
            seconds=int(spec.get("leaseDurationSeconds") or self.lease_duration.total_seconds())
        )
        if holder and holder != self.identity and renewed is not None and renewed + duration > now:
            return False  # someone else holds a live Lease
        ours = holder == self.identity
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
        lease["spec"]["holderIdentity"] = ""
        try:
            self.kube.replace(LEASES, lease)
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
