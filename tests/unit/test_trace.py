"""The trace tree's rules, from hand-made objects (the end-to-end run is tests/integration/test_trace.py)."""

from __future__ import annotations

import json
from typing import Any

from kratix_py import contract as c
from kratix_py.trace import JobLog, Snapshot, build, is_sub_request, not_ready, render, to_json

SECRET = "hunter2-very-secret"


def cond(kind: str, status: bool, reason: str = "", message: str = "") -> dict[str, Any]:
    return {"type": kind, "status": "True" if status else "False", "reason": reason, "message": message}


def request(*conditions: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "test.kratix.io/v1alpha1",
        "kind": "Cache",
        "metadata": {"name": "my-cache", "namespace": "default"},
        "status": {"conditions": list(conditions)},
    }


def job(name: str, pipeline: str, created: str, *, failed: bool = False, attempts: int = 1) -> dict[str, Any]:
    status: dict[str, Any] = {
        "conditions": [cond("Failed" if failed else "Complete", True, "BackoffLimitExceeded")]
    }
    status["failed" if failed else "succeeded"] = attempts
    return {
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": "default",
            "creationTimestamp": created,
            "labels": {c.LABEL_PIPELINE_NAME: pipeline, c.LABEL_WORKFLOW_ACTION: "configure"},
        },
        "status": status,
    }


def work(ready: bool = True) -> dict[str, Any]:
    return {
        "kind": "Work",
        "metadata": {
            "name": "cache-my-cache-instance",
            "namespace": "default",
            "labels": {c.LABEL_PIPELINE_NAME: "instance"},
        },
        "spec": {"promiseName": "cache", "resourceName": "my-cache"},
        "status": {"conditions": [cond("Ready", ready, "", "Ready" if ready else "Misplaced")]},
    }


def placement(ready: bool = True, destination: str = "dev") -> dict[str, Any]:
    return {
        "kind": "WorkPlacement",
        "metadata": {
            "name": "cache-my-cache-instance-dev-5058f",
            "namespace": "default",
            "labels": {c.LABEL_WORK: "cache-my-cache-instance", c.LABEL_PIPELINE_NAME: "instance"},
        },
        "spec": {
            "targetDestinationName": destination,
            "promiseName": "cache",
            "resourceName": "my-cache",
            "id": "5058f1af8388633f609cadb75a75dc9d",
        },
        "status": {"conditions": [cond("Ready", ready)], "versionID": "0123456789abcdef0123"},
    }


DESTINATION = {
    "kind": "Destination",
    "metadata": {"name": "dev"},
    "spec": {"path": "dev", "stateStoreRef": {"kind": "GitStateStore", "name": "git"}},
    "status": {"conditions": [cond("Ready", True)]},
}
STORE = {
    "kind": "GitStateStore",
    "metadata": {"name": "git"},
    "spec": {"url": "https://git.example/kratix.git", "branch": "main"},
    "status": {"conditions": [cond("Ready", True)]},
}


def snapshot(**overrides: Any) -> Snapshot:
    values: dict[str, Any] = {
        "root": request(cond("Reconciled", True)),
        "jobs": [
            job("p1-b", "instance", "2026-01-01T00:00:05Z"),
            job("p1-a", "instance", "2026-01-01T00:00:01Z"),
        ],
        "works": [work()],
        "placements": [placement()],
        "destinations": {"dev": DESTINATION},
        "stores": {("GitStateStore", "git"): STORE},
    }
    values.update(overrides)
    return Snapshot(**values)


def test_a_green_path_has_every_link_and_the_store_path_and_commit():
    tree = build(snapshot())
    assert not_ready(tree) == []
    kinds = [child.kind for child in tree.children]
    assert kinds == ["Job", "Work"]
    job_node = tree.children[0]
    assert job_node.name == "p1-b", "the latest Job of the pipeline"
    assert job_node.details["runs"] == "2" and job_node.details["attempts"] == "1"
    placement_node = tree.children[1].children[0]
    assert placement_node.details["path"] == "dev/resources/default/cache/my-cache/instance/5058f"
    store = placement_node.children[0].children[0]
    assert store.kind == "GitStateStore" and store.details["versionID"] == "0123456789abcdef0123"
    text = render(tree)
    assert text.splitlines()[0].startswith("NAME") and "READY" in text.splitlines()[0]
    assert "└── GitStateStore/git" in text and "@0123456789ab" in text
    assert "versionID=0123456789abcdef0123" in render(tree, wide=True)
    assert (
        json.loads(to_json(tree))["children"][1]["children"][0]["details"]["versionID"]
        == "0123456789abcdef0123"
    )


