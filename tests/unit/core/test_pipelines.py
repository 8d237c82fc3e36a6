"""The pipeline Job builder, rule by rule (kratix-behaviour.md §2.1-§2.7).

Most tests build the objects for the reference Promise in ``data/promise.yaml`` (and its request in
``data/request.yaml``) and check one rule each. ``data/expected-resource-configure.yaml`` holds the
complete output for one run, so any change to the pod contract shows up in review; regenerate it
with ``KRATIX_PY_REGENERATE_FIXTURES=1 pytest tests/unit/core/test_pipelines.py`` after an
intended change.
"""

from __future__ import annotations

import copy
import hashlib
import os
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from kratix_py.api.promise import Promise
from kratix_py.contract import SYSTEM_NAMESPACE, WorkflowAction, WorkflowType
from kratix_py.core.jobs import job_selector
from kratix_py.core.pipelines import (
    ADAPTER_SECURITY_CONTEXT,
    DEFAULT_CONTAINER_RESOURCES,
    PipelineRun,
    PipelineSettings,
    build_pipeline_resources,
    pipeline_resources,
)
from kratix_py.core.rbac import PIPELINE_VERBS
from kratix_py.core.workloads import parse_promise_scheduling

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "expected-resource-configure.yaml"
PROMISE_DOC: dict[str, Any] = yaml.safe_load((DATA / "promise.yaml").read_text())
REQUEST: dict[str, Any] = yaml.safe_load((DATA / "request.yaml").read_text())
PROMISE_UID = PROMISE_DOC["metadata"]["uid"]
REQUEST_UID = REQUEST["metadata"]["uid"]

SETTINGS = PipelineSettings(adapter_image="registry.example/kratix-py:0.1.0")
PROMISE, RESOURCE = WorkflowType.PROMISE, WorkflowType.RESOURCE
CONFIGURE, DELETE = WorkflowAction.CONFIGURE, WorkflowAction.DELETE

KRATIX_ENV_NAMES = [
    "KRATIX_WORKFLOW_ACTION",
    "KRATIX_WORKFLOW_TYPE",
    "KRATIX_PROMISE_NAME",
    "KRATIX_PIPELINE_NAME",
    "KRATIX_OBJECT_KIND",
    "KRATIX_OBJECT_GROUP",
    "KRATIX_OBJECT_VERSION",
    "KRATIX_OBJECT_NAME",
    "KRATIX_OBJECT_NAMESPACE",
    "KRATIX_CRD_PLURAL",
    "KRATIX_CLUSTER_SCOPED",
]


# --- helpers ---------------------------------------------------------------------------------------


def make_promise(*, pipeline_namespace: str | None = None, edit=None) -> Promise:
    """The reference Promise, optionally with pipelineNamespace set or the document edited first."""
    doc = copy.deepcopy(PROMISE_DOC)
    if pipeline_namespace:
        doc["spec"]["workflows"]["config"] = {"pipelineNamespace": pipeline_namespace}
    if edit is not None:
        edit(doc)
    return Promise.model_validate(doc)


def make_run(
    workflow_type: WorkflowType = RESOURCE,
    action: WorkflowAction = CONFIGURE,
    index: int = 0,
    *,
    promise: Promise | None = None,
    request: dict[str, Any] | None = None,
    **overrides: Any,
) -> PipelineRun:
    promise = promise or make_promise()
    if request is None and workflow_type is RESOURCE:
        request = REQUEST
    pipelines = promise.pipelines(workflow_type, action)
    fields: dict[str, Any] = {
        "promise": promise,
        "workflow_type": workflow_type,
        "action": action,
        "pipeline": pipelines[index],
        "index": index,
        "run": 1,
        "attempt": 1,
        "spec_hash": "5f4dcc3b5aa765d61d8327deb882cf99",
        "is_last_pipeline": index == len(pipelines) - 1,
        "request": request,
    }
    fields.update(overrides)
    return PipelineRun(**fields)


def build(run: PipelineRun | None = None, settings: PipelineSettings = SETTINGS):
    return build_pipeline_resources(run or make_run(), settings)


def job_of(run: PipelineRun | None = None, settings: PipelineSettings = SETTINGS) -> dict[str, Any]:
    return build(run, settings).job


def pod_of(run: PipelineRun | None = None, settings: PipelineSettings = SETTINGS) -> dict[str, Any]:
    return job_of(run, settings)["spec"]["template"]["spec"]


def containers(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in [*pod["initContainers"], *pod["containers"]]}


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {entry["name"]: entry["value"] for entry in container.get("env", [])}


