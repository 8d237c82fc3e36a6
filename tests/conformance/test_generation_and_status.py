"""generation, no-op writes, and the status subresource."""

from __future__ import annotations

import threading
from typing import Any

from kubernetes import watch

from .conftest import Kube


def _thing(group: str, name: str, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": f"{group}/v1", "kind": "Thing", "metadata": {"name": name}, **fields}


def test_generation_moves_only_with_the_spec(kube: Kube) -> None:
    group = kube.group()
    kube.create_crd("Thing", group=group)
    c = kube.custom
    args = (group, "v1", kube.namespace, "things", "a")
    c.create_namespaced_custom_object(
        group, "v1", kube.namespace, "things", _thing(group, "a", spec={"size": 1})
    )
    assert (
        c.patch_namespaced_custom_object(
            *args, {"metadata": {"labels": {"l": "1"}, "annotations": {"n": "x"}}}
        )["metadata"]["generation"]
        == 1
    )
    assert (
        c.patch_namespaced_custom_object(*args, {"metadata": {"finalizers": ["example.com/f"]}})["metadata"][
            "generation"
        ]
        == 1
    )
    assert (
        c.patch_namespaced_custom_object_status(*args, {"status": {"phase": "Ready"}})["metadata"][
            "generation"
        ]
        == 1
    )
    assert c.patch_namespaced_custom_object(*args, {"spec": {"size": 2}})["metadata"]["generation"] == 2
    assert c.patch_namespaced_custom_object(*args, {"spec": {"size": 2}})["metadata"]["generation"] == 2
    c.patch_namespaced_custom_object(*args, {"metadata": {"finalizers": None}})


def test_a_no_op_write_keeps_the_resource_version_and_emits_no_event(kube: Kube) -> None:
    group = kube.group()
    kube.create_crd("Thing", group=group)
    c = kube.custom
    args = (group, "v1", kube.namespace, "things", "a")
    created = c.create_namespaced_custom_object(
        group,
        "v1",
        kube.namespace,
        "things",
        _thing(group, "a", spec={"size": 1}, metadata={"name": "a", "labels": {"x": "1"}}),
    )
    rv = created["metadata"]["resourceVersion"]
    assert c.patch_namespaced_custom_object(*args, {"spec": {"size": 1}})["metadata"]["resourceVersion"] == rv
    assert (
        c.patch_namespaced_custom_object(*args, {"metadata": {"labels": {"x": "1"}}})["metadata"][
            "resourceVersion"
        ]
        == rv
    )
    assert c.replace_namespaced_custom_object(*args, created)["metadata"]["resourceVersion"] == rv
    cm = kube.core.create_namespaced_config_map(
        kube.namespace, {"metadata": {"name": "cm"}, "data": {"a": "1"}}
    )
    assert (
        kube.core.patch_namespaced_config_map(
            "cm", kube.namespace, {"data": {"a": "1"}}
        ).metadata.resource_version
        == cm.metadata.resource_version
    )

    # A watch from the creation sees the one real change, not the no-ops.
    seen: list[tuple[str, str]] = []
    w = watch.Watch()
    c.patch_namespaced_custom_object(*args, {"spec": {"size": 3}})
    for event in w.stream(
        c.list_namespaced_custom_object,
        group,
        "v1",
        kube.namespace,
        "things",
        resource_version=rv,
        timeout_seconds=1,
    ):
        seen.append((event["type"], str(event["object"]["spec"]["size"])))
        if event["object"]["spec"]["size"] == 3:
            w.stop()
    assert seen == [("MODIFIED", "3")]


def test_status_subresource_separates_spec_and_status(kube: Kube) -> None:
    group = kube.group()
    kube.create_crd("Thing", group=group, status=True)
    c = kube.custom
    args = (group, "v1", kube.namespace, "things", "a")
    created = c.create_namespaced_custom_object(
        group,
        "v1",
        kube.namespace,
        "things",
        _thing(group, "a", spec={"size": 1}, status={"phase": "Set at create"}),
    )
    assert "status" not in created  # create ignores status when there is a status subresource
    after_main = c.patch_namespaced_custom_object(*args, {"spec": {"size": 2}, "status": {"phase": "Main"}})
    assert "status" not in after_main
    after_status = c.patch_namespaced_custom_object_status(
        *args, {"spec": {"size": 99}, "status": {"phase": "Ready"}}
    )
    assert after_status["status"] == {"phase": "Ready"}
    assert after_status["spec"] == {"size": 2}
    replaced = c.replace_namespaced_custom_object_status(
        *args, {**after_status, "status": {"phase": "Replaced"}}
    )
    assert replaced["status"] == {"phase": "Replaced"}
    assert c.get_namespaced_custom_object_status(*args)["status"] == {"phase": "Replaced"}


def test_without_a_status_subresource_status_is_part_of_the_object(kube: Kube) -> None:
    group = kube.group()
    kube.create_crd("Thing", group=group, status=False)
    c = kube.custom
    args = (group, "v1", kube.namespace, "things", "a")
    created = c.create_namespaced_custom_object(
        group, "v1", kube.namespace, "things", _thing(group, "a", status={"phase": "New"})
    )
    assert created["status"] == {"phase": "New"}
    patched = c.patch_namespaced_custom_object(*args, {"status": {"phase": "Done"}})
    assert patched["status"] == {"phase": "Done"}
    assert patched["metadata"]["generation"] == 2  # status is not special here
    docs = kube.raw("GET", f"/apis/{group}/v1").body["resources"]
    assert "things/status" not in {r["name"] for r in docs}


def test_built_in_status_subresource(kube: Kube) -> None:
    job = {
        "metadata": {"name": "job"},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
            }
        },
    }
    kube.batch.create_namespaced_job(kube.namespace, job)
    patched = kube.batch.patch_namespaced_job_status("job", kube.namespace, {"status": {"succeeded": 1}})
    assert patched.status.succeeded == 1
    main = kube.batch.patch_namespaced_job(
        "job", kube.namespace, {"status": {"succeeded": 5}, "metadata": {"labels": {"x": "y"}}}
    )
    assert main.status.succeeded == 1
    assert main.metadata.labels["x"] == "y"


def test_concurrent_writers_one_wins(kube: Kube) -> None:
    cm = kube.core.create_namespaced_config_map(
        kube.namespace, {"metadata": {"name": "cm"}, "data": {"n": "0"}}
    )
    results: list[int] = []

    def write(value: str) -> None:
        body = {
            "metadata": {"name": "cm", "resourceVersion": cm.metadata.resource_version},
            "data": {"n": value},
        }
        response = kube.raw("PUT", f"/api/v1/namespaces/{kube.namespace}/configmaps/cm", body)
        results.append(response.status)

    threads = [threading.Thread(target=write, args=(str(i + 1),)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 409, 409, 409]
