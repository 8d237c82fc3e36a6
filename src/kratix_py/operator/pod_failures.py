"""What a failed pipeline pod says, read while the pod is still there and kept on its Job.

A pipeline pod with ``restartPolicy: OnFailure`` (Kratix's default) never reaches phase
``Failed``: the kubelet restarts the failed container in the same pod. Once the restarts reach the
Job's ``backoffLimit`` the Job controller deletes the pod as an *active* pod, and it writes the
Job's ``Failed`` condition only after the pod is gone (``deleteActivePods`` in the Job
controller's ``syncJob``). An operator that reads the pods when the Job has failed therefore finds
none. So the operator watches pipeline pods and, as soon as a container has exited non-zero
(``state.terminated``, or ``lastState.terminated`` after a restart), writes what it says onto the
pod's Job as :data:`ANNOTATION_POD_FAILURE`; the failure message of the request reads it from there
when the pods have gone.

The log tail and the termination message are the pipeline's own words: the values of the Secrets
the pod reads are masked (core.redact) before they are written anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from kratix_py import kube as k
from kratix_py.core import redact
from kratix_py.operator.job_pods import POD_JOB_NAME_LABEL
from kratix_py.operator.queue import Key

log = logging.getLogger(__name__)

ANNOTATION_POD_FAILURE: Final = "kratix.io/pod-failure"
"""On a pipeline Job: ``container <name> exited <code>[: <reason>]`` of its last failed pod."""
_MAX_DETAIL = 1000  # annotations are small; the request's condition shows the same text
_LOG_RETRIES = 5
_LOG_RETRY_SECONDS = 0.5
TAIL_SEPARATOR = " | "
"""Between the lines of a log tail, which is kept on one line."""

# Waiting reasons of a container that merely waits its turn (an earlier one still runs).
WAITING_ITS_TURN = frozenset({"PodInitializing", "ContainerCreating"})


def pod_failure_key(namespace: str, name: str) -> Key:
    return ("podfailure", namespace, name)


def _statuses(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    status = pod.get("status") or {}
    return [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]


def failed_container(pod: Mapping[str, Any]) -> tuple[str, Mapping[str, Any], bool] | None:
    """(container, its ``terminated`` record, whether that run was a previous one) of the first
    container that exited non-zero, or ``None``.

    After a restart the failure is in ``lastState`` (the container runs again, or waits out its
    crash back-off): its log is then the *previous* one.
    """
    for container in _statuses(pod):
        terminated = (container.get("state") or {}).get("terminated") or {}
        if terminated and terminated.get("exitCode", 0) != 0:
            return str(container["name"]), terminated, False
    for container in _statuses(pod):
        terminated = (container.get("lastState") or {}).get("terminated") or {}
        if terminated and terminated.get("exitCode", 0) != 0:
            return str(container["name"]), terminated, True
    return None


LogTail = Callable[[str, str, str, Sequence[str], bool], "str | None"]
"""(namespace, pod, container, secret values to mask, previous run) -> the last lines, masked;
None when the log could not be read (the kubelet had not yet kept it, or the pod is going)."""

SecretValues = Callable[[str, Mapping[str, Any]], "list[str] | None"]


@dataclass(frozen=True)
class PodFailure:
    """What a failed pod says: ``head`` names the container and its exit (``container X exited
    N``), ``said`` is its message or log tail; ``log_read`` is False when its log was wanted but
    could not be read, so a later read may say more."""

    head: str
    said: str = ""
    log_read: bool = True

    @property
    def detail(self) -> str:
        return f"{self.head}: {self.said}" if self.said else self.head


def read_pod_failure(
    namespace: str, pod: Mapping[str, Any], secret_values: SecretValues, log_tail: LogTail
) -> PodFailure | None:
    """The failed (or stuck) container of ``pod`` and what it says, or None when nothing failed."""
    failed = failed_container(pod)
    if failed is not None:
        name, terminated, previous = failed
        head = f"container {name} exited {terminated.get('exitCode')}"
        secrets = secret_values(namespace, pod)
        if secrets is None:
            tail: str | None = "(log not shown: its Secrets could not be read to mask them)"
            message = ""
        else:
            tail = log_tail(namespace, str(pod["metadata"]["name"]), name, secrets, previous)
            message = redact.mask(str(terminated.get("message") or ""), secrets)
        said = message or tail or str(terminated.get("reason") or "")
        # The termination message says it all; without one, an unread log may say more later.
        return PodFailure(head, said, log_read=bool(message) or tail is not None)
    # No container failed: blame the one that waits for a reason of its own, not the first one
    # that merely waits its turn.
    for container in _statuses(pod):
        waiting = (container.get("state") or {}).get("waiting") or {}
        reason = str(waiting.get("reason") or "")
        if reason and reason not in WAITING_ITS_TURN:
            message = str(waiting.get("message") or "")
            return PodFailure(f"container {container['name']}: {reason}", message)
    return None


def pod_failure_detail(
    namespace: str, pod: Mapping[str, Any], secret_values: SecretValues, log_tail: LogTail
) -> str:
    """``container X exited N: <message or log tail>``, or a container waiting for a reason of its
    own (a missing image or Secret); ``""`` when nothing in the pod failed."""
    failure = read_pod_failure(namespace, pod, secret_values, log_tail)
    return failure.detail if failure is not None else ""


def recorded_failure(job: Mapping[str, Any] | None) -> str:
    """What :class:`PodFailureRecorder` kept on ``job``, or ``""``."""
    annotations = ((job or {}).get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(ANNOTATION_POD_FAILURE) or "")


def recorded_container_failure(job: Mapping[str, Any] | None) -> tuple[str, list[str]] | None:
    """(container, the lines it said) of the exit :class:`PodFailureRecorder` kept on ``job``, for
    readers that find the pod gone; None when none was kept (or it was not an exit)."""
    head, _, said = recorded_failure(job).partition(": ")
    words = head.split(" ")
    if len(words) != 4 or words[0] != "container" or words[2] != "exited":
        return None
    return words[1], [line for line in said.split(TAIL_SEPARATOR) if line]


def worth_recording(pod: Mapping[str, Any]) -> bool:
    """Whether a pod event should be looked at: a pipeline pod (it has a Job) with a failed container."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return POD_JOB_NAME_LABEL in labels and failed_container(pod) is not None


