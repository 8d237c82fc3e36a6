"""From one pipeline run to the Kubernetes objects that carry it out (kratix-behaviour.md §2.1-§2.7).

Given the Promise, the pipeline, the object it works on and the run/index/attempt chosen by the
workflow state machine, :func:`build_pipeline_resources` returns what kratix-py applies, as plain
dicts in apply order: the ServiceAccount, the destination-selectors ConfigMap, the Roles and
bindings, and last the Job. Nothing here reads the cluster or the clock, so the same inputs always
give identical objects, and the Job name (see :mod:`kratix_py.core.names`) makes starting a run
idempotent.

The pod is the contract existing pipeline images and the ``kratix-sdk`` rely on, so its shape is
Kratix's: a ``reader`` init container writes ``/kratix/input/object.yaml``; the user's containers run
in order as init containers with ``/kratix/input`` read-only and ``/kratix/output`` and
``/kratix/metadata`` shared; configure pipelines end with ``work-writer`` (output -> Work); the only
regular container, ``status-writer``, merges ``status.yaml`` into the object. kratix-py's own
containers run ``kratix-py pipeline-adapter <step>`` from the adapter image.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import yaml

from kratix_py.api.pipeline import Container, Pipeline
from kratix_py.api.promise import Promise
from kratix_py.contract import (
    ANNOTATION_JOB_RESOURCE_API_VERSION,
    ANNOTATION_JOB_RESOURCE_KIND,
    ANNOTATION_JOB_RESOURCE_NAME,
    ANNOTATION_JOB_RESOURCE_NAMESPACE,
    API_VERSION,
    DEFAULT_INPUT_DIR,
    DEFAULT_OUTPUT_DIR,
    ENV_CLUSTER_SCOPED,
    ENV_CRD_PLURAL,
    ENV_DRY_RUN,
    ENV_IS_LAST_PIPELINE,
    ENV_OBJECT_GROUP,
    ENV_OBJECT_KIND,
    ENV_OBJECT_NAME,
    ENV_OBJECT_NAMESPACE,
    ENV_OBJECT_UID,
    ENV_OBJECT_VERSION,
    ENV_PIPELINE_NAME,
    ENV_PROMISE_NAME,
    ENV_WORKFLOW_ACTION,
    ENV_WORKFLOW_TYPE,
    LABEL_HASH,
    LABEL_MANAGED_BY,
    LABEL_PIPELINE_NAME,
    LABEL_PROMISE_NAME,
    MANAGED_BY_KRATIX,
    PROMISE_SCHEDULING_VOLUME,
    READER_CONTAINER,
    SHARED_INPUT_VOLUME,
    SHARED_METADATA_VOLUME,
    SHARED_OUTPUT_VOLUME,
    STATUS_WRITER_CONTAINER,
    TRUE_LABEL_VALUE,
    WORK_CREATOR_KRATIX_SYSTEM,
    WORK_CREATOR_METADATA,
    WORK_CREATOR_OUTPUT,
    WORK_CREATOR_ROOT,
    WORK_WRITER_CONTAINER,
    WorkflowAction,
    WorkflowType,
)
from kratix_py.core.jobs import ANNOTATION_ATTEMPT, ANNOTATION_PIPELINE_INDEX, ANNOTATION_RUN_ID, job_selector
from kratix_py.core.names import (
    job_name,
    job_name_base,
    job_suffix,
    pipeline_namespace,
    scheduling_config_map_name,
    uses_pipeline_namespace,
)
from kratix_py.core.rbac import pipeline_rbac, service_account
from kratix_py.core.workloads import PROMISE_SCHEDULING_FILE, SOURCE_PROMISE

ADAPTER_COMMAND: Final = ("kratix-py", "pipeline-adapter")
"""How kratix-py's containers start a step: ``kratix-py pipeline-adapter <step> [flags]``."""
READER_STEP: Final = "reader"
WORK_WRITER_STEP: Final = "work-writer"
STATUS_WRITER_STEP: Final = "status-writer"