def mounts_of(container: dict[str, Any]) -> list[tuple[str, str, bool]]:
    return [(m["name"], m["mountPath"], m.get("readOnly", False)) for m in container["volumeMounts"]]


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [obj for obj in by_kind(objects, kind) if obj["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


ALL_RUNS = {
    "promise-configure": lambda: make_run(PROMISE, CONFIGURE),
    "promise-delete": lambda: make_run(PROMISE, DELETE, promise=make_promise(edit=_add_promise_delete)),
    "resource-configure": lambda: make_run(RESOURCE, CONFIGURE, 0),
    "resource-configure-custom-sa": lambda: make_run(RESOURCE, CONFIGURE, 1),
    "resource-delete": lambda: make_run(RESOURCE, DELETE),
    "pipeline-namespace-promise": lambda: make_run(
        PROMISE, promise=make_promise(pipeline_namespace="pipelines")
    ),
    "pipeline-namespace-resource": lambda: make_run(
        RESOURCE, promise=make_promise(pipeline_namespace="pipelines")
    ),
    "dry-run": lambda: make_run(dry_run=True),
}


def _add_promise_delete(doc: dict[str, Any]) -> None:
    doc["spec"]["workflows"]["promise"]["delete"] = [
        {
            "apiVersion": "platform.kratix.io/v1alpha1",
            "kind": "Pipeline",
            "metadata": {"name": "promise-teardown"},
            "spec": {"containers": [{"name": "uninstall", "image": "example.com/uninstall:1.0"}]},
        }
    ]


# --- the whole output --------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", sorted(ALL_RUNS))
def test_every_object_is_valid_for_kubernetes(scenario):
    settings = PipelineSettings(
        adapter_image="registry.example/kratix-py:0.1.0",
        adapter_pull_secret="adapter-pull",
        default_backoff_limit=2,
        default_container_security_context={"runAsNonRoot": True},
        default_image_pull_policy="IfNotPresent",
    )
    objects = pipeline_resources(ALL_RUNS[scenario](), settings)
    assert objects[-1]["kind"] == "Job"
    for obj in objects:
        kubernetes_validate.validate(obj, "1.30", strict=True)


def test_output_matches_the_reference_fixture():
    settings = PipelineSettings(
        adapter_image="registry.example/kratix-py:0.1.0", adapter_pull_secret="adapter-pull"
    )
    text = yaml.safe_dump_all(pipeline_resources(make_run(), settings), sort_keys=False)
    if os.environ.get("KRATIX_PY_REGENERATE_FIXTURES"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_objects_come_in_apply_order():
    kinds = [obj["kind"] for obj in pipeline_resources(make_run(), SETTINGS)]
    assert kinds == [
        "ServiceAccount",
        "ConfigMap",
        "Role",  # kratix-py's own grant ...
        "RoleBinding",
        "Role",  # ... then each permission group, role before binding
        "RoleBinding",
        "ClusterRole",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "Job",
    ]


def test_same_inputs_give_identical_objects():
    first = pipeline_resources(make_run(), SETTINGS)
    second = pipeline_resources(make_run(), SETTINGS)
    assert first == second
    assert yaml.safe_dump_all(first) == yaml.safe_dump_all(second)


def test_output_does_not_share_state_with_the_promise_or_other_runs():
    run = make_run()
    first = pipeline_resources(run, SETTINGS)
    job = first[-1]
    pod = job["spec"]["template"]["spec"]
    pod["volumes"][-1]["configMap"]["name"] = "changed"
    pod["tolerations"][0]["key"] = "changed"
    pod["initContainers"][1]["env"][-1]["value"] = "changed"
    pod["initContainers"][0]["securityContext"]["capabilities"]["drop"].append("changed")
    job["metadata"]["labels"]["team"] = "changed"
    assert pipeline_resources(run, SETTINGS) != first
    assert pipeline_resources(run, SETTINGS) == pipeline_resources(make_run(), SETTINGS)


# --- identity and namespace (§2.1) ------------------------------------------------------------------


def test_promise_workflows_run_in_the_platform_namespace():
    resources = build(make_run(PROMISE))
    assert resources.namespace == SYSTEM_NAMESPACE
    assert {obj["metadata"].get("namespace") for obj in resources.objects()} == {SYSTEM_NAMESPACE, None}


def test_resource_workflows_run_in_the_request_namespace():
    resources = build(make_run(RESOURCE))
    assert resources.namespace == "team-a"
    assert resources.job["metadata"]["namespace"] == "team-a"
    assert resources.service_account["metadata"]["namespace"] == "team-a"
    assert resources.config_map["metadata"]["namespace"] == "team-a"


@pytest.mark.parametrize("workflow_type", [PROMISE, RESOURCE])
def test_pipeline_namespace_overrides_where_pipelines_run(workflow_type):
    resources = build(make_run(workflow_type, promise=make_promise(pipeline_namespace="pipelines")))
    assert resources.namespace == "pipelines"
    assert resources.job["metadata"]["namespace"] == "pipelines"
    assert resources.service_account["metadata"]["namespace"] == "pipelines"


def test_promise_job_name():
    suffix = md5(f"{PROMISE_UID}/configure/1/0/1")[:5]
    assert job_of(make_run(PROMISE))["metadata"]["name"] == f"kratix-database-promise-setup-{suffix}"


def test_resource_job_name():
    suffix = md5(f"{REQUEST_UID}/configure/1/0/1")[:5]
    assert job_of(make_run())["metadata"]["name"] == f"kratix-database-orders-instance-{suffix}"


def test_resource_job_name_includes_the_request_namespace_with_pipeline_namespace():
    job = job_of(make_run(promise=make_promise(pipeline_namespace="pipelines")))
    suffix = md5(f"{REQUEST_UID}/configure/1/0/1")[:5]
    assert job["metadata"]["name"] == f"kratix-database-orders-team-a-instance-{suffix}"


def test_long_job_names_are_truncated_to_fit():
    request = copy.deepcopy(REQUEST)
    request["metadata"]["name"] = "orders-for-the-european-warehouse-reporting-system"
    name = job_of(make_run(request=request))["metadata"]["name"]
    suffix = md5(f"{REQUEST_UID}/configure/1/0/1")[:5]
    assert name == "kratix-database-orders-for-the-european-warehouse-report" + "-" + suffix
    assert len(name) == 62


@pytest.mark.parametrize("change", [{"attempt": 2}, {"run": 2}, {"index": 1}])
def test_a_new_attempt_run_or_pipeline_gets_a_new_job_name(change):
    first = job_of(make_run())["metadata"]["name"]
    assert job_of(make_run(**change))["metadata"]["name"] != first


def test_a_recreated_request_gets_new_job_names():
    request = copy.deepcopy(REQUEST)
    request["metadata"]["uid"] = "another-uid"
    assert job_of(make_run(request=request))["metadata"]["name"] != job_of(make_run())["metadata"]["name"]


# --- pod shape (§2.2) -------------------------------------------------------------------------------


def test_configure_pod_runs_reader_user_containers_work_writer_then_status_writer():
    pod = pod_of()
    assert [c["name"] for c in pod["initContainers"]] == ["reader", "render", "publish", "work-writer"]
    assert [c["name"] for c in pod["containers"]] == ["status-writer"]


def test_delete_pipelines_have_no_work_writer():
    pod = pod_of(make_run(RESOURCE, DELETE))
    assert [c["name"] for c in pod["initContainers"]] == ["reader", "drop"]
    assert [c["name"] for c in pod["containers"]] == ["status-writer"]


def test_delete_pipelines_have_no_scheduling_config_map_or_volume():
    resources = build(make_run(RESOURCE, DELETE))
    assert resources.config_map is None
    assert "ConfigMap" not in [obj["kind"] for obj in resources.objects()]
    volumes = [v["name"] for v in resources.job["spec"]["template"]["spec"]["volumes"]]
    assert volumes == ["shared-input", "shared-output", "shared-metadata"]


def test_adapter_containers_run_the_kratix_py_steps_from_the_adapter_image():
    steps = containers(pod_of())
    for name, step in [
        ("reader", "reader"),
        ("work-writer", "work-writer"),
        ("status-writer", "status-writer"),
    ]:
        assert steps[name]["image"] == "registry.example/kratix-py:0.1.0"
        assert steps[name]["command"] == ["kratix-py", "pipeline-adapter", step]
    assert "args" not in steps["reader"] and "args" not in steps["status-writer"]


def test_user_containers_keep_their_image_command_and_args():
    render = containers(pod_of())["render"]
    assert render["image"] == "example.com/database-render:1.0"
    assert render["command"] == ["/bin/render"]
    assert render["args"] == ["--size", "small"]
    assert "command" not in containers(pod_of())["publish"]


def test_work_writer_arguments_for_a_promise_workflow():
    args = containers(pod_of(make_run(PROMISE)))["work-writer"]["args"]
    assert args == [
        "--input-directory",
        "/work-creator-files",
        "--promise-name",
        "database",
        "--pipeline-name",
        "promise-setup",
        "--namespace",
        SYSTEM_NAMESPACE,
        "--workflow-type",
        "promise",
    ]


def test_work_writer_arguments_for_a_resource_workflow():
    args = containers(pod_of())["work-writer"]["args"]
    assert args == [
        "--input-directory",
        "/work-creator-files",
        "--promise-name",
        "database",
        "--pipeline-name",
        "instance",
        "--namespace",
        "team-a",
        "--workflow-type",
        "resource",
        "--resource-name",
        "orders",
    ]


def test_work_writer_gets_the_request_namespace_only_with_pipeline_namespace():
    args = containers(pod_of(make_run(promise=make_promise(pipeline_namespace="pipelines"))))["work-writer"][
        "args"
    ]
    assert args[args.index("--namespace") + 1] == "pipelines"
    assert args[-2:] == ["--resource-namespace", "team-a"]
    assert "--resource-namespace" not in containers(pod_of())["work-writer"]["args"]


def test_restart_policy_defaults_to_on_failure_and_follows_the_pipeline():
    assert pod_of()["restartPolicy"] == "OnFailure"
    assert pod_of(make_run(index=1))["restartPolicy"] == "Never"


def test_backoff_limit_comes_from_job_options_then_settings():
    assert job_of()["spec"]["backoffLimit"] == 3
    with_default = PipelineSettings(adapter_image="img", default_backoff_limit=1)
    assert job_of(make_run(index=1), with_default)["spec"]["backoffLimit"] == 1
    assert "backoffLimit" not in job_of(make_run(index=1))["spec"]


def test_image_pull_secrets_start_with_the_adapter_secret():
    with_secret = PipelineSettings(adapter_image="img", adapter_pull_secret="adapter-pull")
    assert pod_of(settings=with_secret)["imagePullSecrets"] == [
        {"name": "adapter-pull"},
        {"name": "registry-credentials"},
    ]
    assert pod_of()["imagePullSecrets"] == [{"name": "registry-credentials"}]
    assert "imagePullSecrets" not in pod_of(make_run(index=1))
    assert pod_of(make_run(index=1), with_secret)["imagePullSecrets"] == [{"name": "adapter-pull"}]


def test_node_selector_and_tolerations_pass_through():
    pod = pod_of()
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["tolerations"] == [
        {"key": "dedicated", "operator": "Equal", "value": "pipelines", "effect": "NoSchedule"}
    ]
    plain = pod_of(make_run(index=1))
    assert "nodeSelector" not in plain and "tolerations" not in plain


def test_env_from_passes_through():
    steps = containers(pod_of())
    assert steps["render"]["envFrom"] == [{"configMapRef": {"name": "render-settings"}}]
    assert "envFrom" not in steps["publish"]


# --- security contexts, pull policies and resources ---------------------------------------------------


def test_adapter_containers_get_a_restrictive_security_context_and_default_resources():
    steps = containers(pod_of())
    for name in ("reader", "work-writer", "status-writer"):
        assert steps[name]["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        assert steps[name]["resources"] == {
            "requests": {"cpu": "100m", "memory": "128Mi", "ephemeral-storage": "128Mi"},
            "limits": {"cpu": "200m", "memory": "256Mi", "ephemeral-storage": "256Mi"},
        }
    assert "securityContext" not in pod_of(), "Kratix sets no pod-level security context"


def test_user_containers_without_settings_get_the_platform_defaults():
    settings = PipelineSettings(
        adapter_image="img",
        default_container_security_context={"runAsUser": 65532},
        default_image_pull_policy="IfNotPresent",
        default_container_resources={"requests": {"cpu": "50m"}},
    )
    steps = containers(pod_of(settings=settings))
    assert steps["render"]["securityContext"] == {"runAsUser": 65532}
    assert steps["render"]["imagePullPolicy"] == "IfNotPresent"
    assert steps["render"]["resources"] == {"requests": {"cpu": "50m"}}
    assert steps["reader"]["imagePullPolicy"] == "IfNotPresent"
    assert steps["reader"]["resources"] == {"requests": {"cpu": "50m"}}
    assert steps["reader"]["securityContext"] == dict(ADAPTER_SECURITY_CONTEXT)


def test_user_containers_keep_their_own_settings():
    settings = PipelineSettings(
        adapter_image="img",
        default_container_security_context={"runAsUser": 65532},
        default_image_pull_policy="IfNotPresent",
    )
    publish = containers(pod_of(settings=settings))["publish"]
    assert publish["securityContext"] == {"runAsUser": 1000}
    assert publish["imagePullPolicy"] == "Always"
    assert publish["resources"] == {"limits": {"cpu": "1", "memory": "1Gi"}}


def test_without_configured_defaults_user_containers_are_restricted_and_get_default_resources():
    render = containers(pod_of())["render"]
    assert render["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert "imagePullPolicy" not in render
    assert render["resources"] == DEFAULT_CONTAINER_RESOURCES


def test_a_containers_own_security_context_replaces_the_default_whole():
    # As Kratix applies workflows.defaultContainerSecurityContext: only to containers without one.
    steps = containers(pod_of())
    assert steps["publish"]["securityContext"] == {"runAsUser": 1000}
    assert steps["render"]["securityContext"] is not steps["reader"]["securityContext"]


def test_the_restricted_default_can_be_switched_off_platform_wide():
    for off in (None, {}):
        settings = PipelineSettings(adapter_image="img", default_container_security_context=off)
        steps = containers(pod_of(settings=settings))
        assert "securityContext" not in steps["render"]
        assert steps["reader"]["securityContext"] == dict(ADAPTER_SECURITY_CONTEXT)


# --- volumes and mounts (§2.3) ------------------------------------------------------------------------


def test_volumes_are_kratix_ones_then_the_pipelines():
    assert pod_of()["volumes"] == [
        {
            "name": "promise-scheduling",
            "configMap": {
                "name": "destination-selectors-database",
                "items": [{"key": "destinationSelectors", "path": "promise-scheduling"}],
            },
        },
        {"name": "shared-input", "emptyDir": {}},
        {"name": "shared-output", "emptyDir": {}},
        {"name": "shared-metadata", "emptyDir": {}},
        {"name": "templates", "configMap": {"name": "database-templates"}},
    ]


def test_reader_writes_input_and_sees_output():
    assert mounts_of(containers(pod_of())["reader"]) == [
        ("shared-input", "/kratix/input", False),
        ("shared-output", "/kratix/output", False),
    ]


def test_user_containers_read_input_read_only_and_their_mounts_come_last():
    steps = containers(pod_of())
    assert mounts_of(steps["render"]) == [
        ("shared-input", "/kratix/input", True),
        ("shared-output", "/kratix/output", False),
        ("shared-metadata", "/kratix/metadata", False),
        ("templates", "/templates", True),
    ]
    assert mounts_of(steps["publish"]) == mounts_of(steps["render"])[:3]


def test_work_writer_and_status_writer_mounts():
    steps = containers(pod_of())
    assert mounts_of(steps["work-writer"]) == [
        ("shared-output", "/work-creator-files/input", False),
        ("shared-metadata", "/work-creator-files/metadata", False),
        ("promise-scheduling", "/work-creator-files/kratix-system", False),
    ]
    assert mounts_of(steps["status-writer"]) == [("shared-metadata", "/work-creator-files/metadata", False)]


# --- environment (§2.5) -------------------------------------------------------------------------------


def test_promise_workflow_environment():
    steps = containers(pod_of(make_run(PROMISE)))
    expected = {
        "KRATIX_WORKFLOW_ACTION": "configure",
        "KRATIX_WORKFLOW_TYPE": "promise",
        "KRATIX_PROMISE_NAME": "database",
        "KRATIX_PIPELINE_NAME": "promise-setup",
        "KRATIX_OBJECT_KIND": "Promise",
        "KRATIX_OBJECT_GROUP": "platform.kratix.io",
        "KRATIX_OBJECT_VERSION": "v1alpha1",
        "KRATIX_OBJECT_NAME": "database",
        "KRATIX_OBJECT_NAMESPACE": "",
        "KRATIX_CRD_PLURAL": "promises",
        "KRATIX_CLUSTER_SCOPED": "true",
    }
    assert env_of(steps["reader"]) == expected
    assert env_of(steps["install"]) == expected
    assert env_of(steps["status-writer"]) == {**expected, "IS_LAST_PIPELINE": "true"}


def test_resource_workflow_environment_in_kratix_order():
    reader = containers(pod_of())["reader"]
    assert [entry["name"] for entry in reader["env"]] == KRATIX_ENV_NAMES
    assert env_of(reader) == {
        "KRATIX_WORKFLOW_ACTION": "configure",
        "KRATIX_WORKFLOW_TYPE": "resource",
        "KRATIX_PROMISE_NAME": "database",
        "KRATIX_PIPELINE_NAME": "instance",
        "KRATIX_OBJECT_KIND": "Database",
        "KRATIX_OBJECT_GROUP": "example.com",
        "KRATIX_OBJECT_VERSION": "v1",
        "KRATIX_OBJECT_NAME": "orders",
        "KRATIX_OBJECT_NAMESPACE": "team-a",
        "KRATIX_CRD_PLURAL": "databases",
        "KRATIX_CLUSTER_SCOPED": "false",
    }


def test_delete_workflows_say_so():
    assert (
        env_of(containers(pod_of(make_run(RESOURCE, DELETE)))["drop"])["KRATIX_WORKFLOW_ACTION"] == "delete"
    )


def test_user_env_comes_after_kratix_env_and_overrides_it():
    render = containers(pod_of())["render"]
    names = [entry["name"] for entry in render["env"]]
    assert names == [n for n in KRATIX_ENV_NAMES if n != "KRATIX_PIPELINE_NAME"] + [
        "LOG_LEVEL",
        "KRATIX_PIPELINE_NAME",
    ]
    assert env_of(render)["KRATIX_PIPELINE_NAME"] == "overridden-by-the-author"
    # The override is the author's container only: Kratix's own steps still see the real name.
    for step in ("reader", "publish", "status-writer"):
        assert env_of(containers(pod_of())[step])["KRATIX_PIPELINE_NAME"] == "instance"


def test_is_last_pipeline_is_only_on_the_status_writer():
    steps = containers(pod_of(make_run(index=0)))
    assert env_of(steps["status-writer"])["IS_LAST_PIPELINE"] == "false"
    assert all("IS_LAST_PIPELINE" not in env_of(c) for name, c in steps.items() if name != "status-writer")
    last = containers(pod_of(make_run(index=1)))
    assert env_of(last["status-writer"])["IS_LAST_PIPELINE"] == "true"


def test_work_writer_knows_the_object_and_its_uid_to_own_the_work():
    env = env_of(containers(pod_of())["work-writer"])
    assert env["KRATIX_OBJECT_UID"] == make_run().request["metadata"]["uid"]
    assert env["KRATIX_OBJECT_NAME"] == "orders" and env["KRATIX_OBJECT_KIND"] == "Database"
    assert "KRATIX_DRY_RUN" not in env
    # The uid is the work-writer's alone: user containers have no use for it.
    steps = containers(pod_of())
    assert all("KRATIX_OBJECT_UID" not in env_of(c) for name, c in steps.items() if name != "work-writer")
    dry = containers(pod_of(make_run(dry_run=True)))
    assert env_of(dry["work-writer"])["KRATIX_DRY_RUN"] == "true"
    for step in ("reader", "render", "status-writer"):
        assert env_of(dry[step])["KRATIX_DRY_RUN"] == "true"
    assert "KRATIX_DRY_RUN" not in env_of(containers(pod_of())["reader"])


# --- Job metadata (§2.7) -----------------------------------------------------------------------------


def test_resource_job_labels_on_job_and_pod():
    job = job_of()
    expected = {
        "kratix.io/promise-name": "database",
        "kratix.io/workflow-type": "resource",
        "kratix.io/workflow-action": "configure",
        "kratix.io/pipeline-name": "instance",
        "kratix.io/resource-name": "orders",
        "app.kubernetes.io/managed-by": "Kratix",
        "kratix.io/hash": "5f4dcc3b5aa765d61d8327deb882cf99",
        "team": "data",
    }
    assert job["metadata"]["labels"] == expected
    assert job["spec"]["template"]["metadata"]["labels"] == expected


def test_promise_job_labels_have_no_resource_labels():
    labels = job_of(make_run(PROMISE))["metadata"]["labels"]
    assert labels["kratix.io/workflow-type"] == "promise"
    assert "kratix.io/resource-name" not in labels and "kratix.io/resource-namespace" not in labels


def test_resource_namespace_label_only_with_pipeline_namespace():
    assert "kratix.io/resource-namespace" not in job_of()["metadata"]["labels"]
    job = job_of(make_run(promise=make_promise(pipeline_namespace="pipelines")))
    assert job["metadata"]["labels"]["kratix.io/resource-namespace"] == "team-a"


def test_pipeline_labels_go_on_top_of_kratix_labels():
    def relabel(doc):
        doc["spec"]["workflows"]["resource"]["configure"][0]["metadata"]["labels"] = {
            "app.kubernetes.io/managed-by": "platform-team"
        }

    job = job_of(make_run(promise=make_promise(edit=relabel)))
    assert job["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "platform-team"


def test_job_selector_selects_the_built_job():
    for run in (
        make_run(),
        make_run(PROMISE),
        make_run(promise=make_promise(pipeline_namespace="pipelines")),
    ):
        labels = job_of(run)["metadata"]["labels"]
        selector = job_selector(run.promise, run.workflow_type, run.action, run.request)
        assert selector.items() <= labels.items()


def test_job_annotations_name_the_object_and_the_run():
    assert job_of(make_run(run=4, attempt=2))["metadata"]["annotations"] == {
        "kratix.io/job-resource-namespace": "team-a",
        "kratix.io/job-resource-name": "orders",
        "kratix.io/job-resource-kind": "Database",
        "kratix.io/job-resource-api-version": "example.com/v1",
        "kratix.io/run-id": "4",
        "kratix.io/pipeline-index": "0",
        "kratix.io/attempt": "2",
    }
    promise_annotations = job_of(make_run(PROMISE))["metadata"]["annotations"]
    assert promise_annotations["kratix.io/job-resource-kind"] == "Promise"
    assert promise_annotations["kratix.io/job-resource-api-version"] == "platform.kratix.io/v1alpha1"
    assert promise_annotations["kratix.io/job-resource-namespace"] == ""


def test_pod_annotations_are_the_pipelines():
    assert job_of()["spec"]["template"]["metadata"]["annotations"] == {"example.com/owner": "data-team"}
    assert "annotations" not in job_of(make_run(index=1))["spec"]["template"]["metadata"]


def test_promise_jobs_are_controlled_by_the_promise():
    assert job_of(make_run(PROMISE))["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "platform.kratix.io/v1alpha1",
            "kind": "Promise",
            "name": "database",
            "uid": PROMISE_UID,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def test_resource_jobs_are_owned_by_the_request_in_the_same_namespace():
    assert job_of()["metadata"]["ownerReferences"] == [
        {"apiVersion": "example.com/v1", "kind": "Database", "name": "orders", "uid": REQUEST_UID}
    ]


def test_resource_jobs_in_another_namespace_have_no_owner():
    job = job_of(make_run(promise=make_promise(pipeline_namespace="pipelines")))
    assert "ownerReferences" not in job["metadata"]


# --- the destination-selectors ConfigMap ----------------------------------------------------------------


def test_scheduling_config_map_holds_the_squashed_promise_selectors():
    config_map = build().config_map
    assert config_map["metadata"] == {
        "name": "destination-selectors-database",
        "namespace": "team-a",
        "labels": {"kratix.io/promise-name": "database"},
    }
    text = config_map["data"]["destinationSelectors"]
    assert yaml.safe_load(text) == [
        {"matchLabels": {"environment": "dev", "region": "eu"}, "source": "promise"}
    ]
    # ... and the work-writer reads it back as one promise selector.
    [selector] = parse_promise_scheduling(text)
    assert dict(selector.match_labels) == {"environment": "dev", "region": "eu"}
    assert selector.source == "promise"


def test_scheduling_config_map_without_selectors_is_an_empty_list():
    def no_selectors(doc):
        del doc["spec"]["destinationSelectors"]

    config_map = build(make_run(promise=make_promise(edit=no_selectors))).config_map
    assert yaml.safe_load(config_map["data"]["destinationSelectors"]) == []


# --- ServiceAccount and RBAC (§2.6) ---------------------------------------------------------------------


def test_service_account_is_the_pipeline_id():
    resources = build()
    assert resources.service_account == {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": "database-resource-configure-instance",
            "namespace": "team-a",
            "labels": {"kratix.io/promise-name": "database"},
        },
    }
    assert (
        resources.job["spec"]["template"]["spec"]["serviceAccountName"]
        == "database-resource-configure-instance"
    )


def test_a_custom_service_account_is_used_and_offered_for_creation_labelled_with_the_promise():
    resources = build(make_run(index=1))
    assert resources.service_account_named_by_pipeline
    assert resources.service_account == {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": "notifier",
            "namespace": "team-a",
            "labels": {"kratix.io/promise-name": "database"},
        },
    }
    assert [obj["kind"] for obj in resources.objects()].count("ServiceAccount") == 1
    assert not build().service_account_named_by_pipeline
    assert resources.job["spec"]["template"]["spec"]["serviceAccountName"] == "notifier"
    for binding in by_kind(resources.rbac, "RoleBinding"):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "notifier", "namespace": "team-a"}]


def test_promise_workflows_get_a_cluster_role_on_promises_and_works():
    rbac = build(make_run(PROMISE)).rbac
    pipeline_id = "database-promise-configure-promise-setup"
    assert [(obj["kind"], obj["metadata"]["name"]) for obj in rbac] == [
        ("ClusterRole", pipeline_id),
        ("ClusterRoleBinding", pipeline_id),
    ]
    role, binding = rbac
    assert role["rules"] == [
        {
            "apiGroups": ["platform.kratix.io"],
            "resources": ["promises", "promises/status", "works"],
            "verbs": ["get", "list", "update", "create", "patch"],
        }
    ]
    assert role["metadata"]["labels"] == {"kratix.io/promise-name": "database"}
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": pipeline_id,
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": pipeline_id, "namespace": SYSTEM_NAMESPACE}
    ]


def test_resource_workflows_get_a_role_on_the_request_and_works():
    rbac = build().rbac
    pipeline_id = "database-resource-configure-instance"
    role = named(rbac, "Role", pipeline_id)
    assert role["metadata"]["namespace"] == "team-a"
    assert role["rules"] == [
        {
            "apiGroups": ["example.com"],
            "resources": ["databases", "databases/status"],
            "verbs": ["get", "list", "update", "create", "patch"],
        },
        {
            "apiGroups": ["platform.kratix.io"],
            "resources": ["works"],
            "verbs": ["get", "list", "update", "create", "patch"],
        },
    ]
    binding = named(rbac, "RoleBinding", pipeline_id)
    assert binding["roleRef"]["kind"] == "Role" and binding["roleRef"]["name"] == pipeline_id
    # The only cluster-wide grant is the one the author asked for with resourceNamespace: "*".
    cluster_bindings = by_kind(rbac, "ClusterRoleBinding")
    assert [crb["metadata"]["labels"]["kratix.io/resource-namespace"] for crb in cluster_bindings] == [
        "kratix_all_namespaces"
    ]


def test_kratix_grants_no_verbs_beyond_what_its_containers_need():
    for run in (
        make_run(PROMISE),
        make_run(),
        make_run(promise=make_promise(pipeline_namespace="pipelines")),
    ):
        kratix_roles = [
            obj
            for obj in build(run).rbac
            if obj["kind"] in ("Role", "ClusterRole")
            and "kratix.io/pipeline-namespace" not in obj["metadata"]["labels"]
        ]
        assert kratix_roles
        for role in kratix_roles:
            for rule in role["rules"]:
                assert rule["verbs"] == list(PIPELINE_VERBS)


def test_requests_outside_the_pipeline_namespace_get_a_cluster_role():
    rbac = build(make_run(promise=make_promise(pipeline_namespace="pipelines"))).rbac
    name = "database-resource-configure-instance-team-a"
    role = named(rbac, "ClusterRole", name)
    assert role["rules"] == [
        {
            "apiGroups": ["example.com"],
            "resources": ["databases", "databases/status"],
            "verbs": ["get", "list", "update", "create", "patch"],
        }
    ]
    binding = named(rbac, "ClusterRoleBinding", name)
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "database-resource-configure-instance", "namespace": "pipelines"}
    ]
    assert named(rbac, "Role", "database-resource-configure-instance")["metadata"]["namespace"] == "pipelines"
    assert not [obj for obj in by_kind(build().rbac, "ClusterRole") if obj["metadata"]["name"] == name]