class PodFailureRecorder:
    """Writes a pipeline pod's failure onto its Job while the pod can still be read.

    A work-queue step for keys ``("podfailure", namespace, pod)``. Not a
    :class:`~kratix_py.operator.reconciler.Reconciler`: it writes nothing on the pod (no status,
    no finalizer), only one annotation on the pod's Job.
    """

    def __init__(self, kube: k.Kube, *, secret_values: SecretValues, log_tail: LogTail) -> None:
        self.kube = kube
        self.secret_values = secret_values
        self.log_tail = log_tail
        self._refused = False
        # Pods whose log could not be read yet -> reads asked so far (bounded: see _LOG_RETRIES).
        self._unread: dict[Key, int] = {}

    def __call__(self, key: Key) -> timedelta | None:
        _, namespace, name = key
        # A pod being deleted (the Job controller's doing at its backoffLimit) is exactly the one to
        # read, while it lasts.
        pod = self.kube.get(k.PODS, str(name), str(namespace))
        if pod is None or not worth_recording(pod):
            self._unread.pop(key, None)
            return None
        job_name = str(pod["metadata"]["labels"][POD_JOB_NAME_LABEL])
        failure = read_pod_failure(str(namespace), pod, self.secret_values, self.log_tail)
        job = self.kube.get(k.JOBS, job_name, str(namespace))
        if job is None or failure is None:
            self._unread.pop(key, None)
            return None
        detail = failure.detail[:_MAX_DETAIL]
        recorded = recorded_failure(job)
        if not failure.log_read and recorded.startswith(f"{failure.head}:") and recorded != detail:
            # An earlier read of this failure got its log: never replace it with a record that
            # lacks it (a read while the pod goes can fail), and stop asking.
            self._unread.pop(key, None)
            return None
        again = self._read_again(key, failure)
        if recorded == detail:
            return again
        patch = {"metadata": {"annotations": {ANNOTATION_POD_FAILURE: detail}}}
        try:
            self.kube.patch(k.JOBS, job_name, patch, str(namespace))
        except k.KubeError as error:
            if error.status not in (403, 404):
                raise
            if error.status == 403 and not self._refused:
                # The failure message then says only what the Job says; no retry loop over it.
                self._refused = True
                log.warning("cannot keep failed pods' messages on their Jobs: %s", error.message)
            return None
        log.debug("Job %s/%s: recorded the failure of pod %s", namespace, job_name, name)
        return again

    def _read_again(self, key: Key, failure: PodFailure) -> timedelta | None:
        """When to read an unread log again: a kubelet keeps a failed run's log a moment after it
        reports the exit, so the first read can come too early; a few tries, then the record
        stays as it is."""
        if failure.log_read:
            self._unread.pop(key, None)
            return None
        # Kept after the last try too (so it is not asked again), until the pod goes.
        tries = self._unread[key] = self._unread.get(key, 0) + 1
        return timedelta(seconds=_LOG_RETRY_SECONDS * tries) if tries <= _LOG_RETRIES else None
