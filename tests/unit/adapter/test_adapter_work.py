"""The Work the work-writer produces: deterministic names, labels, and a spec the Work CRD accepts."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from kratix_py.adapter.work import WorkIdentity, WorkOwner, new_work, trace_annotations, updated_work
from kratix_py.contract import ANNOTATION_OWNER_UID
from kratix_py.core.ownership import owned_by
from kratix_py.core.workloads import DEFAULT_GROUP_ID, PipelineOutput, build_workload_groups

NOW = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")

PROMISE = WorkIdentity(
    promise_name="redis",
    pipeline_name="instance",
    workflow_type="promise",
    namespace="kratix-platform-system",
)
REQUEST = WorkIdentity(
    promise_name="redis",
    pipeline_name="configure",
    workflow_type="resource",
    namespace="team-a",
    resource_name="cache",
)


def _groups() -> list:
    return build_workload_groups(
        PipelineOutput(files={"a.yaml": b"a: 1\n"}), [], [], workflow_type="resource"
    )


def test_names_are_readable_and_have_no_random_suffix() -> None:
    assert PROMISE.name() == "redis-instance"
    assert REQUEST.name() == "redis-cache-configure"
    cross_namespace = WorkIdentity("redis", "configure", "resource", "pipelines", "cache", "team-a")
    assert cross_namespace.name() == "redis-cache-team-a-configure"


def test_long_names_are_cut_to_63_characters_with_a_stable_hash() -> None:
    long_request = WorkIdentity("redis", "configure", "resource", "team-a", resource_name="c" * 80)
    name = long_request.name()
    assert len(name) <= 63 and DNS_LABEL.fullmatch(name)
    assert name.startswith("redis-ccc") and name[-6] == "-"
    assert name == long_request.name()  # deterministic
    other = WorkIdentity("redis", "configure", "resource", "team-a", resource_name="c" * 79 + "d")
    assert other.name() != name  # same prefix, different identity


def test_names_with_characters_objects_cannot_have_are_cleaned_and_hashed() -> None:
    dotted = WorkIdentity("redis", "configure", "resource", "team-a", resource_name="my.cache")
    name = dotted.name()
    assert name.startswith("redis-my-cache-configure-") and DNS_LABEL.fullmatch(name)
    # "my-cache" must not collide with "my.cache"
    assert WorkIdentity("redis", "configure", "resource", "team-a", resource_name="my-cache").name() != name


def test_forced_hash_gives_an_alternative_name_for_a_taken_one() -> None:
    assert REQUEST.name(force_hash=True) != REQUEST.name()
    assert REQUEST.name(force_hash=True).startswith("redis-cache-configure-")


def test_labels_follow_the_kratix_work_labels() -> None:
    assert PROMISE.labels() == {
        "kratix.io/promise-name": "redis",
        "kratix.io/work-type": "promise",
        "kratix.io/pipeline-name": "instance",
    }
    assert REQUEST.labels(dry_run=True) == {
        "kratix.io/promise-name": "redis",
        "kratix.io/work-type": "resource",
        "kratix.io/pipeline-name": "configure",
        "kratix.io/resource-name": "cache",
        "kratix.io/dry-run": "true",
    }
    cross_namespace = WorkIdentity("redis", "configure", "resource", "pipelines", "cache", "team-a")
    assert cross_namespace.labels()["kratix.io/resource-namespace"] == "team-a"


def test_new_work_body() -> None:
    work = new_work(REQUEST, _groups(), now=NOW, annotations=trace_annotations("00-abc-01", None))
    assert work["apiVersion"] == "platform.kratix.io/v1alpha1"
    assert work["kind"] == "Work"
    assert work["metadata"] == {
        "name": "redis-cache-configure",
        "namespace": "team-a",
        "labels": REQUEST.labels(),
        "finalizers": ["kratix.io/work-cleanup"],  # the operator's, so it need not add it
        "annotations": {"kratix.io/trace-parent": "00-abc-01"},
    }
    spec = work["spec"]
    assert spec["promiseName"] == "redis"
    assert spec["resourceName"] == "cache"
    assert spec["lastExecutionTimestamp"] == "2024-05-01T10:00:00Z"
    assert [group["id"] for group in spec["workloadGroups"]] == [DEFAULT_GROUP_ID]


def test_promise_works_have_no_resource_name() -> None:
    assert "resourceName" not in new_work(PROMISE, [], now=NOW)["spec"]
    assert new_work(PROMISE, [], now=NOW)["spec"]["workloadGroups"] == []


def test_updated_work_replaces_the_spec_and_keeps_metadata_for_a_guarded_update() -> None:
    existing = new_work(REQUEST, [], now=NOW)
    existing["metadata"].update(resourceVersion="42", uid="u-1", annotations={"keep": "me"})
    existing["status"] = {"conditions": []}
    updated = updated_work(existing, REQUEST, _groups(), now=NOW, annotations={"kratix.io/trace-state": "s"})
    assert updated["metadata"]["resourceVersion"] == "42"
    assert updated["metadata"]["annotations"] == {"keep": "me", "kratix.io/trace-state": "s"}
    assert "status" not in updated
    assert len(updated["spec"]["workloadGroups"]) == 1
    assert existing["spec"]["workloadGroups"] == []  # the input is untouched


CACHE = WorkOwner("redis.example.com/v1", "Redis", "cache", "team-a", "uid-cache")


def test_works_are_owned_by_their_request_or_promise() -> None:
    work = new_work(REQUEST, _groups(), now=NOW, owner=CACHE)
    assert work["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "redis.example.com/v1",
            "kind": "Redis",
            "name": "cache",
            "uid": "uid-cache",
            "controller": True,
        }
    ]
    assert owned_by(work, {"metadata": {"uid": "uid-cache"}})
    promise = WorkOwner("platform.kratix.io/v1alpha1", "Promise", "redis", "", "uid-redis")
    assert (
        new_work(PROMISE, [], now=NOW, owner=promise)["metadata"]["ownerReferences"][0]["uid"] == "uid-redis"
    )


def test_an_owner_in_another_namespace_is_recorded_in_an_annotation() -> None:
    # Owner references cannot cross namespaces: the garbage collector would delete the Work.
    elsewhere = WorkIdentity("redis", "configure", "resource", "pipelines", "cache", "team-a")
    work = new_work(elsewhere, [], now=NOW, owner=CACHE)
    assert "ownerReferences" not in work["metadata"]
    assert work["metadata"]["annotations"] == {ANNOTATION_OWNER_UID: "uid-cache"}


def test_an_update_adopts_a_work_without_owner_and_keeps_other_references() -> None:
    existing = new_work(REQUEST, [], now=NOW)
    other = {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "uid-x"}
    stale = {**other, "uid": "uid-stale", "controller": True}
    existing["metadata"]["ownerReferences"] = [other, stale]
    updated = updated_work(existing, REQUEST, _groups(), now=NOW, owner=CACHE)
    assert [ref["uid"] for ref in updated["metadata"]["ownerReferences"]] == ["uid-x", "uid-cache"]