KRATIX_METADATA_DIR: Final = "/kratix/metadata"
SCHEDULING_CONFIG_MAP_KEY: Final = "destinationSelectors"
PROMISES_PLURAL: Final = "promises"

DEFAULT_CONTAINER_RESOURCES: Final[Mapping[str, Mapping[str, str]]] = {
    "requests": {"cpu": "100m", "memory": "128Mi", "ephemeral-storage": "128Mi"},
    "limits": {"cpu": "200m", "memory": "256Mi", "ephemeral-storage": "256Mi"},
}
"""Kratix's defaults for every pipeline container: enough for the adapter steps, small enough that
a namespace ResourceQuota does not reject the pod for lack of requests and limits."""

RESTRICTED_SECURITY_CONTEXT: Final[Mapping[str, Any]] = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}
"""What the ``restricted`` Pod Security Standard asks of a container: no privilege escalation, no
capabilities, a non-root user, the runtime's default seccomp profile."""

ADAPTER_SECURITY_CONTEXT: Final[Mapping[str, Any]] = RESTRICTED_SECURITY_CONTEXT
"""kratix-py's containers need no privileges at all, so pipelines can run in namespaces that
enforce the ``restricted`` standard."""


@dataclass(frozen=True)
class PipelineSettings:
    """Platform-wide settings for pipeline Jobs (operator flags and Kratix's ``workflows`` config)."""

    adapter_image: str
    """Image of the reader, work-writer and status-writer containers (``PIPELINE_ADAPTER_IMG``)."""
    adapter_pull_secret: str | None = None
    """Pull secret for the adapter image, put first in every pod's ``imagePullSecrets``."""
    default_backoff_limit: int | None = None
    """``backoffLimit`` of Jobs whose pipeline sets no ``jobOptions.backoffLimit``; ``None`` leaves
    Kubernetes' own default."""
    default_active_deadline_seconds: int | None = None
    """``activeDeadlineSeconds`` of Jobs whose pipeline sets no ``jobOptions.activeDeadlineSeconds``:
    a hung pipeline then fails (``DeadlineExceeded``) and is retried or replaced, instead of
    blocking its object for good. ``None`` sets no deadline."""
    default_container_security_context: Mapping[str, Any] | None = field(
        default_factory=lambda: copy.deepcopy(dict(RESTRICTED_SECURITY_CONTEXT))
    )
    """securityContext of user containers that set none (Kratix's
    ``workflows.defaultContainerSecurityContext``). Restricted by default, unlike Kratix: pipeline
    images come from others (marketplaces, other teams) and run with the pipeline's credentials,
    so they get no root, no capabilities and no privilege escalation unless a Promise's container
    asks for them in its own ``securityContext``, which replaces this one whole, as in Kratix.
    ``None`` (or ``{}``) sets nothing, as Kratix does without the setting."""
    default_image_pull_policy: str | None = None
    """imagePullPolicy for containers that set none (``workflows.defaultImagePullPolicy``)."""
    default_container_resources: Mapping[str, Any] = field(
        default_factory=lambda: copy.deepcopy(dict(DEFAULT_CONTAINER_RESOURCES))
    )
    """Resources of kratix-py's containers, and of user containers that set none."""


@dataclass(frozen=True)
class PipelineRun:
    """One attempt of one pipeline for one object: everything the built objects depend on."""

    promise: Promise
    workflow_type: WorkflowType
    action: WorkflowAction
    pipeline: Pipeline
    index: int
    """Position of ``pipeline`` in the workflow's list of pipelines."""
    run: int
    attempt: int
    spec_hash: str
    """The rerun key recorded as ``kratix.io/hash`` (see :mod:`kratix_py.core.hashing`)."""
    is_last_pipeline: bool
    """Tells the status-writer to mark the workflow completed when this pipeline succeeds."""
    request: Mapping[str, Any] | None = None
    """The resource request (as read from the API server) for resource workflows; ``None`` for
    promise workflows, which work on the Promise itself."""
    request_plural: str | None = None
    """The request CRD's plural; defaults to the one in the Promise's ``spec.api``."""
    dry_run: bool = False
    """Sets ``KRATIX_DRY_RUN=true`` so the adapter steps write nothing for real."""


