"""The operator caches pipeline pods as summaries: what it reads of them, not the whole spec."""

from __future__ import annotations

from kratix_py.core import redact
from kratix_py.operator.app import _pod_summary

POD = {
    "metadata": {
        "name": "kratix-redis-configure-abc12-x7",
        "namespace": "default",
        "labels": {"job-name": "kratix-redis-configure-abc12", "controller-uid": "u1"},
        "managedFields": [{"manager": "kube-controller-manager"}],
    },
    "spec": {
        "serviceAccountName": "redis-default-resource-configure",
        "initContainers": [
            {
                "name": "reader",
                "image": "kratix-py:dev",
                "command": ["kratix-py", "adapter", "reader"],
                "volumeMounts": [{"name": "input", "mountPath": "/kratix/input"}],
            }
        ],
        "containers": [
            {
                "name": "main",
                "image": "ghcr.io/example/redis-pipeline:v1",
                "env": [
                    {"name": "PLAIN", "value": "x"},
                    {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}},
                ],
                "envFrom": [{"secretRef": {"name": "db"}}],
            }
        ],
        "volumes": [
            {"name": "input", "emptyDir": {}},
            {"name": "creds", "secret": {"secretName": "creds"}},
            {"name": "mixed", "projected": {"sources": [{"secret": {"name": "proj"}}]}},
        ],
    },
    "status": {
        "phase": "Running",
        "containerStatuses": [{"name": "main", "state": {"terminated": {"exitCode": 1}}, "restartCount": 0}],
    },
}


def test_a_pod_summary_keeps_the_status_and_every_secret_it_reads():
    summary = _pod_summary(POD)
    assert summary["status"] == POD["status"]
    assert summary["metadata"]["labels"] == POD["metadata"]["labels"]
    assert "managedFields" not in summary["metadata"]
    assert redact.secret_references(summary["spec"]) == redact.secret_references(POD["spec"])
    assert {ref.name for ref in redact.secret_references(summary["spec"])} == {"api", "db", "creds", "proj"}


def test_a_pod_summary_drops_what_no_reconciler_reads():
    spec = _pod_summary(POD)["spec"]
    containers = [*spec["initContainers"], *spec["containers"]]
    assert [c["name"] for c in containers] == ["reader", "main"]
    assert not any("image" in c or "command" in c or "volumeMounts" in c for c in containers)
    assert "serviceAccountName" not in spec
    assert [v["name"] for v in spec["volumes"]] == ["creds", "mixed"]
    assert "spec" in POD and POD["spec"]["containers"][0]["image"], "the pod given is not changed"


def test_a_succeeded_pod_is_kept_as_its_metadata_only():
    done = {**POD, "status": {"phase": "Succeeded", "containerStatuses": POD["status"]["containerStatuses"]}}
    summary = _pod_summary(done)
    assert summary["status"] == {"phase": "Succeeded"} and summary["spec"] == {}
    assert summary["metadata"]["labels"]["controller-uid"] == "u1", "still found by its Job"
