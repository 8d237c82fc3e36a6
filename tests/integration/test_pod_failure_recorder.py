"""The pod-failure recorder against the API emulator over HTTP: what a failed pipeline pod's log
said is kept on its Job, and a log that cannot be read (yet) never replaces one that was."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

import kubernetes
import pytest

from kratix_py import kube as k
from kratix_py.local_platform.emulator import Emulator
from kratix_py.operator.pod_failures import PodFailureRecorder, pod_failure_key, recorded_failure

NAMESPACE = "default"
JOB = "kratix-greeting-hello-configure-abc12"
POD = JOB + "-x7k2q"


@pytest.fixture
def kube() -> Iterator[k.Kube]:
    with Emulator().start() as server:
        config = kubernetes.client.Configuration()
        config.host = server.url
        yield k.Kube(kubernetes.client.ApiClient(config))


class Logs:
    """What the kubelet answers for the container's log: the next answers in turn (None: the log
    could not be read)."""

    def __init__(self, *answers: str | None) -> None:
        self.answers = list(answers)
        self.asked: list[bool] = []

    def __call__(
        self, namespace: str, pod: str, container: str, secrets: Sequence[str], previous: bool
    ) -> str | None:
        self.asked.append(previous)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def _no_secrets(namespace: str, pod: Mapping[str, Any]) -> list[str]:
    return []


def _failed_pod(kube: k.Kube, *, restarted: bool) -> None:
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": JOB, "namespace": NAMESPACE},
           "spec": {"template": {"spec": {"restartPolicy": "OnFailure",
                                          "containers": [{"name": "greet", "image": "greeting"}]}}}}  # fmt: skip
    kube.create(k.JOBS, job, NAMESPACE)
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": POD, "namespace": NAMESPACE, "labels": {"job-name": JOB}},
           "spec": {"restartPolicy": "OnFailure", "containers": [{"name": "greet", "image": "greeting"}]}}  # fmt: skip
    kube.create(k.PODS, pod, NAMESPACE)
    exited = {"terminated": {"exitCode": 1, "reason": "Error"}}
    container: dict[str, Any] = {"name": "greet", "image": "greeting", "ready": False, "restartCount": 0}
    if restarted:
        container.update(state={"running": {}}, lastState=exited, restartCount=1)
    else:
        container.update(state=exited)
    kube.patch_status(k.PODS, POD, {"phase": "Running", "containerStatuses": [container]}, NAMESPACE)


def _recorded(kube: k.Kube) -> str:
    return recorded_failure(kube.get(k.JOBS, JOB, NAMESPACE))


def test_an_unread_log_is_asked_for_again_and_what_it_then_says_is_recorded(kube: k.Kube) -> None:
    _failed_pod(kube, restarted=True)
    logs = Logs(None, "reading the Secret db-password: HTTP 403")
    recorder = PodFailureRecorder(kube, secret_values=_no_secrets, log_tail=logs)
    again = recorder(pod_failure_key(NAMESPACE, POD))
    # Recorded at once with what the pod's status says, and asked again shortly.
    assert _recorded(kube) == "container greet exited 1: Error"
    assert isinstance(again, timedelta) and again.total_seconds() > 0
    assert recorder(pod_failure_key(NAMESPACE, POD)) is None
    assert _recorded(kube) == "container greet exited 1: reading the Secret db-password: HTTP 403"
    assert logs.asked == [True, True]  # the previous run's log: the container restarted


def test_a_log_that_can_no_longer_be_read_never_replaces_what_it_said(kube: k.Kube) -> None:
    _failed_pod(kube, restarted=False)
    logs = Logs("quota is exceeded", None)
    recorder = PodFailureRecorder(kube, secret_values=_no_secrets, log_tail=logs)
    assert recorder(pod_failure_key(NAMESPACE, POD)) is None
    assert _recorded(kube) == "container greet exited 1: quota is exceeded"
    # The pod goes (the Job controller deletes it at its backoffLimit) and its log read fails.
    recorder(pod_failure_key(NAMESPACE, POD))
    assert _recorded(kube) == "container greet exited 1: quota is exceeded"


def test_asking_for_an_unread_log_again_stops_after_a_few_tries(kube: k.Kube) -> None:
    _failed_pod(kube, restarted=False)
    recorder = PodFailureRecorder(kube, secret_values=_no_secrets, log_tail=Logs(None))
    answers = [recorder(pod_failure_key(NAMESPACE, POD)) for _ in range(10)]
    asked_again = [answer for answer in answers if answer is not None]
    assert 1 <= len(asked_again) < 10 and answers[-1] is None
    assert _recorded(kube) == "container greet exited 1: Error"


def test_once_the_log_is_recorded_an_unreadable_log_is_not_asked_for_again(kube: k.Kube) -> None:
    _failed_pod(kube, restarted=False)
    logs = Logs("quota is exceeded", None)
    recorder = PodFailureRecorder(kube, secret_values=_no_secrets, log_tail=logs)
    recorder(pod_failure_key(NAMESPACE, POD))
    # The log can no longer be read: the record keeps what it said, and no retry is asked for.
    assert recorder(pod_failure_key(NAMESPACE, POD)) is None
    assert logs.asked == [False, False]
    assert _recorded(kube) == "container greet exited 1: quota is exceeded"
