"""The API models parse Kratix-format documents, give the wire format back, and reject mistakes
with errors that name the field."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from kratix_py.api import (
    BucketStateStore,
    Condition,
    Container,
    Destination,
    DestinationSelector,
    DestinationSpec,
    GitStateStore,
    KubeObject,
    ObjectMeta,
    Pipeline,
    Promise,
    StateStoreRef,
    Work,
    Workload,
    WorkPlacement,
    squash_destination_selectors,
    validation_message,
)
from kratix_py.contract import (
    DEFAULT_WORKLOAD_GROUP_ID,
    FINALIZER_DYNAMIC_CONTROLLER_DEPENDANT_RESOURCES_CLEANUP,
    LABEL_TARGET_DESTINATION_NAME,
    PROMISE_FINALIZERS,
    WorkflowAction,
    WorkflowType,
)

DATA = Path(__file__).parent / "data"
KIND_MODELS: dict[str, type[KubeObject]] = {
    model.KIND: model
    for model in (Promise, Destination, GitStateStore, BucketStateStore, Work, WorkPlacement)
}


def documents(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((DATA / name).read_text()) if doc]


def parse(doc: dict[str, Any]) -> KubeObject:
    return KIND_MODELS[doc["kind"]].model_validate(doc)


def errors_of(model: type[KubeObject], doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(dotted location, message) of every validation error."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate(doc)
    return [(".".join(str(part) for part in error["loc"]), error["msg"]) for error in caught.value.errors()]


def pipeline_doc(name: str = "configure", **spec: Any) -> dict[str, Any]:
    spec.setdefault("containers", [{"name": "main", "image": "example.com/main:v1"}])
    return {
        "apiVersion": "platform.kratix.io/v1alpha1",
        "kind": "Pipeline",
        "metadata": {"name": name},
        "spec": spec,
    }


def promise_doc(name: str = "redis", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "platform.kratix.io/v1alpha1",
        "kind": "Promise",
        "metadata": {"name": name},
        "spec": spec,
    }


@pytest.fixture
def redis() -> dict[str, Any]:
    (doc,) = documents("promise-redis.yaml")
    return doc


# --- parsing real documents -----------------------------------------------------------------------


def test_promise_fields_are_reachable_by_python_names(redis: dict[str, Any]) -> None:
    promise = Promise.model_validate(redis)

    assert promise.promise_version == "v0.2.0"
    assert [r.name for r in promise.spec.required_promises] == ["namespace", "secrets"]
    assert promise.spec.required_promises[1].version is None
    assert [d["kind"] for d in promise.spec.dependencies] == ["Namespace", "Deployment"]
    configure = promise.pipelines(WorkflowType.RESOURCE, WorkflowAction.CONFIGURE)
    assert [p.name for p in configure] == ["instance-configure", "instance-notify"]
    first = configure[0]
    assert first.metadata.labels == {"team": "data"}
    assert first.spec.job_options.backoff_limit == 2
    assert first.spec.image_pull_secrets[0].name == "registry-credentials"
    assert first.spec.rbac.permissions[0].resource_namespace == "*"
    assert first.spec.rbac.permissions[1].resource_names == ["redis-operator"]
    assert first.spec.containers[0].env[1]["valueFrom"]["secretKeyRef"]["key"] == "token"
    assert first.spec.containers[0].image_pull_policy == "IfNotPresent"
    assert first.spec.restart_policy == "OnFailure"  # defaulted
    assert configure[1].spec.restart_policy == "Never"
    assert promise.pipelines(WorkflowType.PROMISE, WorkflowAction.CONFIGURE)[0].name == "promise-configure"
    assert promise.reconciliation_interval() == timedelta(hours=1, minutes=30)


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [("1m", timedelta(minutes=1)), ("2h", timedelta(hours=2)), ("30s", None), ("soon", None)],
)
def test_the_reconciliation_interval_annotation_wins_when_it_is_at_least_a_minute(
    redis: dict[str, Any], annotation: str, expected: timedelta | None
) -> None:
    # Kratix reads kratix.io/reconciliation-interval first and ignores values it cannot use.
    body = copy.deepcopy(redis)
    body["metadata"].setdefault("annotations", {})["kratix.io/reconciliation-interval"] = annotation
    promise = Promise.model_validate(body)
    assert promise.reconciliation_interval() == (expected or timedelta(hours=1, minutes=30))


def test_request_gvk_uses_the_storage_version_not_the_first(redis: dict[str, Any]) -> None:
    gvk = Promise.model_validate(redis).request_gvk()

    assert gvk is not None
    assert (gvk.group, gvk.version, gvk.kind, gvk.plural, gvk.singular) == (
        "marketplace.kratix.io",
        "v1beta1",
        "redis",
        "redis",
        "redis",
    )
    assert gvk.api_version == "marketplace.kratix.io/v1beta1"
    assert gvk.crd_name == "redis.marketplace.kratix.io"


def test_request_gvk_falls_back_to_the_first_version(redis: dict[str, Any]) -> None:
    for version in redis["spec"]["api"]["spec"]["versions"]:
        version.pop("storage")
    gvk = Promise.model_validate(redis).request_gvk()
    assert gvk is not None and gvk.version == "v1alpha1"


@pytest.mark.parametrize("api", ["absent", None, {}])
def test_a_promise_without_api_is_dependencies_only(api: Any) -> None:
    doc = promise_doc(dependencies=[{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}])
    if api != "absent":
        doc["spec"]["api"] = api

    promise = Promise.model_validate(doc)

    assert promise.api_crd() is None
    assert promise.request_gvk() is None
    assert not promise.has_api


def test_destination_selectors_squash_with_the_first_entry_winning(redis: dict[str, Any]) -> None:
    promise = Promise.model_validate(redis)
    assert promise.destination_selector_labels() == {"environment": "dev", "zone": "eu-west"}
    assert squash_destination_selectors([]) == {}
    assert squash_destination_selectors(
        [DestinationSelector(match_labels={"a": "1"}), DestinationSelector(match_labels={"a": "2", "b": "3"})]
    ) == {"a": "1", "b": "3"}


def test_pipeline_id_joins_promise_type_action_and_name(redis: dict[str, Any]) -> None:
    pipeline = Promise.model_validate(redis).delete_pipeline(WorkflowType.RESOURCE)
    assert pipeline is not None
    assert pipeline.pipeline_id("redis", WorkflowType.RESOURCE, WorkflowAction.DELETE) == (
        "redis-resource-delete-instance-delete"
    )


def test_destination_and_state_store_defaults() -> None:
    user_destination, _ = documents("destinations.yaml")
    git, _, bucket, _ = documents("statestores.yaml")

    destination = Destination.model_validate(user_destination)
    git_store = GitStateStore.model_validate(git)
    bucket_store = BucketStateStore.model_validate(bucket)

    assert destination.labels == {"environment": "dev", "zone": "eu-west"}
    assert destination.spec.filepath.mode == "nestedByMetadata"
    assert destination.spec.filepath.filename == "aggregated.yaml"
    assert destination.spec.cleanup == "none"
    assert destination.spec.init_workloads.enabled is True
    assert destination.spec.strict_match_labels is False
    assert git_store.spec.branch == "main"
    assert git_store.spec.auth_method == "basicAuth"
    assert git_store.spec.secret_ref is not None and git_store.spec.secret_ref.namespace == "default"
    assert git_store.spec.git_author.name == "kratix"
    assert git_store.spec.insecure_skip_tls_verify is False  # TLS verified unless opted out
    assert bucket_store.spec.auth_method == "accessKey"
    assert bucket_store.spec.use_dual_stack is False


def test_work_and_placement_fields() -> None:
    work_doc, placement_doc = documents("works.yaml")
    work = Work.model_validate(work_doc)
    placement = WorkPlacement.model_validate(placement_doc)

    group = work.spec.workload_groups[0]
    assert group.id == DEFAULT_WORKLOAD_GROUP_ID
    assert [s.source for s in group.destination_selectors] == ["promise", "resource-workflow"]
    assert b"kind: RedisFailover" in group.workloads[0].data()
    assert not work.is_dependency
    assert work.status.condition("Ready") is not None
    assert work.status.is_true("ScheduleSucceeded")
    assert work.spec.last_execution_timestamp == datetime(2025, 3, 4, 11, 0, tzinfo=UTC)
    assert placement.status.version_id == "9c1e5a7f3b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f"
    assert placement.metadata.labels[LABEL_TARGET_DESTINATION_NAME] == "worker-1"
    assert placement.metadata.owner_references[0].controller is True
    assert placement.status.condition("Missing") is None


# --- wire format ----------------------------------------------------------------------------------

STORED = [
    ("promise-stored.yaml", 0),
    ("destinations.yaml", 1),
    ("statestores.yaml", 1),
    ("statestores.yaml", 3),
    ("works.yaml", 0),
    ("works.yaml", 1),
]


@pytest.mark.parametrize(("filename", "index"), STORED)
def test_objects_as_stored_round_trip_byte_for_byte(filename: str, index: int) -> None:
    doc = documents(filename)[index]
    model = parse(doc)

    # Both spellings give the wire format back unchanged: no added empty lists, no lost fields.
    assert model.to_dict() == doc
    assert model.model_dump(by_alias=True, exclude_none=True) == doc
    assert yaml.safe_dump(model.model_dump(by_alias=True, exclude_none=True))  # plain data, no datetimes


@pytest.mark.parametrize(
    "filename",
    ["promise-redis.yaml", "destinations.yaml", "statestores.yaml", "works.yaml", "promise-stored.yaml"],
)
def test_dumping_is_idempotent(filename: str) -> None:
    for doc in documents(filename):
        once = parse(doc).to_dict()
        assert parse(once).to_dict() == once


def test_dump_adds_only_the_defaults_to_an_authored_promise(redis: dict[str, Any]) -> None:
    dumped = Promise.model_validate(redis).to_dict()

    expected = copy.deepcopy(redis)
    workflows = expected["spec"]["workflows"]
    for pipeline in [*workflows["promise"]["configure"], *workflows["resource"]["configure"][:1]]:
        pipeline["spec"]["restartPolicy"] = "OnFailure"
    workflows["resource"]["delete"][0]["spec"]["restartPolicy"] = "OnFailure"
    assert dumped == expected
    # raw embedded objects are passed through untouched, including explicit nulls
    assert dumped["spec"]["api"]["metadata"]["creationTimestamp"] is None


def test_models_can_be_built_with_python_names() -> None:
    destination = Destination(
        metadata=ObjectMeta(name="edge", labels={"env": "edge"}),
        spec=DestinationSpec(
            path="edge", state_store_ref=StateStoreRef(kind="GitStateStore", name="default")
        ),
    )
    assert destination.to_dict() == {
        "apiVersion": "platform.kratix.io/v1alpha1",
        "kind": "Destination",
        "metadata": {"name": "edge", "labels": {"env": "edge"}},
        "spec": {
            "path": "edge",
            "stateStoreRef": {"kind": "GitStateStore", "name": "default"},
            "strictMatchLabels": False,
            "filepath": {"mode": "nestedByMetadata", "filename": "aggregated.yaml"},
            "cleanup": "none",
            "initWorkloads": {"enabled": True},
        },
    }


def test_empty_collections_are_omitted_only_when_nobody_set_them() -> None:
    meta = ObjectMeta(name="x")
    assert meta.to_dict() == {"name": "x"}

    meta.finalizers = []  # assigned: a deliberate "no finalizers", e.g. to clear them
    meta.labels["app"] = "demo"  # changed in place: not empty any more
    assert meta.to_dict() == {"name": "x", "labels": {"app": "demo"}, "finalizers": []}
    assert ObjectMeta.model_validate({"name": "x", "annotations": {}}).to_dict() == {
        "name": "x",
        "annotations": {},
    }


def test_timestamps_are_utc_rfc3339_on_the_wire() -> None:
    condition = Condition(
        type="Ready",
        status="True",
        reason="Done",
        message="",
        last_transition_time=datetime(2025, 1, 2, 4, 5, 6, 789, tzinfo=UTC) + timedelta(hours=0),
    )
    assert condition.to_dict()["lastTransitionTime"] == "2025-01-02T04:05:06Z"
    parsed = Condition.model_validate(
        {**condition.to_dict(), "lastTransitionTime": "2025-01-02T05:05:06+01:00"}
    )
    assert parsed.last_transition_time == datetime(2025, 1, 2, 4, 5, 6, tzinfo=UTC)
    assert parsed.model_dump()["last_transition_time"] == "2025-01-02T04:05:06Z"


def test_workload_content_encoding_is_deterministic() -> None:
    first = Workload.from_file("a.yaml", "kind: ConfigMap\n")
    second = Workload.from_file("a.yaml", b"kind: ConfigMap\n")
    assert first.content == second.content
    assert first.data() == b"kind: ConfigMap\n"


# --- validation errors name the field -------------------------------------------------------------


def test_unknown_pipeline_field_is_rejected_with_its_path() -> None:
    pipeline = pipeline_doc()
    pipeline["spec"]["containres"] = []
    doc = promise_doc(workflows={"resource": {"configure": [pipeline]}})

    assert (
        "spec.workflows.resource.configure.0.spec.containres",
        "Extra inputs are not permitted",
    ) in errors_of(Promise, doc)


def test_unknown_container_field_is_rejected() -> None:
    pipeline = pipeline_doc(
        containers=[{"name": "a", "image": "x", "imagePullPolicy": "Always", "ports": []}]
    )
    errors = errors_of(Promise, promise_doc(workflows={"promise": {"configure": [pipeline]}}))
    assert errors[0][0] == "spec.workflows.promise.configure.0.spec.containers.0.ports"


def test_a_pipeline_of_another_kind_is_rejected_naming_kind_and_api_version() -> None:
    pipeline = pipeline_doc("tekton")
    pipeline["apiVersion"], pipeline["kind"] = "tekton.dev/v1", "PipelineRun"

    ((where, message),) = errors_of(Promise, promise_doc(workflows={"resource": {"configure": [pipeline]}}))

    assert where == "spec.workflows.resource.configure.0"
    assert "'tekton'" in message and "PipelineRun" in message and "platform.kratix.io/v1alpha1" in message


def test_pipeline_names_must_be_unique_within_a_workflow() -> None:
    doc = promise_doc(workflows={"resource": {"configure": [pipeline_doc("a"), pipeline_doc("a")]}})
    ((where, message),) = errors_of(Promise, doc)
    assert where == "spec.workflows.resource.configure"
    assert "'a' is used twice" in message


def test_the_same_pipeline_name_may_appear_in_different_workflows() -> None:
    doc = promise_doc(
        workflows={
            "resource": {"configure": [pipeline_doc("a")], "delete": [pipeline_doc("a"), pipeline_doc("b")]}
        },
    )
    promise = Promise.model_validate(doc)
    delete = promise.delete_pipeline(WorkflowType.RESOURCE)
    assert delete is not None and delete.name == "a"  # only the first delete pipeline runs
    assert promise.delete_pipeline(WorkflowType.PROMISE) is None


def test_pipeline_id_longer_than_60_characters_is_rejected() -> None:
    long_name = "p" * 40  # redis-resource-configure- (25) + 40 = 65
    doc = promise_doc(workflows={"resource": {"configure": [pipeline_doc(long_name)]}})

    ((where, message),) = errors_of(Promise, doc)

    assert where == "spec"
    assert "workflows.resource.configure[0].metadata.name" in message
    assert "65 characters" in message and "shorten" in message
    assert Promise.model_validate(
        promise_doc(workflows={"resource": {"configure": [pipeline_doc("p" * 35)]}})
    )


@pytest.mark.parametrize(
    ("interval", "hint"),
    [
        ("30s", "at least '1m'"),
        ("59s", "at least '1m'"),
        ("10", "use a number with a unit"),
        ("1d", "unknown unit"),
    ],
)
def test_reconciliation_interval_must_be_a_go_duration_of_a_minute_or_more(interval: str, hint: str) -> None:
    doc = promise_doc(workflows={"config": {"reconciliationInterval": interval}})
    ((where, message),) = errors_of(Promise, doc)
    assert where == "spec.workflows.config.reconciliationInterval"
    assert hint in message


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("labels", {"bad key!": "x"}, "metadata.labels"),
        ("labels", {"team": "has spaces"}, "metadata.labels"),
        ("annotations", {"/no-prefix": "x"}, "metadata.annotations"),
        ("name", "Upper_Case", "metadata.name"),
    ],
)
def test_pipeline_metadata_must_be_valid_for_kubernetes(field: str, value: Any, where: str) -> None:
    pipeline = pipeline_doc()
    pipeline["metadata"][field] = value
    errors = errors_of(Promise, promise_doc(workflows={"promise": {"configure": [pipeline]}}))
    assert errors[0][0] == f"spec.workflows.promise.configure.0.{where}"


@pytest.mark.parametrize("name", ["reader", "work-writer", "status-writer"])
def test_container_names_kratix_uses_itself_are_rejected(name: str) -> None:
    with pytest.raises(ValidationError, match="reserved"):
        Container.model_validate({"name": name, "image": "x"})


def test_duplicate_containers_and_reserved_volumes_are_rejected() -> None:
    twice = [{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]
    with pytest.raises(ValidationError, match="'a' is used twice"):
        Pipeline.model_validate(pipeline_doc(containers=twice))
    with pytest.raises(ValidationError, match="reserved for Kratix's own volumes"):
        Pipeline.model_validate(pipeline_doc(volumes=[{"name": "shared-output", "emptyDir": {}}]))
    with pytest.raises(ValidationError, match="at least 1 item"):
        Pipeline.model_validate(pipeline_doc(containers=[]))


def test_permissions_need_verbs_and_a_valid_namespace() -> None:
    bad = [{"apiGroups": [""], "resources": ["secrets"], "verbs": [], "resourceNamespace": "Not_A_Namespace"}]
    errors = errors_of(Pipeline, pipeline_doc(rbac={"permissions": bad}))
    assert {where for where, _ in errors} == {
        "spec.rbac.permissions.0.verbs",
        "spec.rbac.permissions.0.resourceNamespace",
    }


@pytest.mark.parametrize(
    ("change", "hint"),
    [
        (lambda api: api["spec"].update(scope="Cluster"), "spec.scope must be Namespaced"),
        (lambda api: api["metadata"].update(name="redis.example.com"), "'redis.marketplace.kratix.io'"),
        (lambda api: api["spec"]["names"].pop("plural"), "spec.names.plural: Field required"),
        (lambda api: api.update(kind="ConfigMap"), "kind: Input should be 'CustomResourceDefinition'"),
        (lambda api: api["spec"].update(versions=[]), "spec.versions"),
    ],
)
def test_the_request_api_must_be_a_usable_namespaced_crd(
    redis: dict[str, Any], change: Any, hint: str
) -> None:
    change(redis["spec"]["api"])
    ((where, message),) = errors_of(Promise, redis)
    assert where == "spec.api"
    assert hint in message


def test_dependencies_must_be_kubernetes_objects() -> None:
    doc = promise_doc(dependencies=[{"apiVersion": "v1", "kind": "Namespace"}, {"metadata": {"name": "x"}}])
    ((where, message),) = errors_of(Promise, doc)
    assert where == "spec.dependencies"
    assert "dependency [1] needs apiVersion and kind" in message


def test_destination_needs_a_path_and_a_known_state_store_kind() -> None:
    doc = {"metadata": {"name": "d"}, "spec": {"stateStoreRef": {"kind": "ConfigMapStore", "name": "s"}}}
    errors = dict(errors_of(Destination, doc))
    assert errors["spec.path"] == "Field required"
    assert "'GitStateStore' or 'BucketStateStore'" in errors["spec.stateStoreRef.kind"]


@pytest.mark.parametrize(
    ("spec", "where", "hint"),
    [
        (
            {"filepath": {"mode": "flat"}},
            "spec.filepath.mode",
            "'nestedByMetadata', 'aggregatedYAML' or 'none'",
        ),
        ({"cleanup": "some"}, "spec.cleanup", "'none' or 'all'"),
        ({"path": ""}, "spec.path", "at least 1 character"),
    ],
)
def test_destination_enums(spec: dict[str, Any], where: str, hint: str) -> None:
    doc = {"spec": {"path": "p", "stateStoreRef": {"kind": "GitStateStore", "name": "s"}, **spec}}
    ((got_where, message),) = errors_of(Destination, doc)
    assert got_where == where
    assert hint in message


def test_bucket_state_store_rules() -> None:
    base = {"bucketName": "b", "secretRef": {"name": "s", "namespace": "default"}}
    ((where, message),) = errors_of(BucketStateStore, {"spec": {**base, "endpoint": "http://minio:9000"}})
    assert where == "spec.endpoint" and "insecure: true" in message

    ((where, message),) = errors_of(
        BucketStateStore, {"spec": {**base, "endpoint": "m", "secretRef": {"name": "s"}}}
    )
    assert where == "spec" and "secretRef.namespace" in message

    ((where, message),) = errors_of(
        BucketStateStore, {"spec": {**base, "endpoint": "m", "authMethod": "OIDC"}}
    )
    assert where == "spec.authMethod" and "'accessKey' or 'IAM'" in message

    iam = BucketStateStore.model_validate({"spec": {"endpoint": "m", "bucketName": "b", "authMethod": "IAM"}})
    assert iam.spec.secret_ref is None


def test_git_key_based_auth_needs_a_secret() -> None:
    ((where, message),) = errors_of(
        GitStateStore, {"spec": {"url": "git@example.com:x.git", "authMethod": "ssh"}}
    )
    assert where == "spec" and "secretRef.name is required with authMethod ssh" in message


def test_work_selector_source_is_one_of_the_three_kratix_values() -> None:
    work_doc, _ = documents("works.yaml")
    work_doc["spec"]["workloadGroups"][0]["destinationSelectors"][0]["source"] = "user"
    ((where, _),) = errors_of(Work, work_doc)
    assert where == "spec.workloadGroups.0.destinationSelectors.0.source"


def test_wrong_kind_is_rejected() -> None:
    ((where, _),) = errors_of(
        Destination,
        {"kind": "Promise", "spec": {"path": "p", "stateStoreRef": {"kind": "GitStateStore", "name": "s"}}},
    )
    assert where == "kind"


def test_validation_message_is_one_line_naming_each_field() -> None:
    doc = promise_doc(
        workflows={
            "config": {"reconciliationInterval": "30s"},
            "promise": {"configure": [pipeline_doc(containers=[{"name": "reader", "image": "x"}])]},
        }
    )
    with pytest.raises(ValidationError) as caught:
        Promise.model_validate(doc)

    message = validation_message(caught.value)

    assert "\n" not in message and "errors.pydantic.dev" not in message
    assert message.startswith("spec.workflows.config.reconciliationInterval: reconciliation interval '30s'")
    assert "; spec.workflows.promise.configure.0.spec.containers.0.name: container name 'reader'" in message


# --- constants ------------------------------------------------------------------------------------


def test_constants_match_the_kratix_contract() -> None:
    assert DEFAULT_WORKLOAD_GROUP_ID.startswith("5058f")
    assert PROMISE_FINALIZERS[0] == "kratix.io/delete-workflows"
    assert PROMISE_FINALIZERS[-1] == "kratix.io/api-crd-cleanup"
    assert FINALIZER_DYNAMIC_CONTROLLER_DEPENDANT_RESOURCES_CLEANUP.endswith("dependant-resources-cleanup")
    assert len(set(PROMISE_FINALIZERS)) == len(PROMISE_FINALIZERS)
