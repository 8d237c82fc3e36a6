"""Status and Events that tell the truth through a Promise update (issue 14, item 4).

The operator runs against the API emulator over HTTP with fast in-process pipelines. A watch
records every version of the request and the Promise while the Promise changes, so a condition
that flaps for a few milliseconds is seen, not only the state a poll happens to land on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client, watch
from urllib3.exceptions import ProtocolError

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.core import catalog
from kratix_py.core import conditions as cond
from kratix_py.local_platform.gitserver import GitServer
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.operator import resources as r
from kratix_py.testing.fixtures import ADAPTER_IMAGE, wait_for

from .test_operator_fast import GROUP, REDIS, Recorder, completed, first, promise_body, request_body, second


def promise_configure(ctx: Any, obj: dict[str, Any]) -> None:
    (ctx.path("/kratix/metadata") / "status.yaml").write_text("configured: yes\n")


PASSWORD = "truth-Pa55word"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture(scope="module")
def git_server() -> Iterator[GitServer]:
    with GitServer(username="kratix", password=PASSWORD, https=False) as server:
        server.create_repo("truth")
        yield server


def destination(kube: k.Kube, server: GitServer) -> None:
    """A Git state store and one Destination every group of the test pipelines selects."""
    kube.create(
        k.SECRETS,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "git-creds", "namespace": "default"},
            "stringData": {"username": "kratix", "password": PASSWORD},
        },
    )
    kube.create(
        r.GIT_STATE_STORES,
        {
            "apiVersion": c.API_VERSION,
            "kind": "GitStateStore",
            "metadata": {"name": "git"},
            "spec": {
                "url": server.http_url("truth"),
                "secretRef": {"name": "git-creds", "namespace": "default"},
            },
        },
    )
    kube.create(
        r.DESTINATIONS,
        {
            "apiVersion": c.API_VERSION,
            "kind": "Destination",
            "metadata": {"name": "worker", "labels": {"team": "observability"}},
            "spec": {"path": "worker", "stateStoreRef": {"kind": "GitStateStore", "name": "git"}},
        },
    )


@pytest.fixture
def platform(
    platform_factory: Callable[..., Any], recorder: Recorder, git_server: GitServer
) -> Iterator[tuple[k.Kube, Any]]:
    steps = {
        "test/first:v1": recorder.step("first", first),
        "test/second:v1": recorder.step("second", second),
        "test/promise:v1": recorder.step("promise", promise_configure),
    }
    local = platform_factory(pods="fast", steps=steps)
    kube = k.Kube(local.api_client())
    destination(kube, git_server)
    settings = settings_for(str(local.kubeconfig), pipeline_adapter_image=ADAPTER_IMAGE)
    with RunningOperator(settings):
        yield kube, local


class History:
    """Every version of the objects a watch sees, in order, from a background thread."""

    def __init__(self, api_client: Any, list_call: Callable[..., Any], **arguments: Any) -> None:
        self.versions: list[dict[str, Any]] = []
        self._stopped = False
        self._watch = watch.Watch()
        self._thread = threading.Thread(
            target=self._run, args=(list_call, arguments), daemon=True, name="history"
        )
        self._thread.start()

    def _run(self, list_call: Callable[..., Any], arguments: dict[str, Any]) -> None:
        try:
            for event in self._watch.stream(list_call, **arguments):
                self.versions.append(event["object"])
        except ProtocolError:
            if not self._stopped:
                raise
            # The platform stopped under a watch that was told to stop: nothing was lost.

    def stop(self) -> None:
        self._stopped = True
        self._watch.stop()

    def conditions(self, condition_type: str) -> list[tuple[str, str]]:
        """(status, reason) of one condition in every version, repeats folded."""
        seen: list[tuple[str, str]] = []
        for version in self.versions:
            found = cond.find((version.get("status") or {}).get("conditions"), condition_type)
            if found is None:
                continue
            entry = (str(found.get("status")), str(found.get("reason")))
            if not seen or seen[-1] != entry:
                seen.append(entry)
        return seen


def promise_with_workflow() -> dict[str, Any]:
    body = promise_body("first", "second")
    body["spec"]["workflows"]["promise"] = {
        "configure": [
            {
                "apiVersion": c.API_VERSION,
                "kind": "Pipeline",
                "metadata": {"name": "promise"},
                "spec": {"containers": [{"name": "main", "image": "test/promise:v1"}]},
            }
        ]
    }
    return body


def events_for(kube: k.Kube, name: str, namespace: str = "default") -> list[dict[str, Any]]:
    return [
        event
        for event in kube.list(k.EVENTS, namespace)
        if (event.get("involvedObject") or {}).get("name") == name
    ]


def running_while_completed(versions: list[dict[str, Any]]) -> list[list[str]]:
    """Pipeline phases of the versions that say ConfigureWorkflowCompleted=True with a pipeline Running."""
    found = []
    for version in versions:
        status = version.get("status") or {}
        phases = [
            p.get("phase")
            for p in ((status.get("kratix") or {}).get("workflows") or {}).get("pipelines") or []
        ]
        if (
            cond.is_true(status.get("conditions"), c.CONDITION_CONFIGURE_WORKFLOW_COMPLETED)
            and "Running" in phases
        ):
            found.append(phases)
    return found


def test_a_promise_update_is_announced_as_such_and_flaps_nothing(platform, recorder):
    kube, local = platform
    kube.create(r.PROMISES, promise_with_workflow())
    wait_for(
        lambda: (kube.get(r.PROMISES, "redis") or {}).get("status", {}).get("status") == "Available",
        what="the Promise to become Available",
    )
    kube.create(REDIS, request_body())
    completed(kube)
    wait_for(
        lambda: cond.is_true(
            (kube.get(REDIS, "my-redis", "default") or {})["status"]["conditions"], "Reconciled"
        ),
        what="the request to be Reconciled",
    )
    events_before = {e["metadata"]["name"] for e in events_for(kube, "my-redis")}
    api = client.CustomObjectsApi(local.api_client())
    requests = History(
        local.api_client(),
        api.list_namespaced_custom_object,
        group=GROUP,
        version="v1alpha1",
        namespace="default",
        plural="redises",
    )
    promises = History(
        local.api_client(),
        api.list_cluster_custom_object,
        group="platform.kratix.io",
        version="v1alpha1",
        plural="promises",
    )
    wait_for(lambda: requests.versions and promises.versions, what="the watches to start")

    updated = promise_with_workflow()
    updated["spec"]["api"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "properties"
    ]["replicas"] = {"type": "integer", "default": 1}
    kube.patch(r.PROMISES, "redis", {"spec": updated["spec"]})
    wait_for(lambda: recorder.count("second") == 2, what="the request to rerun after the Promise changed")
    wait_for(
        lambda: (
            (o := kube.get(REDIS, "my-redis", "default"))
            and cond.is_true(o["status"]["conditions"], "Reconciled")
            and o["status"]["workflowsSucceeded"] == 2
        ),
        what="the request to be Reconciled again",
    )
    wait_for(
        lambda: cond.is_true((kube.get(r.PROMISES, "redis") or {})["status"]["conditions"], "Reconciled"),
        what="the Promise to be Reconciled again",
    )
    requests.stop()
    promises.stop()

    new_events = [e for e in events_for(kube, "my-redis") if e["metadata"]["name"] not in events_before]
    started = [e["message"] for e in new_events if e["reason"] == "PipelineStarted"]
    assert "Pipeline first started (the Promise changed; run 2)" in started, started
    assert not any("specification changed" in m for m in started), started
    assert [e for e in new_events if e["type"] == "Warning"] == [], "a normal Promise update warns nothing"
    assert ("False", "PromiseRequirementsNotInstalled") not in requests.conditions(
        c.CONDITION_PROMISE_AVAILABLE
    )
    assert requests.conditions(c.CONDITION_WORKS_SUCCEEDED) == [("True", "WorksSucceeded")], (
        "a rerun that writes the same files never makes WorksSucceeded Unknown"
    )
    succeeded = [e for e in new_events if e["reason"] == "ReconcileSucceeded"]
    assert len(succeeded) <= 1, [e["message"] for e in succeeded]
    assert running_while_completed(requests.versions) == []
    assert running_while_completed(promises.versions) == []
    catalog_works = [
        w for w in kube.list(r.WORKS) if catalog.LABEL_CATALOG in w["metadata"].get("labels", {})
    ]
    assert catalog_works == [], "no Backstage Destination, no catalog Works nothing would schedule"


def test_operator_logs_name_their_object_and_a_deletion_logs_no_error(platform_factory, recorder, tmp_path):
    """``kratix-py operator --log-format json`` as a process: structured lines, each line of a
    reconcile naming its object and reconcile, and a normal deletion without ERROR or traceback."""
    import json
    import subprocess
    import sys

    local = platform_factory(pods="fast", steps={"test/first:v1": recorder.step("first", first)})
    kube = k.Kube(local.api_client())
    log_path = tmp_path / "operator.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kratix_py",
                "operator",
                "--kubeconfig",
                str(local.kubeconfig),
                "--pipeline-adapter-image",
                ADAPTER_IMAGE,
                "--metrics-port",
                "0",
                "--health-port",
                "0",
                "--log-format",
                "json",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            kube.create(r.PROMISES, promise_body("first"))
            wait_for(
                lambda: (kube.get(r.PROMISES, "redis") or {}).get("status", {}).get("status") == "Available",
                what="the Promise to become Available",
            )
            kube.create(REDIS, request_body())
            completed(kube)
            kube.delete(REDIS, "my-redis", "default")
            wait_for(lambda: kube.get(REDIS, "my-redis", "default") is None, what="the request to go")
            kube.delete(r.PROMISES, "redis")
            wait_for(lambda: kube.get(r.PROMISES, "redis") is None, what="the Promise to go")
        finally:
            process.terminate()
            assert process.wait(20) == 0, "the operator stops cleanly on SIGTERM"
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    started = [
        line for line in lines if str(line.get("message", "")).startswith("started configure pipeline first")
    ]
    assert started, [line.get("message") for line in lines]
    assert started[0]["object"] == {"kind": "Redis", "name": "my-redis", "namespace": "default"}
    assert isinstance(started[0]["reconcile"], int)
    about_request = [line for line in lines if "my-redis" in str(line.get("message", ""))]
    assert all(line.get("object") for line in about_request), about_request
    assert [line for line in lines if line.get("severity") in ("error", "fatal") or "exc_info" in line] == []
