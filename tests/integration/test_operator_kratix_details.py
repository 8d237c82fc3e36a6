"""Kratix behaviour that scripts and users rely on, driven as Kratix's own system tests drive it.

Each test is modelled on one of syntasso/kratix's ``test/system`` suites: RBAC names and service
accounts (rbac_test.go), required Promises (compound_promise_test.go), retries after failure
(reconcile_after_failure_test.go), pause and unpause (the reconciliation suite) and the messages of
missing or broken state stores (destination and state-store suites). They run the real operator
against the local platform, with pipelines as in-process steps.
"""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.api import Promise
from kratix_py.contract import WorkflowType
from kratix_py.core import conditions as cond
from kratix_py.core.hashing import promise_spec_hash
from kratix_py.core.jobs import job_records
from kratix_py.core.pipelines import PipelineSettings
from kratix_py.core.workflow import JobPhase, JobRecord, RetryPolicy, Start
from kratix_py.operator import resources as r
from kratix_py.operator.workflows import Outcome, Subject, WorkflowRunner
from kratix_py.testing.fixtures import ADAPTER_IMAGE, wait_for
from tests.integration import test_operator_fast as fast
from tests.integration.test_operator_fast import REDIS, completed, install, promise_body, request_body

# The fast suite's platform and operator, and its recording pipeline steps.
system = fast.system
recorder = fast.recorder

LONG_PROMISE = "shared-cache-for-the-platform-team"
"""Long enough that its pipeline id (59 characters, the limit is 60) with a namespace is cut."""


def test_long_rbac_names_match_kratix_and_a_named_service_account_is_created_only_when_missing(
    system, recorder
):
    """rbac_test.go: the objects ``rbac.permissions`` make, found by their labels, carry the names
    Kratix gives them; a pipeline's own ``rbac.serviceAccount`` is created if missing and an
    existing one is never touched (nor deleted with the Promise)."""
    kube, _ = system
    kube.create(
        k.SERVICEACCOUNTS,
        {"metadata": {"name": "team-owned", "namespace": "default", "annotations": {"owner": "team"}}},
    )
    owned_before = kube.get(k.SERVICEACCOUNTS, "team-owned", "default")
    body = promise_body("first", "second", name=LONG_PROMISE)
    first, second = body["spec"]["workflows"]["resource"]["configure"]
    first["spec"]["rbac"] = {
        "serviceAccount": "created-for-first",
        "permissions": [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"], "resourceNamespace": "*"}
        ],
    }
    second["spec"]["rbac"] = {"serviceAccount": "team-owned"}
    install(kube, body)
    kube.create(REDIS, request_body())
    completed(kube)

    # Kratix's rule: cut to 56 characters, then "-" and md5 of the full (uncut) name.
    role = kube.get(k.CLUSTERROLES, "shared-cache-for-the-platform-team-resource-configure-fi-1d653")
    assert role is not None, "the all-namespaces ClusterRole has the name Kratix gives it"
    assert role["metadata"]["labels"][c.LABEL_RESOURCE_NAMESPACE] == c.RESOURCE_NAMESPACE_ALL
    binding = kube.get(
        k.CLUSTERROLEBINDINGS, "shared-cache-for-the-platform-team-resource-configure-fi-3598a"
    )
    assert binding is not None and binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "created-for-first", "namespace": "default"}
    ]

    created = kube.get(k.SERVICEACCOUNTS, "created-for-first", "default")
    assert created is not None, "the ServiceAccount the pipeline names was created"
    assert created["metadata"]["labels"] == {c.LABEL_PROMISE_NAME: LONG_PROMISE}
    owned = kube.get(k.SERVICEACCOUNTS, "team-owned", "default")
    assert owned["metadata"]["resourceVersion"] == owned_before["metadata"]["resourceVersion"]
    assert not owned["metadata"].get("labels")
    jobs = kube.list(k.JOBS, "default", labels={c.LABEL_PROMISE_NAME: LONG_PROMISE})
    accounts = {
        job["metadata"]["labels"][c.LABEL_PIPELINE_NAME]: job["spec"]["template"]["spec"][
            "serviceAccountName"
        ]
        for job in jobs
    }
    assert accounts == {"first": "created-for-first", "second": "team-owned"}

    kube.delete(r.PROMISES, LONG_PROMISE)
    wait_for(lambda: kube.get(r.PROMISES, LONG_PROMISE) is None, what="the Promise to go")
    assert kube.get(k.SERVICEACCOUNTS, "created-for-first", "default") is None
    assert kube.get(k.SERVICEACCOUNTS, "team-owned", "default") is not None, "not ours: never deleted"
    assert kube.get(k.CLUSTERROLES, role["metadata"]["name"]) is None


# --- reconcileAfterFailure (reconcile_after_failure_test.go) ------------------------------------------


def _gated_promise(kube: k.Kube) -> tuple[Promise, dict[str, Any]]:
    """A Promise without an API whose promise pipeline fails until its gate is opened; interval 1m."""
    body = promise_body("gated", name="reconcilable")
    del body["spec"]["api"]
    body["spec"]["workflows"] = {"promise": body["spec"]["workflows"]["resource"]}
    body["metadata"]["annotations"] = {c.ANNOTATION_RECONCILIATION_INTERVAL: "1m"}
    obj = kube.create(r.PROMISES, body)
    return Promise.model_validate(obj), obj