@dataclass(frozen=True)
class WorkflowObject:
    """The object a pipeline works on, as the pipeline pod's environment describes it."""

    api_version: str
    kind: str
    name: str
    namespace: str
    """Empty for the Promise (cluster scoped)."""
    uid: str
    plural: str
    cluster_scoped: bool

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]


@dataclass(frozen=True)
class PipelineResources:
    """Everything applied to start one pipeline run."""

    namespace: str
    """Where the Job and ServiceAccount live (the pipeline namespace)."""
    service_account: dict[str, Any]
    """The ServiceAccount the Job runs as, labelled with its Promise."""
    service_account_named_by_pipeline: bool
    """The pipeline names its own ``rbac.serviceAccount``. As in Kratix, it is created (labelled with
    the Promise) when missing, but one that exists and is not this Promise's is left alone: it
    belongs to someone else, so kratix-py neither changes nor deletes it."""
    config_map: dict[str, Any] | None
    """The destination-selectors ConfigMap; configure pipelines only."""
    rbac: list[dict[str, Any]]
    """Roles and their bindings, each role just before its binding."""
    job: dict[str, Any]

    def objects(self) -> list[dict[str, Any]]:
        """All of them in apply order: ServiceAccount, ConfigMap, RBAC, then the Job."""
        head = [obj for obj in (self.service_account, self.config_map) if obj is not None]
        return [*head, *self.rbac, self.job]


def build_pipeline_resources(run: PipelineRun, settings: PipelineSettings) -> PipelineResources:
    """The objects for ``run``, ready to apply (see the module docstring)."""
    workflow_type, action = WorkflowType(run.workflow_type), WorkflowAction(run.action)
    promise, pipeline = run.promise, run.pipeline
    subject = workflow_object(run)
    namespace = pipeline_namespace(promise, workflow_type, subject.namespace or None)
    pipeline_id = pipeline.pipeline_id(promise.name, workflow_type, action)
    custom_account = pipeline.spec.rbac.service_account
    account_name = custom_account or pipeline_id

    config_map = None
    if action is WorkflowAction.CONFIGURE:
        config_map = scheduling_config_map(promise, namespace)
    is_resource = workflow_type is WorkflowType.RESOURCE
    rbac = pipeline_rbac(
        promise_name=promise.name,
        pipeline_id=pipeline_id,
        pipeline_name=pipeline.name,
        workflow_type=workflow_type,
        action=action,
        pipeline_namespace=namespace,
        service_account_name=account_name,
        permissions=pipeline.spec.rbac.permissions,
        request_group=subject.group if is_resource else None,
        request_plural=subject.plural if is_resource else None,
        request_namespace=subject.namespace if is_resource else None,
    )
    return PipelineResources(
        namespace=namespace,
        service_account=service_account(account_name, namespace, promise.name),
        service_account_named_by_pipeline=bool(custom_account),
        config_map=config_map,
        rbac=rbac,
        job=_job(run, settings, subject, namespace, account_name),
    )


def pipeline_resources(run: PipelineRun, settings: PipelineSettings) -> list[dict[str, Any]]:
    """:func:`build_pipeline_resources` as one list in apply order."""
    return build_pipeline_resources(run, settings).objects()