PERMISSION_LABELS = {
    "kratix.io/promise-name": "database",
    "kratix.io/workflow-type": "resource",
    "kratix.io/workflow-action": "configure",
    "kratix.io/pipeline-name": "instance",
    "kratix.io/pipeline-namespace": "team-a",
}


def test_permissions_without_a_namespace_are_a_role_in_the_pipeline_namespace():
    rbac = build().rbac
    name = f"database-resource-configure-instance-{md5('database-resource-configure-instance')[:5]}"
    role = named(rbac, "Role", name)
    assert role["metadata"]["namespace"] == "team-a"
    assert role["metadata"]["labels"] == PERMISSION_LABELS
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["services"], "verbs": ["list"]},
    ]
    binding = named(rbac, "RoleBinding", name)
    assert binding["metadata"]["namespace"] == "team-a"
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name}


def test_permissions_in_another_namespace_are_a_cluster_role_bound_there():
    rbac = build().rbac
    role_name = f"database-resource-configure-instance-shared-config-{md5('database-resource-configure-instance-shared-config')[:5]}"
    binding_name = f"database-resource-configure-instance-team-a-{md5('database-resource-configure-instance-team-a')[:5]}"
    role = named(rbac, "ClusterRole", role_name)
    assert role["metadata"]["labels"] == {
        **PERMISSION_LABELS,
        "kratix.io/resource-namespace": "shared-config",
    }
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]
    binding = named(rbac, "RoleBinding", binding_name)
    assert binding["metadata"]["namespace"] == "shared-config"
    assert binding["metadata"]["labels"] == role["metadata"]["labels"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role_name,
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "database-resource-configure-instance", "namespace": "team-a"}
    ]


