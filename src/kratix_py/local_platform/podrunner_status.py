"""Pod and Job status as the kubelet and the Job controller write them; pure, so tests can pin them.

The pod runner keeps one :class:`PodStatusTracker` per pod and one :class:`JobStatusTracker` per
Job run, mutates them as containers start and stop, and sends the whole ``status`` each time
(merge patch), so what a watcher sees is always a complete, consistent status.

Field names, reasons and messages follow Kubernetes 1.31+, because kratix-py (like Kratix) decides
what to do next from them: a Job is finished when it has a ``Complete`` or ``Failed`` condition,
and a pod's containers tell people why.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]

# Job condition reasons and messages of the Kubernetes Job controller.
REASON_BACKOFF_LIMIT = "BackoffLimitExceeded"
MESSAGE_BACKOFF_LIMIT = "Job has reached the specified backoff limit"
REASON_DEADLINE = "DeadlineExceeded"
MESSAGE_DEADLINE = "Job was active longer than specified deadline"
REASON_COMPLETIONS = "CompletionsReached"
MESSAGE_COMPLETIONS = "Reached expected number of succeeded pods"


def rfc3339(moment: dt.datetime) -> str:
    """Kubernetes timestamps: UTC, whole seconds."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now() -> str:
    return rfc3339(dt.datetime.now(dt.UTC))


def set_condition(conditions: list[Json], new: Json) -> list[Json]:
    """``conditions`` with ``new`` in place of the one of the same type.

    ``lastTransitionTime`` only moves when the status changes, as on a real cluster; a probe time
    (``lastProbeTime``, Jobs only) is refreshed every time it is given.
    """
    result: list[Json] = []
    replaced = False
    for condition in conditions:
        if condition.get("type") == new["type"]:
            merged = dict(new)
            if condition.get("status") == new.get("status") and condition.get("lastTransitionTime"):
                merged["lastTransitionTime"] = condition["lastTransitionTime"]
            result.append(merged)
            replaced = True
        else:
            result.append(condition)
    if not replaced:
        result.append(dict(new))
    return result


def find_condition(conditions: list[Json] | None, kind: str) -> Json | None:
    for condition in conditions or []:
        if condition.get("type") == kind:
            return condition
    return None


def job_finished(job: Json) -> str | None:
    """``"Complete"`` or ``"Failed"`` when the Job has that condition set to True, else ``None``."""
    conditions = (job.get("status") or {}).get("conditions")
    for kind in ("Complete", "Failed"):
        condition = find_condition(conditions, kind)
        if condition is not None and condition.get("status") == "True":
            return kind
    return None


def job_suspended_condition(job: Json) -> bool:
    condition = find_condition((job.get("status") or {}).get("conditions"), "Suspended")
    return condition is not None and condition.get("status") == "True"


# --- Job ----------------------------------------------------------------------------------------


class JobStatusTracker:
    """The status the Job controller keeps for one Job (``completions: 1``, one pod at a time)."""

    def __init__(self, status: Json | None) -> None:
        self.status: Json = copy.deepcopy(status or {})
        self.status.setdefault("active", 0)

    @property
    def failed(self) -> int:
        return int(self.status.get("failed") or 0)

    def _condition(self, kind: str, status: str, reason: str, message: str, at: str) -> None:
        condition = {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastProbeTime": at,
            "lastTransitionTime": at,
        }
        self.status["conditions"] = set_condition(self.status.get("conditions") or [], condition)

    def resume(self, at: str) -> None:
        """Starting (again): a resumed Job gets a fresh ``startTime`` so its deadline starts anew."""
        if job_suspended_condition({"status": self.status}):
            self._condition("Suspended", "False", "JobResumed", "Job resumed", at)
            self.status["startTime"] = at
        self.status.setdefault("startTime", at)

    def pod_created(self) -> None:
        self.status["active"] = 1
        self.status["ready"] = 0

    def pod_ready(self, ready: bool) -> None:
        self.status["ready"] = 1 if ready else 0

    def pod_failed(self) -> None:
        self.status["active"] = 0
        self.status["ready"] = 0
        self.status["failed"] = self.failed + 1

    def succeeded(self, at: str) -> None:
        self.status["active"] = 0
        self.status["ready"] = 0
        self.status["succeeded"] = int(self.status.get("succeeded") or 0) + 1
        self._condition("SuccessCriteriaMet", "True", REASON_COMPLETIONS, MESSAGE_COMPLETIONS, at)
        self._condition("Complete", "True", REASON_COMPLETIONS, MESSAGE_COMPLETIONS, at)
        self.status["completionTime"] = at

    def failure_target(self, reason: str, message: str, at: str) -> None:
        """The Job will fail: set before its pods are removed, as the Job controller does."""
        self._condition("FailureTarget", "True", reason, message, at)

    def fail(self, reason: str, message: str, at: str) -> None:
        self.status["active"] = 0
        self.status["ready"] = 0
        self.failure_target(reason, message, at)
        self._condition("Failed", "True", reason, message, at)

    def suspend(self, at: str) -> None:
        """Suspended: no pods; the Job controller does not count the killed pod as a failure."""
        self.status["active"] = 0
        self.status["ready"] = 0
        self.status.pop("startTime", None)
        self._condition("Suspended", "True", "JobSuspended", "Job suspended", at)


# --- Pod ----------------------------------------------------------------------------------------