def _jobs(kube: k.Kube) -> list[dict[str, Any]]:
    return kube.list(k.JOBS, c.SYSTEM_NAMESPACE, labels={c.LABEL_PROMISE_NAME: "reconcilable"})


def _settled(kube: k.Kube, count: int) -> list[JobRecord]:
    """The Promise's Job records once ``count`` Jobs exist and none of them runs any more."""
    return wait_for(
        lambda: (
            len(records := job_records(_jobs(kube))) == count
            and all(record.phase is not JobPhase.RUNNING for record in records)
            and records
        ),
        what=f"{count} finished pipeline Job(s)",
    )


@pytest.mark.parametrize("reconcile_after_failure", [True, False])
def test_a_failed_workflow_is_started_again_each_interval_only_with_reconcile_after_failure(
    platform_factory, reconcile_after_failure
):
    gate = {"open": False}

    def gated(ctx: Any) -> int:
        ctx.log("gate present; configure succeeds" if gate["open"] else "gate absent; configure fails")
        return 0 if gate["open"] else 1

    platform = platform_factory(pods="fast", steps={"test/gated:v1": gated})
    kube = k.Kube(platform.api_client())
    kube.apply(
        k.NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": c.SYSTEM_NAMESPACE}}
    )
    runner = WorkflowRunner(
        kube,
        PipelineSettings(adapter_image=ADAPTER_IMAGE),
        retry=RetryPolicy(max_attempts=1),  # no backoff retries: only the interval reruns it
        reconcile_after_failure=reconcile_after_failure,
    )
    promise, obj = _gated_promise(kube)
    assert promise.reconciliation_interval() == timedelta(minutes=1)

    def configure(now: datetime) -> Outcome:
        subject = Subject(promise, WorkflowType.PROMISE, obj, r.PROMISES, promise_spec_hash(obj["spec"]))
        return runner.configure(subject, now)

    assert isinstance(configure(datetime.now(UTC)).decision, Start)
    [failed] = _settled(kube, 1)
    assert failed.phase is JobPhase.FAILED and failed.finished_at is not None
    before_interval = configure(failed.finished_at + timedelta(seconds=30))
    assert before_interval.failed and len(_jobs(kube)) == 1

    after_interval = failed.finished_at + timedelta(seconds=61)
    outcome = configure(after_interval)
    if not reconcile_after_failure:
        assert outcome.failed and outcome.requeue_after is None
        assert len(_jobs(kube)) == 1, "without reconcileAfterFailure only a change or the label reruns it"
        return
    assert isinstance(outcome.decision, Start) and outcome.decision.reason == "reconciling after failure"
    assert outcome.decision.new_run and outcome.decision.index == 0
    configure(after_interval)  # a second reconcile at the same moment starts nothing more
    rerun = _settled(kube, 2)
    assert [record.run for record in rerun] == [1, 2] and rerun[1].phase is JobPhase.FAILED

    gate["open"] = True  # the Kratix test creates its gate ConfigMap here
    assert isinstance(configure(rerun[1].finished_at + timedelta(seconds=61)).decision, Start)
    succeeded = _settled(kube, 3)
    assert succeeded[-1].phase is JobPhase.SUCCEEDED and succeeded[-1].run == 3


# --- pause (reconciliation_test.go) ------------------------------------------------------------------


def _reconciled(kube: k.Kube, name: str) -> dict[str, Any] | None:
    found = cond.find(
        ((kube.get(REDIS, name, "default") or {}).get("status") or {}).get("conditions"), "Reconciled"
    )
    return dict(found) if found else None