def test_permissions_in_all_namespaces_are_a_cluster_role_and_binding():
    rbac = build().rbac
    full = "database-resource-configure-instance-kratix-all-namespaces"
    role_name = f"{full[:56]}-{md5(full)[:5]}"  # Kratix hashes the name before cutting it
    role = named(rbac, "ClusterRole", role_name)
    assert role["metadata"]["labels"]["kratix.io/resource-namespace"] == "kratix_all_namespaces"
    assert role["rules"] == [
        {
            "apiGroups": ["example.com"],
            "resources": ["backups"],
            "verbs": ["get"],
            "resourceNames": ["nightly"],
        }
    ]
    binding_name = f"database-resource-configure-instance-team-a-{md5('database-resource-configure-instance-team-a')[:5]}"
    binding = named(rbac, "ClusterRoleBinding", binding_name)
    assert binding["roleRef"]["name"] == role_name
    assert binding["metadata"]["labels"] == role["metadata"]["labels"]


def test_pipelines_without_permissions_get_only_kratix_grants():
    rbac = build(make_run(index=1)).rbac
    assert [(obj["kind"], obj["metadata"]["name"]) for obj in rbac] == [
        ("Role", "database-resource-configure-notify"),
        ("RoleBinding", "database-resource-configure-notify"),
    ]


# --- refusing inputs that cannot work ---------------------------------------------------------------


def test_a_resource_workflow_needs_the_request():
    promise = make_promise()
    run = PipelineRun(
        promise=promise,
        workflow_type=RESOURCE,
        action=CONFIGURE,
        pipeline=promise.pipelines(RESOURCE, CONFIGURE)[0],
        index=0,
        run=1,
        attempt=1,
        spec_hash="h",
        is_last_pipeline=False,
    )
    with pytest.raises(ValueError, match="request"):
        build(run)


def test_a_promise_workflow_takes_no_request():
    with pytest.raises(ValueError, match="Promise itself"):
        build(make_run(PROMISE, request=REQUEST))


def test_objects_without_a_uid_are_refused():
    request = copy.deepcopy(REQUEST)
    del request["metadata"]["uid"]
    with pytest.raises(ValueError, match="uid"):
        build(make_run(request=request))
