"""Reading a failed pipeline pod: which container failed, in which run, and what it said."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kratix_py.operator.pod_failures import (
    failed_container,
    pod_failure_detail,
    recorded_failure,
    worth_recording,
)


def _pod(*init: dict[str, Any], labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": "kratix-p-r-configure-abc12-x7k2q", "namespace": "ns", "labels": labels or {}},
        "spec": {},
        "status": {"phase": "Pending", "initContainerStatuses": list(init)},
    }


def _terminated(code: int, message: str = "") -> dict[str, Any]:
    return {"terminated": {"exitCode": code, "reason": "Error" if code else "Completed", "message": message}}


READER_DONE = {"name": "reader", "state": _terminated(0), "restartCount": 0}
WAITING_TURN = {"name": "work-writer", "state": {"waiting": {"reason": "PodInitializing"}}, "restartCount": 0}


class Logs:
    def __init__(self, text: str) -> None:
        self.text = text
        self.asked: list[tuple[str, bool]] = []

    def __call__(
        self, namespace: str, pod: str, container: str, secrets: Sequence[str], previous: bool
    ) -> str:
        self.asked.append((container, previous))
        masked = self.text
        for value in secrets:
            masked = masked.replace(value, "***")
        return masked


def _no_secrets(namespace: str, pod: Mapping[str, Any]) -> list[str]:
    return []


def test_a_container_that_exited_non_zero_is_the_failure_and_its_current_log_is_read() -> None:
    failing = {"name": "greet", "state": _terminated(3), "restartCount": 0}
    pod = _pod(READER_DONE, failing, WAITING_TURN)
    assert failed_container(pod) == ("greet", failing["state"]["terminated"], False)
    logs = Logs("quota is exceeded")
    assert pod_failure_detail("ns", pod, _no_secrets, logs) == "container greet exited 3: quota is exceeded"
    assert logs.asked == [("greet", False)]


def test_after_a_restart_the_failure_is_in_last_state_and_the_previous_log_is_read() -> None:
    # restartPolicy OnFailure: the container runs again (or waits out its back-off).
    restarted = {"name": "greet", "state": {"running": {}}, "lastState": _terminated(1), "restartCount": 1}
    pod = _pod(READER_DONE, restarted, WAITING_TURN)
    logs = Logs("HTTP 403: forbidden")
    assert pod_failure_detail("ns", pod, _no_secrets, logs) == "container greet exited 1: HTTP 403: forbidden"
    assert logs.asked == [("greet", True)]


def test_the_termination_message_wins_and_secret_values_are_masked_in_it_and_in_the_log() -> None:
    failing = {"name": "greet", "state": _terminated(2, "password s3cr3t rejected"), "restartCount": 0}
    pod = _pod(failing)
    said = pod_failure_detail("ns", pod, lambda namespace, pod: ["s3cr3t"], Logs("s3cr3t"))
    assert said == "container greet exited 2: password *** rejected"
    failing["state"]["terminated"]["message"] = ""
    said = pod_failure_detail("ns", pod, lambda namespace, pod: ["s3cr3t"], Logs("using s3cr3t"))
    assert said == "container greet exited 2: using ***"


def test_no_log_is_shown_when_the_pods_secrets_cannot_be_read_to_mask_them() -> None:
    pod = _pod({"name": "greet", "state": _terminated(1, "s3cr3t"), "restartCount": 0})
    logs = Logs("s3cr3t")
    said = pod_failure_detail("ns", pod, lambda namespace, pod: None, logs)
    assert said == "container greet exited 1: (log not shown: its Secrets could not be read to mask them)"
    assert logs.asked == []


def test_a_container_waiting_for_a_reason_of_its_own_is_named_not_one_waiting_its_turn() -> None:
    missing = {
        "name": "greet",
        "state": {"waiting": {"reason": "ErrImageNeverPull", "message": "not present"}},
    }
    pod = _pod(READER_DONE, WAITING_TURN, missing)
    assert failed_container(pod) is None
    assert (
        pod_failure_detail("ns", pod, _no_secrets, Logs(""))
        == "container greet: ErrImageNeverPull: not present"
    )
    assert pod_failure_detail("ns", _pod(READER_DONE, WAITING_TURN), _no_secrets, Logs("")) == ""


def test_only_pipeline_pods_with_a_failed_container_are_worth_recording() -> None:
    failing = {"name": "greet", "state": _terminated(1), "restartCount": 0}
    assert worth_recording(_pod(failing, labels={"job-name": "kratix-p-r-configure-abc12"}))
    assert not worth_recording(_pod(failing))  # no Job to write it on
    assert not worth_recording(_pod(READER_DONE, labels={"job-name": "kratix-p-r-configure-abc12"}))
    job = {"metadata": {"annotations": {"kratix.io/pod-failure": "container greet exited 1"}}}
    assert recorded_failure(job) == "container greet exited 1"
    assert recorded_failure(None) == "" and recorded_failure({"metadata": {}}) == ""