def workflow_object(run: PipelineRun) -> WorkflowObject:
    """The Promise (promise workflows) or the request (resource workflows), checked for what the
    pod needs: a uid (for the Job name), a name, a namespace for requests, the CRD plural."""
    promise = run.promise
    if WorkflowType(run.workflow_type) is WorkflowType.PROMISE:
        if run.request is not None:
            raise ValueError("a promise workflow works on the Promise itself: do not pass a request")
        return WorkflowObject(
            api_version=API_VERSION,
            kind=promise.KIND,
            name=promise.name,
            namespace="",
            uid=promise.metadata.uid or "",
            plural=PROMISES_PLURAL,
            cluster_scoped=True,
        )
    if run.request is None:
        raise ValueError("a resource workflow needs the resource request it works on")
    metadata = run.request.get("metadata") or {}
    api_version, kind = run.request.get("apiVersion"), run.request.get("kind")
    name, namespace = metadata.get("name"), metadata.get("namespace")
    if not (api_version and kind and name and namespace):
        raise ValueError("the resource request needs apiVersion, kind, metadata.name and metadata.namespace")
    gvk = promise.request_gvk()
    plural = run.request_plural or (gvk.plural if gvk is not None else None)
    if not plural:
        raise ValueError(f"Promise {promise.name} has no spec.api: pass the request's CRD plural")
    crd = promise.api_crd()
    return WorkflowObject(
        api_version=str(api_version),
        kind=str(kind),
        name=str(name),
        namespace=str(namespace),
        uid=str(metadata.get("uid") or ""),
        plural=plural,
        cluster_scoped=crd is not None and crd.spec.scope == "Cluster",
    )


def scheduling_config_map(promise: Promise, namespace: str) -> dict[str, Any]:
    """The Promise's ``destinationSelectors`` for the work-writer, as one squashed entry.

    The work-writer adds them to the default workload group of every Work. Written with
    ``matchLabels`` (Kratix writes ``matchlabels``; the work-writer reads both) and sorted keys, so
    an unchanged Promise gives a byte-identical ConfigMap.
    """
    labels = promise.destination_selector_labels()
    entries = [{"matchLabels": labels, "source": SOURCE_PROMISE}] if labels else []
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": scheduling_config_map_name(promise.name),
            "namespace": namespace,
            "labels": {LABEL_PROMISE_NAME: promise.name},
        },
        "data": {
            SCHEDULING_CONFIG_MAP_KEY: yaml.safe_dump(entries, sort_keys=True, default_flow_style=False)
        },
    }


# --- the Job ---------------------------------------------------------------------------------------


def _job(
    run: PipelineRun, settings: PipelineSettings, subject: WorkflowObject, namespace: str, account: str
) -> dict[str, Any]:
    labels = job_labels(run)
    metadata: dict[str, Any] = {
        "name": pipeline_job_name(run),
        "namespace": namespace,
        "labels": labels,
        "annotations": _job_annotations(run, subject),
    }
    owner = _owner_reference(run, subject, namespace)
    if owner is not None:
        metadata["ownerReferences"] = [owner]

    template_metadata: dict[str, Any] = {"labels": dict(labels)}
    if run.pipeline.metadata.annotations:
        template_metadata["annotations"] = dict(run.pipeline.metadata.annotations)

    spec: dict[str, Any] = {}
    backoff_limit = run.pipeline.spec.job_options.backoff_limit
    if backoff_limit is None:
        backoff_limit = settings.default_backoff_limit
    if backoff_limit is not None:
        spec["backoffLimit"] = backoff_limit
    deadline = run.pipeline.spec.job_options.active_deadline_seconds
    if deadline is None:
        deadline = settings.default_active_deadline_seconds
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    spec["template"] = {
        "metadata": template_metadata,
        "spec": _pod_spec(run, settings, subject, namespace, account),
    }
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": spec}


def pipeline_job_name(run: PipelineRun) -> str:
    """``kratix-<promise>[-<request>[-<request namespace>]]-<pipeline>-<suffix>`` (see names)."""
    subject = workflow_object(run)
    is_resource = WorkflowType(run.workflow_type) is WorkflowType.RESOURCE
    base = job_name_base(
        run.promise.name,
        run.pipeline.name,
        request_name=subject.name if is_resource else None,
        request_namespace=subject.namespace if is_resource and uses_pipeline_namespace(run.promise) else None,
    )
    return job_name(base, job_suffix(subject.uid, run.action, run.run, run.index, run.attempt))


