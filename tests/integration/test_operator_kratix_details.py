"""Kratix behaviour that scripts and users rely on, driven as Kratix's own system tests drive it.

Each test is modelled on one of syntasso/kratix's ``test/system`` suites: RBAC names and service
accounts (rbac_test.go), required Promises (compound_promise_test.go), retries after failure
(reconcile_after_failure_test.go), pause and unpause (the reconciliation suite) and the messages of
missing or broken state stores (destination and state-store suites). They run the real operator
against the local platform, with pipelines as in-process steps.
"""

from __future__ import annotations

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.operator import resources as r
from kratix_py.testing.fixtures import wait_for
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