@dataclass
class ContainerState:
    """What the kubelet knows about one container; rendered by :meth:`as_status`."""

    name: str
    image: str
    init: bool
    state: str = "waiting"  # waiting | running | terminated
    reason: str = "ContainerCreating"
    message: str = ""
    exit_code: int | None = None
    started_at: str | None = None
    finished_at: str | None = None
    container_id: str = ""
    image_id: str = ""
    restart_count: int = 0
    last_state: Json = field(default_factory=dict)

    def waiting(self, reason: str, message: str = "") -> None:
        self.state, self.reason, self.message = "waiting", reason, message

    def running(self, at: str) -> None:
        self.state, self.reason, self.message = "running", "", ""
        self.started_at, self.finished_at, self.exit_code = at, None, None

    def terminated(
        self, exit_code: int, reason: str, message: str, started_at: str, finished_at: str, container_id: str
    ) -> None:
        self.state, self.exit_code, self.reason, self.message = "terminated", exit_code, reason, message
        self.started_at, self.finished_at, self.container_id = started_at, finished_at, container_id

    def restart(self) -> None:
        """The kubelet restarts a failed container (restartPolicy OnFailure): keep the last run."""
        self.last_state = {"terminated": self._terminated()}
        self.restart_count += 1
        self.waiting("ContainerCreating")

    @property
    def succeeded(self) -> bool:
        return self.state == "terminated" and self.exit_code == 0

    def _terminated(self) -> Json:
        terminated: Json = {
            "exitCode": self.exit_code,
            "reason": self.reason,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
        }
        if self.message:
            terminated["message"] = self.message
        if self.container_id:
            terminated["containerID"] = self.container_id
        return terminated

    def as_status(self) -> Json:
        if self.state == "running":
            state: Json = {"running": {"startedAt": self.started_at}}
        elif self.state == "terminated":
            state = {"terminated": self._terminated()}
        else:
            state = {
                "waiting": {"reason": self.reason, **({"message": self.message} if self.message else {})}
            }
        status: Json = {
            "name": self.name,
            "image": self.image,
            "imageID": self.image_id,
            # Init containers count as ready once they completed, as the kubelet reports them.
            "ready": self.state == "running" or (self.init and self.succeeded),
            "started": self.state == "running",
            "restartCount": self.restart_count,
            "state": state,
            "lastState": self.last_state,
        }
        if self.container_id:
            status["containerID"] = self.container_id
        return status


class PodStatusTracker:
    """The status the kubelet reports for one pod, from its containers' states."""

    def __init__(self, pod: Json, start_time: str) -> None:
        spec = pod.get("spec") or {}
        self.start_time = start_time
        self.phase = "Pending"
        self.init = [
            ContainerState(str(c.get("name")), str(c.get("image", "")), True)
            for c in spec.get("initContainers") or []
        ]
        self.main = [
            ContainerState(str(c.get("name")), str(c.get("image", "")), False)
            for c in spec.get("containers") or []
        ]
        for container in self.main if self.init else []:
            container.waiting("PodInitializing")
        self._conditions: list[Json] = []
        self.reason = ""
        self.message = ""
        # A real API server computes the QoS class when the pod is created and refuses any other
        # value in status updates; the emulator leaves it to the kubelet.
        self.qos_class = str((pod.get("status") or {}).get("qosClass") or "BestEffort")

    def container(self, name: str) -> ContainerState:
        for container in (*self.init, *self.main):
            if container.name == name:
                return container
        raise KeyError(name)

    def as_status(self, at: str) -> Json:
        """The whole pod status; condition transition times only move when a status flips."""
        initialized = all(c.succeeded for c in self.init)
        finished = self.phase in ("Succeeded", "Failed")
        all_running = bool(self.main) and all(c.state == "running" for c in self.main)
        pending_init = [c.name for c in self.init if not c.succeeded]
        unready = [c.name for c in self.main if c.state != "running"]

        def condition(kind: str, ok: bool, reason: str = "", message: str = "") -> Json:
            result: Json = {"type": kind, "status": "True" if ok else "False", "lastTransitionTime": at}
            if not ok and reason:
                result["reason"] = reason
                if message:
                    result["message"] = message
            return result

        if finished:
            ready_reason, ready_message = "PodCompleted", ""
        else:
            ready_reason = "ContainersNotReady"
            ready_message = f"containers with unready status: [{' '.join(unready)}]"
        init_message = f"containers with incomplete status: [{' '.join(pending_init)}]"
        for new in (
            condition("PodReadyToStartContainers", not finished),
            condition("Initialized", initialized, "PodCompleted" if finished else "ContainersNotInitialized",
                      "" if finished else init_message),
            condition("Ready", all_running and not finished, ready_reason, ready_message),
            condition("ContainersReady", all_running and not finished, ready_reason, ready_message),
            condition("PodScheduled", True),
        ):  # fmt: skip
            self._conditions = set_condition(self._conditions, new)
        status: Json = {
            "phase": self.phase,
            "conditions": self._conditions,
            "hostIP": "127.0.0.1",
            "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}],
            "startTime": self.start_time,
            "qosClass": self.qos_class,
            "containerStatuses": [c.as_status() for c in self.main],
        }
        if self.init:
            status["initContainerStatuses"] = [c.as_status() for c in self.init]
        if self.reason:
            status["reason"] = self.reason
        if self.message:
            status["message"] = self.message
        return status