def job_labels(run: PipelineRun) -> dict[str, str]:
    """Labels of the Job and its pod (kratix-behaviour.md §2.7).

    The object's selector (:func:`kratix_py.core.jobs.job_selector`), the pipeline name, Kratix's
    ``app.kubernetes.io/managed-by: Kratix`` and the spec hash; then the pipeline's own labels on
    top, as Kratix merges them. ``managed-by`` stays ``Kratix`` rather than ``kratix-py``: it is part
    of the contract tooling and documentation select on, and kratix-py and Kratix cannot manage the
    same cluster anyway (they serve the same CRDs).
    """
    labels = job_selector(run.promise, run.workflow_type, run.action, run.request)
    labels[LABEL_PIPELINE_NAME] = run.pipeline.name
    labels[LABEL_MANAGED_BY] = MANAGED_BY_KRATIX
    if run.spec_hash:
        labels[LABEL_HASH] = run.spec_hash
    labels.update(run.pipeline.metadata.labels)
    return labels


def _job_annotations(run: PipelineRun, subject: WorkflowObject) -> dict[str, str]:
    """Which object the Job is for (Kratix's keys) and which run/pipeline/attempt it is (ours)."""
    return {
        ANNOTATION_JOB_RESOURCE_NAMESPACE: subject.namespace,
        ANNOTATION_JOB_RESOURCE_NAME: subject.name,
        ANNOTATION_JOB_RESOURCE_KIND: subject.kind,
        ANNOTATION_JOB_RESOURCE_API_VERSION: subject.api_version,
        ANNOTATION_RUN_ID: str(run.run),
        ANNOTATION_PIPELINE_INDEX: str(run.index),
        ANNOTATION_ATTEMPT: str(run.attempt),
    }


def _owner_reference(run: PipelineRun, subject: WorkflowObject, namespace: str) -> dict[str, Any] | None:
    """Promise Jobs are controlled by the Promise, so its Job events reach the Promise handler.

    A request owns its Jobs only when they share its namespace: Kubernetes does not allow owners in
    another namespace. It is a plain reference (not the controller), as in Kratix.
    """
    reference: dict[str, Any] = {
        "apiVersion": subject.api_version,
        "kind": subject.kind,
        "name": subject.name,
        "uid": subject.uid,
    }
    if WorkflowType(run.workflow_type) is WorkflowType.PROMISE:
        return {**reference, "controller": True, "blockOwnerDeletion": True}
    if subject.namespace == namespace:
        return reference
    return None


def _pod_spec(
    run: PipelineRun, settings: PipelineSettings, subject: WorkflowObject, namespace: str, account: str
) -> dict[str, Any]:
    pipeline = run.pipeline
    configure = WorkflowAction(run.action) is WorkflowAction.CONFIGURE
    kratix_env = _kratix_env(run, subject)
    init_containers = [_reader(settings, kratix_env)]
    init_containers += [
        _user_container(container, settings, kratix_env) for container in pipeline.spec.containers
    ]
    if configure:
        init_containers.append(_work_writer(run, settings, subject, namespace, kratix_env))
    status_env = [*kratix_env, _env(ENV_IS_LAST_PIPELINE, _bool(run.is_last_pipeline))]

    pod: dict[str, Any] = {
        "restartPolicy": pipeline.spec.restart_policy,
        "serviceAccountName": account,
        "initContainers": init_containers,
        "containers": [_status_writer(settings, status_env)],
        "volumes": _volumes(run, configure),
    }
    pull_secrets = [{"name": settings.adapter_pull_secret}] if settings.adapter_pull_secret else []
    pull_secrets += [{"name": secret.name} for secret in pipeline.spec.image_pull_secrets]
    if pull_secrets:
        pod["imagePullSecrets"] = pull_secrets
    if pipeline.spec.node_selector:
        pod["nodeSelector"] = dict(pipeline.spec.node_selector)
    if pipeline.spec.tolerations:
        pod["tolerations"] = copy.deepcopy(pipeline.spec.tolerations)
    return pod