def test_a_failed_job_shows_its_log_tail_masked_and_makes_the_path_not_ready():
    log = JobLog(
        "p1-b-pod", "main", "\n".join(f"line {n}" for n in range(30)) + f"\npassword {SECRET} refused\n"
    )
    tree = build(
        snapshot(
            root=request(cond("Reconciled", False, "ConfigureWorkflowFailed", "pipeline instance failed")),
            jobs=[job("p1-b", "instance", "2026-01-01T00:00:05Z", failed=True, attempts=3)],
            logs={"p1-b": log},
            secret_values=[SECRET],
        )
    )
    failing = not_ready(tree)
    assert [node.kind for node in failing] == ["Cache", "Job"]
    job_node = failing[1]
    assert job_node.details["attempts"] == "3" and job_node.details["phase"] == "Failed"
    assert len(job_node.log) == 10 and job_node.log[-1] == "password *** refused"
    assert SECRET not in render(tree) and SECRET not in to_json(tree)
    assert "ConfigureWorkflowFailed: pipeline instance failed" in render(tree)


def test_logs_whose_secrets_cannot_be_read_are_not_shown():
    tree = build(
        snapshot(
            jobs=[job("p1-b", "instance", "2026-01-01T00:00:05Z", failed=True)],
            logs={"p1-b": JobLog("pod", "main", f"token {SECRET}")},
            logs_hidden=True,
        )
    )
    assert SECRET not in to_json(tree)
    assert "could not be read" in tree.children[0].log[0]


def test_missing_destination_and_store_are_named():
    tree = build(snapshot(destinations={}))
    assert [(n.kind, n.status) for n in not_ready(tree)] == [("Destination", "NotFound")]
    tree = build(snapshot(stores={}))
    assert [(n.kind, n.name, n.status) for n in not_ready(tree)] == [("GitStateStore", "git", "NotFound")]


def test_appliers_match_by_path_and_judge_flux_and_argo():
    flux = {
        "kind": "Kustomization",
        "metadata": {"name": "kratix-workload-resources", "namespace": "flux-system"},
        "spec": {"path": "./dev/resources"},
        "status": {"conditions": [cond("Ready", True)], "lastAppliedRevision": "main@sha1:0123"},
    }
    other = {
        **flux,
        "metadata": {"name": "elsewhere", "namespace": "flux-system"},
        "spec": {"path": "./prod"},
    }
    argo = {
        "kind": "Application",
        "metadata": {"name": "dev-resources", "namespace": "argocd"},
        "spec": {"source": {"path": "dev/resources/"}},
        "status": {"sync": {"status": "OutOfSync"}, "health": {"status": "Degraded", "message": "crashloop"}},
    }
    tree = build(snapshot(appliers=[flux, other, argo]))
    store = tree.children[1].children[0].children[0].children[0]
    assert [(n.kind, n.name, n.ready) for n in store.children] == [
        ("Application", "dev-resources", False),
        ("Kustomization", "kratix-workload-resources", True),
    ]
    assert store.children[0].status == "OutOfSync/Degraded"
    tree = build(snapshot(appliers=[other]))
    assert [(n.kind, n.status) for n in not_ready(tree)] == [("GitOps", "NotApplied")]
    assert build(snapshot(appliers=None)).children[1].children[0].children[0].children[0].children == []


