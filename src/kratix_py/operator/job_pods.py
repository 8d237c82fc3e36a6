"""Pod TTL: the pods of a finished pipeline Job are deleted a while after it finished.

Kratix's ``workflows.jobOptions.podTTLSecondsAfterFinished`` (kratix-behaviour.md §2.12). The Job
itself stays, so the workflow history and ``numberOfJobsToKeep`` pruning are unchanged; only its
pods (and their logs) go. Kubernetes' own ``ttlSecondsAfterFinished`` would delete the Job too,
which is why this is a controller and not a field on the Job.

Cost: each Job is looked at when it changes (a watch event) and once more when its TTL is due
(the queue's delay, not a sleep). Its pods are found by the ``controller-uid`` label the Job
controller puts on them, so one list per Job, never a list of every pod. Once they are deleted
the Job carries :data:`~kratix_py.contract.ANNOTATION_PODS_REMOVED_AT`: after a restart such a
Job costs no API call at all, and ``kratix-py trace`` and failure messages can say why a log is
missing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.api.meta import format_timestamp
from kratix_py.core.jobs import finished_at, pods_removed
from kratix_py.operator.queue import Key
from kratix_py.operator.reconciler import Clock, Reconciler

log = logging.getLogger(__name__)

POD_JOB_NAME_LABEL = "job-name"
"""The label the Job controller sets on every pod of a Job (with the Job's name)."""
POD_JOB_UID_LABEL = "controller-uid"
"""The label the Job controller sets on every pod of a Job (with the Job's uid): exact, where
``job-name`` could also match pods of an older Job of the same name."""


def job_pods_key(namespace: str, name: str) -> Key:
    return ("jobpods", namespace, name)


def waits_for_ttl(job: Mapping[str, Any]) -> bool:
    """Whether a Job is one whose pods the TTL will remove: a finished pipeline Job not yet done."""
    labels = (job.get("metadata") or {}).get("labels") or {}
    return c.LABEL_WORKFLOW_TYPE in labels and not pods_removed(job) and finished_at(job) is not None


class JobPodReaper(Reconciler[dict[str, Any]]):
    """Deletes a finished pipeline Job's pods once ``ttl`` has passed since it finished."""

    resource = k.JOBS

    def __init__(self, kube: k.Kube, ttl: timedelta, *, clock: Clock | None = None) -> None:
        super().__init__(kube, clock=clock)
        self.ttl = ttl

    def due(self, job: Mapping[str, Any]) -> datetime:
        """When the pods of a finished Job are to go (call only when :func:`waits_for_ttl`)."""
        finished = finished_at(job)
        assert finished is not None
        return finished + self.ttl

    def reconcile(self, key: Key, obj: dict[str, Any], parsed: dict[str, Any]) -> timedelta | None:
        if not waits_for_ttl(obj):
            return None
        finished = finished_at(obj)
        assert finished is not None  # waits_for_ttl said so
        left = self.due(obj) - self.clock()
        if left > timedelta(0):
            return left
        meta = obj["metadata"]
        namespace, name = str(meta["namespace"]), str(meta["name"])
        # Both labels: the cache indexes pods by job-name, and the uid leaves out an older Job's.
        labels = {POD_JOB_NAME_LABEL: name, POD_JOB_UID_LABEL: str(meta["uid"])}
        pods = self.kube.list(k.PODS, namespace, labels=labels)
        for pod in pods:
            self.kube.delete(k.PODS, pod["metadata"]["name"], namespace)
        # Marked only after every delete went through: a failure above retries the whole step.
        self.kube.patch(
            k.JOBS,
            name,
            {"metadata": {"annotations": {c.ANNOTATION_PODS_REMOVED_AT: format_timestamp(self.clock())}}},
            namespace,
        )
        log.info(
            "deleted %d pod(s) of Job %s/%s, finished %s ago (%s)",
            len(pods), namespace, name, _seconds(self.clock() - finished), c.POD_TTL_FIELD,
        )  # fmt: skip
        return None


def _seconds(delta: timedelta) -> str:
    return f"{delta.total_seconds():.0f}s"