def _kratix_env(run: PipelineRun, subject: WorkflowObject) -> list[dict[str, str]]:
    """The ``KRATIX_*`` variables of §2.5, in Kratix's order; pipeline images read them."""
    env = [
        _env(ENV_WORKFLOW_ACTION, str(WorkflowAction(run.action))),
        _env(ENV_WORKFLOW_TYPE, str(WorkflowType(run.workflow_type))),
        _env(ENV_PROMISE_NAME, run.promise.name),
        _env(ENV_PIPELINE_NAME, run.pipeline.name),
        _env(ENV_OBJECT_KIND, subject.kind),
        _env(ENV_OBJECT_GROUP, subject.group),
        _env(ENV_OBJECT_VERSION, subject.version),
        _env(ENV_OBJECT_NAME, subject.name),
        _env(ENV_OBJECT_NAMESPACE, subject.namespace),
        _env(ENV_CRD_PLURAL, subject.plural),
        _env(ENV_CLUSTER_SCOPED, _bool(subject.cluster_scoped)),
    ]
    if run.dry_run:
        env.append(_env(ENV_DRY_RUN, TRUE_LABEL_VALUE))
    return env


def _with_user_env(
    kratix_env: Sequence[Mapping[str, Any]], user_env: Sequence[Mapping[str, Any]]
) -> list[Any]:
    """Kratix's variables, then the user's, with the user's winning on a name clash.

    Kubernetes already lets the last of two same-named variables win; dropping the overridden one
    instead of listing both gives the container the same environment, and keeps the Job acceptable
    to server-side apply, which rejects duplicate names in ``env``.
    """
    overridden = {entry.get("name") for entry in user_env}
    kept = [dict(entry) for entry in kratix_env if entry.get("name") not in overridden]
    return [*kept, *copy.deepcopy(list(user_env))]


def _mount(volume: str, path: str, *, read_only: bool = False) -> dict[str, Any]:
    mount: dict[str, Any] = {"name": volume, "mountPath": path}
    if read_only:
        mount["readOnly"] = True
    return mount


def _adapter_container(
    name: str,
    step: str,
    settings: PipelineSettings,
    *,
    args: Sequence[str] = (),
    env: Sequence[Mapping[str, Any]] = (),
    mounts: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": name,
        "image": settings.adapter_image,
        "command": [*ADAPTER_COMMAND, step],
    }
    if args:
        container["args"] = list(args)
    if env:
        container["env"] = [dict(entry) for entry in env]
    container["volumeMounts"] = [dict(mount) for mount in mounts]
    if settings.default_image_pull_policy:
        container["imagePullPolicy"] = settings.default_image_pull_policy
    container["securityContext"] = copy.deepcopy(dict(ADAPTER_SECURITY_CONTEXT))
    container["resources"] = copy.deepcopy(dict(settings.default_container_resources))
    return container


