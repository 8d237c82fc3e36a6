"""Table output (``Accept: ...;as=Table;g=meta.k8s.io;v=v1``), which ``kubectl get`` prints."""

from __future__ import annotations

from .conftest import Kube

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"

COLUMNS = [
    {"name": "Size", "type": "string", "jsonPath": ".spec.size"},
    {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
    {"name": "First-Item", "type": "string", "jsonPath": ".spec.items[0].name"},
    {"name": "All-Names", "type": "string", "jsonPath": ".spec.items[*].name", "priority": 1},
    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


def test_custom_resource_table_uses_printer_columns(kube: Kube) -> None:
    group = kube.group()
    kube.create_crd("Widget", group=group, printer_columns=COLUMNS)
    kube.custom.create_namespaced_custom_object(
        group,
        "v1",
        kube.namespace,
        "widgets",
        {
            "apiVersion": f"{group}/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"size": "small", "replicas": 3, "items": [{"name": "first"}, {"name": "second"}]},
        },
    )
    kube.custom.patch_namespaced_custom_object_status(
        group,
        "v1",
        kube.namespace,
        "widgets",
        "w",
        {
            "status": {
                "conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}]
            }
        },
    )
    table = kube.raw("GET", f"/apis/{group}/v1/namespaces/{kube.namespace}/widgets", accept=TABLE).body
    assert table["kind"] == "Table"
    assert table["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "Size",
        "Ready",
        "First-Item",
        "All-Names",
        "Replicas",
        "Age",
    ]
    assert table["columnDefinitions"][4]["priority"] == 1
    cells = table["rows"][0]["cells"]
    assert cells[:6] == ["w", "small", "True", "first", "first", 3]
    assert cells[6].endswith("s")  # an age such as "0s"
    assert table["rows"][0]["object"]["metadata"]["name"] == "w"
    single = kube.raw("GET", f"/apis/{group}/v1/namespaces/{kube.namespace}/widgets/w", accept=TABLE).body
    assert single["kind"] == "Table" and single["rows"][0]["cells"][1] == "small"


def test_custom_resource_without_columns_shows_name_and_age(kube: Kube) -> None:
    group = kube.group()
    kube.create_crd("Plain", group=group)
    kube.custom.create_namespaced_custom_object(
        group,
        "v1",
        kube.namespace,
        "plains",
        {"apiVersion": f"{group}/v1", "kind": "Plain", "metadata": {"name": "p"}},
    )
    table = kube.raw("GET", f"/apis/{group}/v1/namespaces/{kube.namespace}/plains", accept=TABLE).body
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Age"]


def test_built_in_tables(kube: Kube) -> None:
    kube.core.create_namespaced_config_map(
        kube.namespace, {"metadata": {"name": "cm"}, "data": {"a": "1", "b": "2"}}
    )
    table = kube.raw("GET", f"/api/v1/namespaces/{kube.namespace}/configmaps", accept=TABLE).body
    names = [c["name"] for c in table["columnDefinitions"]]
    assert names[0] == "Name" and names[-1] == "Age"
    row = next(r for r in table["rows"] if r["cells"][0] == "cm")
    assert row["cells"][names.index("Data")] == 2
    job = {
        "metadata": {"name": "job"},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
            }
        },
    }
    kube.batch.create_namespaced_job(kube.namespace, job)
    jobs = kube.raw("GET", f"/apis/batch/v1/namespaces/{kube.namespace}/jobs", accept=TABLE).body
    columns = [c["name"] for c in jobs["columnDefinitions"]]
    assert "Completions" in columns
    assert jobs["rows"][0]["cells"][columns.index("Completions")] == "0/1"


def test_metadata_only_responses(kube: Kube) -> None:
    kube.core.create_namespaced_config_map(
        kube.namespace, {"metadata": {"name": "cm", "labels": {"a": "b"}}, "data": {"big": "x"}}
    )
    accept = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json"
    listed = kube.raw("GET", f"/api/v1/namespaces/{kube.namespace}/configmaps", accept=accept).body
    assert listed["kind"] == "PartialObjectMetadataList"
    item = next(i for i in listed["items"] if i["metadata"]["name"] == "cm")
    assert item["metadata"]["labels"] == {"a": "b"} and "data" not in item
    accept = "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io,application/json"
    single = kube.raw("GET", f"/api/v1/namespaces/{kube.namespace}/configmaps/cm", accept=accept).body
    assert single["kind"] == "PartialObjectMetadata" and "data" not in single


def _pod_status(kube: Kube, name: str, phase: str, exit_code: int, reason: str) -> list[str]:
    kube.core.create_namespaced_pod(
        kube.namespace,
        {
            "metadata": {"name": name},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]},
        },
    )
    terminated = {"exitCode": exit_code, "reason": reason, "startedAt": None, "finishedAt": None}
    kube.core.patch_namespaced_pod_status(
        name,
        kube.namespace,
        {
            "status": {
                "phase": phase,
                "containerStatuses": [
                    {
                        "name": "c",
                        "image": "busybox",
                        "imageID": "",
                        "ready": False,
                        "restartCount": 0,
                        "state": {"terminated": terminated},
                    }
                ],
            }
        },
    )
    table = kube.raw("GET", f"/api/v1/namespaces/{kube.namespace}/pods/{name}", accept=TABLE).body
    columns = [c["name"] for c in table["columnDefinitions"]]
    return [table["rows"][0]["cells"][columns.index(column)] for column in ("Ready", "Status")]


def test_finished_pods_show_their_container_reason_as_kubectl_does(kube: Kube) -> None:
    # A cluster prints Completed (not the phase Succeeded) for a pipeline pod that finished.
    assert _pod_status(kube, "done", "Succeeded", 0, "Completed") == ["0/1", "Completed"]
    assert _pod_status(kube, "broken", "Failed", 3, "Error") == ["0/1", "Error"]