def test_sub_requests_hang_under_their_parent_and_count_for_the_verdict():
    child = snapshot(
        root={
            **request(cond("Reconciled", False, "Pending")),
            "metadata": {"name": "child", "namespace": "default"},
        }
    )
    tree = build(snapshot(children=[child]))
    assert tree.children[-1].name == "child"
    assert [n.name for n in not_ready(tree)] == ["child"]


def test_a_promise_is_judged_by_its_availability():
    promise = {"kind": "Promise", "metadata": {"name": "cache"}, "status": {"status": "Unavailable"}}
    tree = build(Snapshot(root=promise, is_promise=True))
    assert (tree.kind, tree.ready, tree.status) == ("Promise", False, "Unavailable")
    promise["status"] = {"status": "Available"}
    assert build(Snapshot(root=promise, is_promise=True)).ready is True


def test_sub_requests_are_found_by_kratix_labels_the_older_parent_labels_or_an_owner():
    parent = {"metadata": {"name": "shop", "namespace": "team-a", "uid": "u-1"}}

    def candidate(labels: dict[str, str], owners: list[dict[str, str]] | None = None) -> dict[str, Any]:
        return {"metadata": {"name": "db", "namespace": "team-a", "uid": "u-2", "labels": labels,
                             "ownerReferences": owners or []}}  # fmt: skip

    component = {
        c.LABEL_COMPONENT_OF_PROMISE_NAME: "app",
        c.LABEL_COMPONENT_OF_RESOURCE_NAME: "shop",
        c.LABEL_COMPONENT_OF_RESOURCE_NAMESPACE: "team-a",
    }
    assert is_sub_request(candidate(component), parent, "app")
    assert not is_sub_request(candidate(component), parent, "other-promise")
    assert not is_sub_request(
        candidate({**component, c.LABEL_COMPONENT_OF_RESOURCE_NAMESPACE: "b"}), parent, "app"
    )
    assert is_sub_request(candidate({c.LABEL_PARENT_RESOURCE_NAME: "shop"}), parent, "app")
    assert not is_sub_request(candidate({c.LABEL_PARENT_RESOURCE_NAME: "other"}), parent, "app")
    assert is_sub_request(candidate({}, [{"uid": "u-1"}]), parent, "app")
    assert not is_sub_request(candidate({}, [{"uid": "u-9"}]), parent, "app")
    assert not is_sub_request(
        {**parent, "metadata": {**parent["metadata"], "labels": component}}, parent, "app"
    )


def test_declared_pipelines_without_a_job_show_as_not_started():
    tree = build(
        snapshot(
            jobs=[job("p1-b", "instance", "2026-01-01T00:00:05Z", failed=True)],
            pipelines=["instance", "publish"],
        )
    )
    assert [(n.kind, n.name, n.status, n.ready) for n in tree.children[:2]] == [
        ("Job", "p1-b", "Failed", False),
        ("Pipeline", "publish", "NotStarted", None),
    ]
    assert "Pipeline/publish" in render(tree) and "-      NotStarted" in render(tree)


def test_credentials_in_a_store_url_are_not_shown():
    store = {**STORE, "spec": {"url": f"https://kratix:{SECRET}@git.example/kratix.git"}}
    tree = build(snapshot(stores={("GitStateStore", "git"): store}))
    assert SECRET not in to_json(tree) and SECRET not in render(tree, wide=True)
    assert "url=https://git.example/kratix.git" in render(tree, wide=True)


def test_the_latest_job_is_found_by_run_and_attempt_even_when_created_in_the_same_second():
    def annotated(name: str, run: int, attempt: int, failed: bool) -> dict[str, Any]:
        body = job(name, "instance", "2026-01-01T00:00:05Z", failed=failed)
        body["metadata"]["annotations"] = {
            "kratix.io/run-id": str(run),
            "kratix.io/pipeline-index": "0",
            "kratix.io/attempt": str(attempt),
        }
        return body

    jobs = [annotated("zz-first", 1, 1, True), annotated("aa-retry", 1, 2, False)]
    node = build(snapshot(jobs=jobs)).children[0]
    assert (node.name, node.status, node.details["attempts"], node.details["runs"]) == (
        "aa-retry",
        "Succeeded",
        "2",
        "2",
    )