def _reader(settings: PipelineSettings, kratix_env: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Writes the object (with its status) to /kratix/input/object.yaml; the only writer of input."""
    return _adapter_container(
        READER_CONTAINER,
        READER_STEP,
        settings,
        env=kratix_env,
        mounts=[
            _mount(SHARED_INPUT_VOLUME, DEFAULT_INPUT_DIR),
            _mount(SHARED_OUTPUT_VOLUME, DEFAULT_OUTPUT_DIR),
        ],
    )


def _user_container(
    container: Container, settings: PipelineSettings, kratix_env: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """A pipeline step as the author wrote it, with the /kratix mounts and variables added, and the
    platform defaults for what the author left unset."""
    built: dict[str, Any] = {"name": container.name, "image": container.image}
    if container.command:
        built["command"] = list(container.command)
    if container.args:
        built["args"] = list(container.args)
    built["env"] = _with_user_env(kratix_env, container.env)
    if container.env_from:
        built["envFrom"] = copy.deepcopy(container.env_from)
    built["volumeMounts"] = [
        # Read-only: the input is the object as the reader saw it, the same for every step.
        _mount(SHARED_INPUT_VOLUME, DEFAULT_INPUT_DIR, read_only=True),
        _mount(SHARED_OUTPUT_VOLUME, DEFAULT_OUTPUT_DIR),
        _mount(SHARED_METADATA_VOLUME, KRATIX_METADATA_DIR),
        *copy.deepcopy(container.volume_mounts),
    ]
    pull_policy = container.image_pull_policy or settings.default_image_pull_policy
    if pull_policy:
        built["imagePullPolicy"] = pull_policy
    # The author's value wins whenever it is set, even to {} (e.g. to opt out of default limits).
    security_context: Mapping[str, Any] | None = container.security_context
    if security_context is None:
        security_context = settings.default_container_security_context
    if security_context:
        built["securityContext"] = copy.deepcopy(dict(security_context))
    resources: Mapping[str, Any] | None = container.resources
    if resources is None:
        resources = settings.default_container_resources
    if resources:
        built["resources"] = copy.deepcopy(dict(resources))
    return built


def _work_writer(
    run: PipelineRun,
    settings: PipelineSettings,
    subject: WorkflowObject,
    namespace: str,
    kratix_env: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """Turns /kratix/output into the pipeline's Work; the flags are those of Kratix's work-creator.

    It also gets the object's variables and uid, to make the Work owned by the object: a Work
    counts only for its owner (:mod:`kratix_py.core.ownership`).
    """
    args = [
        "--input-directory",
        WORK_CREATOR_ROOT,
        "--promise-name",
        run.promise.name,
        "--pipeline-name",
        run.pipeline.name,
        "--namespace",
        namespace,
        "--workflow-type",
        str(WorkflowType(run.workflow_type)),
    ]
    if WorkflowType(run.workflow_type) is WorkflowType.RESOURCE:
        args += ["--resource-name", subject.name]
        if uses_pipeline_namespace(run.promise):
            args += ["--resource-namespace", subject.namespace]
    env = [*kratix_env, _env(ENV_OBJECT_UID, subject.uid)]
    return _adapter_container(
        WORK_WRITER_CONTAINER,
        WORK_WRITER_STEP,
        settings,
        args=args,
        env=env,
        mounts=[
            _mount(SHARED_OUTPUT_VOLUME, f"{WORK_CREATOR_ROOT}/{WORK_CREATOR_OUTPUT}"),
            _mount(SHARED_METADATA_VOLUME, f"{WORK_CREATOR_ROOT}/{WORK_CREATOR_METADATA}"),
            _mount(PROMISE_SCHEDULING_VOLUME, f"{WORK_CREATOR_ROOT}/{WORK_CREATOR_KRATIX_SYSTEM}"),
        ],
    )


def _status_writer(settings: PipelineSettings, env: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Merges status.yaml into the object and records the pipeline's outcome; the pod's main container."""
    return _adapter_container(
        STATUS_WRITER_CONTAINER,
        STATUS_WRITER_STEP,
        settings,
        env=env,
        mounts=[_mount(SHARED_METADATA_VOLUME, f"{WORK_CREATOR_ROOT}/{WORK_CREATOR_METADATA}")],
    )


def _volumes(run: PipelineRun, configure: bool) -> list[dict[str, Any]]:
    """Kratix's volumes in Kratix's order, then the pipeline's own."""
    volumes: list[dict[str, Any]] = []
    if configure:
        volumes.append(
            {
                "name": PROMISE_SCHEDULING_VOLUME,
                "configMap": {
                    "name": scheduling_config_map_name(run.promise.name),
                    "items": [{"key": SCHEDULING_CONFIG_MAP_KEY, "path": PROMISE_SCHEDULING_FILE}],
                },
            }
        )
    volumes += [
        {"name": name, "emptyDir": {}}
        for name in (SHARED_INPUT_VOLUME, SHARED_OUTPUT_VOLUME, SHARED_METADATA_VOLUME)
    ]
    volumes += copy.deepcopy(run.pipeline.spec.volumes)
    return volumes


def _env(name: str, value: str) -> dict[str, str]:
    return {"name": name, "value": value}


def _bool(value: bool) -> str:
    return "true" if value else "false"


__all__ = [
    "ADAPTER_SECURITY_CONTEXT",
    "DEFAULT_CONTAINER_RESOURCES",
    "RESTRICTED_SECURITY_CONTEXT",
    "PipelineResources",
    "PipelineRun",
    "PipelineSettings",
    "WorkflowObject",
    "build_pipeline_resources",
    "job_labels",
    "pipeline_job_name",
    "pipeline_resources",
    "scheduling_config_map",
    "workflow_object",
]
