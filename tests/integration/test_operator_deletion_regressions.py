"""Regression tests for the issue-11 defects fixed on main before this suite (items 1, 4, 7, 10)."""

from __future__ import annotations

import copy

import pytest

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.operator import resources as r
from kratix_py.testing.fixtures import wait_for
from tests.integration import test_operator_fast as fast
from tests.integration.test_operator_fast import (
    GROUP,
    REDIS,
    completed,
    condition,
    install,
    promise_body,
    request_body,
)

system, recorder = fast.system, fast.recorder  # the fast-mode platform and its recorded steps


def test_deleting_a_promise_runs_no_request_configure_pipeline_again(system, recorder):
    # Item 7: the Promise's cleanup deleted the requests' Jobs and each request reran.
    kube, _ = system
    install(kube, promise_body("first", delete="teardown"))
    kube.create(REDIS, request_body())
    completed(kube)
    kube.delete(r.PROMISES, "redis")
    wait_for(lambda: kube.get(r.PROMISES, "redis") is None, timeout=30, what="the Promise to go")
    assert recorder.count("first") == 1, "the request's configure pipeline did not run again"
    assert recorder.count("teardown") == 1


@pytest.mark.both_servers
def test_an_invalid_promise_being_deleted_is_not_stuck(system):
    # Item 10: validation ran before the deletion check.
    kube, _ = system
    install(kube, promise_body("first"))
    broken = copy.deepcopy(promise_body("first"))
    # Two configure pipelines of one name: the API accepts it, the Promise's validation does not.
    pipelines = broken["spec"]["workflows"]["resource"]["configure"]
    pipelines.append(copy.deepcopy(pipelines[0]))
    kube.patch(r.PROMISES, "redis", {"spec": {"workflows": broken["spec"]["workflows"]}})
    wait_for(
        lambda: condition(kube.get(r.PROMISES, "redis"), c.CONDITION_AVAILABLE).get("status") == "False",
        what="the Promise to report itself invalid",
    )
    kube.delete(r.PROMISES, "redis")
    wait_for(lambda: kube.get(r.PROMISES, "redis") is None, timeout=30, what="the invalid Promise to go")


def test_a_promise_missing_required_promises_is_not_reconciled(system):
    # Item 4: Reconciled was True, so `kubectl wait --for=condition=Reconciled` passed.
    kube, _ = system
    body = promise_body("first")
    body["spec"]["requiredPromises"] = [{"name": "database", "version": "v1"}]
    kube.create(r.PROMISES, body)
    promise = wait_for(
        lambda: (p := kube.get(r.PROMISES, "redis")) and condition(p, c.CONDITION_RECONCILED) and p,
        what="the Promise's Reconciled condition",
    )
    reconciled = condition(promise, c.CONDITION_RECONCILED)
    assert (reconciled["status"], reconciled["reason"]) == ("Unknown", "RequirementsNotFulfilled")
    available = condition(promise, c.CONDITION_AVAILABLE)
    assert (available["status"], available["reason"]) == ("False", "PromiseUnavailable")


def test_deleting_a_request_of_an_unresolvable_promise_spares_another_promises_namesake(system):
    # Item 1: Works were selected by resource name and work type only.
    kube, _ = system
    install(kube, promise_body("first"))
    other = promise_body("first", name="other")
    other["spec"]["api"]["metadata"]["name"] = f"others.{GROUP}"
    other["spec"]["api"]["spec"]["names"] = {"kind": "Other", "plural": "others", "singular": "other"}
    install(kube, other)
    others = k.Resource(GROUP, "v1alpha1", "others", True, "Other")
    kube.create(REDIS, request_body())
    kube.create(others, {**request_body(), "kind": "Other"})
    completed(kube)
    wait_for(
        lambda: kube.list(r.WORKS, "default", labels={c.LABEL_PROMISE_NAME: "other"}),
        what="the other Promise's namesake request to have its Work",
    )
    # The redis Promise cannot be resolved any more (its CRD loses its label), then its request goes.
    kube.patch(k.CRDS, f"redises.{GROUP}", {"metadata": {"labels": {c.LABEL_PROMISE_NAME: None}}})
    kube.delete(REDIS, "my-redis", "default")
    wait_for(lambda: kube.get(REDIS, "my-redis", "default") is None, timeout=30, what="the request to go")
    assert kube.list(r.WORKS, "default", labels={c.LABEL_PROMISE_NAME: "other"}), "the namesake kept its Work"
    assert kube.get(others, "my-redis", "default") is not None