def test_requests_under_a_paused_promise_say_paused_and_unpausing_reruns_everything(system, recorder):
    kube, _ = system
    body = promise_body("first", name="pausedtest")
    body["spec"]["workflows"]["promise"] = copy.deepcopy(body["spec"]["workflows"]["resource"])
    body["spec"]["workflows"]["promise"]["configure"][0]["metadata"]["name"] = "second"
    body["spec"]["workflows"]["promise"]["configure"][0]["spec"]["containers"][0]["image"] = "test/second:v1"
    install(kube, body)
    kube.create(REDIS, request_body("one"))
    completed(kube, "one")
    assert (recorder.count("second"), recorder.count("first")) == (1, 1)

    kube.patch(r.PROMISES, "pausedtest", {"metadata": {"labels": {c.LABEL_PAUSED: "true"}}})
    wait_for(
        lambda: (
            (p := kube.get(r.PROMISES, "pausedtest"))
            and (cond.find(p["status"].get("conditions"), "Reconciled") or {}).get("reason")
            == "PausedReconciliation"
        ),
        what="the Promise to say PausedReconciliation",
    )
    # Accepting create/update requests while paused: both say Paused where kubectl shows it.
    kube.patch(REDIS, "one", {"spec": {"size": "large"}}, "default")
    kube.create(REDIS, request_body("two"))
    for name in ("one", "two"):
        paused = wait_for(
            lambda name=name: (found := _reconciled(kube, name)) and found["message"] == "Paused" and found,
            what=f"request {name} to say Paused",
        )
        assert (paused["status"], paused["reason"]) == ("Unknown", "PausedReconciliation")
    time.sleep(1.0)  # not running any workflow while paused
    assert (recorder.count("second"), recorder.count("first")) == (1, 1)

    kube.patch(r.PROMISES, "pausedtest", {"metadata": {"labels": {c.LABEL_PAUSED: None}}})
    wait_for(lambda: recorder.count("second") == 2, what="the promise workflow to rerun after unpause")
    wait_for(lambda: recorder.count("first") == 3, what="each request to run once more")
    for name in ("one", "two"):
        wait_for(
            lambda name=name: (
                (found := _reconciled(kube, name)) and found["reason"] != "PausedReconciliation"
            ),
            what=f"request {name} to leave Paused",
        )
        completed(kube, name)
    time.sleep(0.5)
    assert recorder.count("first") == 3, "and only once"
    assert [obj["spec"]["size"] for name, obj in recorder.runs if name == "first"][-2:].count("large") == 1
    promise = kube.get(r.PROMISES, "pausedtest")
    assert c.LABEL_RUN_FROM_START not in (promise["metadata"].get("labels") or {})
    assert c.LABEL_RECONCILE_RESOURCES not in (promise["metadata"].get("labels") or {})


def test_a_paused_request_runs_nothing_until_unpaused(system, recorder):
    kube, _ = system
    install(kube, promise_body("first"))
    kube.create(REDIS, request_body())
    completed(kube)
    kube.patch(REDIS, "my-redis", {"metadata": {"labels": {c.LABEL_PAUSED: "true"}}}, "default")
    kube.patch(REDIS, "my-redis", {"spec": {"size": "large"}}, "default")
    wait_for(
        lambda: (found := _reconciled(kube, "my-redis")) and found["message"] == "Paused",
        what="the request to say Paused",
    )
    time.sleep(1.0)
    assert recorder.count("first") == 1
    kube.patch(REDIS, "my-redis", {"metadata": {"labels": {c.LABEL_PAUSED: None}}}, "default")
    wait_for(lambda: recorder.count("first") == 2, what="the rerun after unpause")
    obj = completed(kube)
    assert recorder.runs[-1][1]["spec"]["size"] == "large"
    assert c.LABEL_RUN_FROM_START not in (obj["metadata"].get("labels") or {})


# --- required Promises (compound_promise_test.go) ------------------------------------------------------


def test_required_promises_list_their_requirers_and_waiting_requests_say_pending(system, recorder):
    kube, _ = system
    compound = promise_body("first")
    compound["metadata"]["labels"] = {c.LABEL_PROMISE_VERSION: "v2"}
    compound["spec"]["requiredPromises"] = [{"name": "database", "version": "v1"}]
    kube.create(r.PROMISES, compound)
    wait_for(lambda: kube.get(k.CRDS, f"redises.{fast.GROUP}"), what="the request CRD")
    kube.create(REDIS, request_body())
    # Allowing requests to be created, but marking them as pending.
    waiting = wait_for(
        lambda: (o := kube.get(REDIS, "my-redis", "default")) and o.get("status", {}).get("message") and o,
        what="the request to say it waits",
    )
    assert waiting["status"]["message"] == "Pending"
    available = cond.find(waiting["status"]["conditions"], c.CONDITION_PROMISE_AVAILABLE)
    assert available["status"] == "False" and available["reason"] == "PromiseRequirementsNotInstalled"
    assert available["message"].startswith("Promise Requirements are not installed")
    assert recorder.count("first") == 0

    database = promise_body(name="database")
    database["metadata"]["labels"] = {c.LABEL_PROMISE_VERSION: "v1"}
    del database["spec"]["api"]
    del database["spec"]["workflows"]
    kube.create(r.PROMISES, database)

    def required_by() -> Any:
        return (kube.get(r.PROMISES, "database") or {}).get("status", {}).get("requiredBy")

    expected = [{"promise": {"name": "redis", "version": "v2"}, "requiredVersion": "v1"}]
    wait_for(
        lambda: required_by() == expected, what=f"database to list redis in requiredBy ({required_by()})"
    )
    completed(kube)  # its requirement is met: the request goes ahead

    kube.patch(r.PROMISES, "redis", {"spec": {"requiredPromises": None}})
    wait_for(lambda: required_by() is None, what="redis to drop out of requiredBy once it stops requiring")
    kube.patch(r.PROMISES, "redis", {"spec": {"requiredPromises": [{"name": "database"}]}})
    wait_for(
        lambda: required_by() == [{"promise": {"name": "redis", "version": "v2"}}],
        what="redis back in requiredBy, without a version",
    )
    kube.delete(r.PROMISES, "redis")
    wait_for(lambda: kube.get(r.PROMISES, "redis") is None, what="redis to go")
    wait_for(lambda: required_by() is None, what="a deleted Promise to drop out of requiredBy")
