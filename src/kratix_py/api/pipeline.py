"""The Pipeline object embedded in Promise workflows (``kind: Pipeline``).

Kratix parses pipelines strictly (unknown fields are errors) and then dry-run-creates the Job
built from each one, so a mistake surfaces as an admission error. kratix-py checks the same
rules here, when the Promise is parsed, and names the field: a typo such as ``containres`` or a
container called ``reader`` (a name Kratix uses itself) is reported before any Job exists.

Kubernetes structures that Kratix copies into the Job untouched (env, volumes, tolerations,
securityContext, resources ...) stay plain dicts: the API server validates them on the Job.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from kratix_py.api.meta import KubeModel
from kratix_py.api.validation import (
    annotation_keys_error,
    dns1123_label_error,
    dns1123_subdomain_error,
    labels_error,
)
from kratix_py.contract import (
    KRATIX_CONTAINER_NAMES,
    KRATIX_VOLUME_NAMES,
    MAX_PIPELINE_ID_LENGTH,
    WorkflowAction,
    WorkflowType,
)


def _check(problem: str | None) -> None:
    if problem is not None:
        raise ValueError(problem)


class PipelineMetadata(KubeModel):
    """Name, labels and annotations of a pipeline; the labels and annotations are put on its Jobs."""

    name: str = Field(
        description="Pipeline name, unique within its workflow; part of the Job, ServiceAccount and Role names."
    )
    namespace: str | None = Field(
        default=None,
        description="Accepted for compatibility with older Kratix examples and ignored: "
        "the namespace a pipeline runs in is chosen by Kratix (see workflows.config.pipelineNamespace).",
    )
    labels: dict[str, str] = Field(default_factory=dict, description="Added to the pipeline's Jobs and Pods.")
    annotations: dict[str, str] = Field(default_factory=dict, description="Added to the pipeline's Pods.")

    @field_validator("name")
    @classmethod
    def _name_is_dns_label(cls, name: str) -> str:
        _check(dns1123_label_error(name))
        return name

    @field_validator("labels")
    @classmethod
    def _labels_are_valid(cls, labels: dict[str, str]) -> dict[str, str]:
        _check(labels_error(labels))
        return labels

    @field_validator("annotations")
    @classmethod
    def _annotation_keys_are_valid(cls, annotations: dict[str, str]) -> dict[str, str]:
        _check(annotation_keys_error(annotations))
        return annotations


class Container(KubeModel):
    """One step of a pipeline: a container run to completion, in order, with /kratix/* mounted."""

    name: str = Field(description="Container name, unique within the pipeline.")
    image: str = Field(min_length=1, description="Container image.")
    command: list[str] = Field(default_factory=list, description="Entrypoint override.")
    args: list[str] = Field(default_factory=list, description="Arguments to the entrypoint.")
    env: list[dict[str, Any]] = Field(
        default_factory=list, description="Environment variables (core/v1 EnvVar), after the KRATIX_* ones."
    )
    env_from: list[dict[str, Any]] = Field(
        default_factory=list, description="Environment from ConfigMaps/Secrets (core/v1 EnvFromSource)."
    )
    volume_mounts: list[dict[str, Any]] = Field(
        default_factory=list, description="Mounts (core/v1 VolumeMount), after the /kratix/* ones."
    )
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = Field(
        default=None, description="Image pull policy; defaults to the platform's configured policy."
    )
    security_context: dict[str, Any] | None = Field(
        default=None, description="core/v1 SecurityContext; defaults to the platform's configured one."
    )
    resources: dict[str, Any] | None = Field(
        default=None, description="core/v1 ResourceRequirements; defaults to the platform's configured ones."
    )

    @field_validator("name")
    @classmethod
    def _name_is_usable(cls, name: str) -> str:
        _check(dns1123_label_error(name))
        if name in KRATIX_CONTAINER_NAMES:
            raise ValueError(
                f"container name {name!r} is reserved: Kratix adds containers called "
                f"{', '.join(KRATIX_CONTAINER_NAMES)} to every pipeline pod; choose another name"
            )
        return name


class LocalObjectReference(KubeModel):
    """A reference to an object in the pipeline's namespace, by name."""

    name: str = Field(description="Name of the referenced object.")


class JobOptions(KubeModel):
    """Settings for the Job that runs the pipeline."""

    backoff_limit: int | None = Field(
        default=None,
        ge=0,
        description="Retries of the pipeline pod before the Job fails; defaults to the platform setting.",
        json_schema_extra={"format": "int32"},
    )
    active_deadline_seconds: int | None = Field(
        default=None,
        ge=1,
        description="Seconds the pipeline Job may run before it fails with DeadlineExceeded; defaults to "
        "the platform setting (kratix-py).",
        json_schema_extra={"format": "int64"},
    )


class Permission(KubeModel):
    """An RBAC rule granted to the pipeline's ServiceAccount (rbac/v1 PolicyRule + resourceNamespace)."""

    api_groups: list[str] = Field(default_factory=list, description="API groups, '' for the core group.")
    resources: list[str] = Field(default_factory=list, description="Resources, e.g. configmaps.")
    verbs: list[str] = Field(min_length=1, description="Verbs, e.g. get, list, create; '*' for all.")
    resource_names: list[str] = Field(default_factory=list, description="Restrict the rule to these names.")
    non_resource_urls: list[str] = Field(
        default_factory=list, description="Non-resource URLs (only meaningful cluster-wide)."
    )
    resource_namespace: str | None = Field(
        default=None,
        description="Namespace the rule applies in: absent for the pipeline's namespace, "
        "a namespace name, or '*' for all namespaces.",
    )

    @field_validator("resource_namespace")
    @classmethod
    def _namespace_or_star(cls, namespace: str | None) -> str | None:
        if namespace is not None and namespace != "*":
            _check(dns1123_label_error(namespace))
        return namespace


class RBAC(KubeModel):
    """Which ServiceAccount the pipeline runs as and what it may do beyond Kratix's defaults."""

    service_account: str | None = Field(
        default=None,
        description="Run as this existing ServiceAccount instead of the one Kratix creates "
        "(Kratix never modifies a ServiceAccount it did not create).",
    )
    permissions: list[Permission] = Field(default_factory=list, description="Extra RBAC rules.")

    @field_validator("service_account")
    @classmethod
    def _service_account_name(cls, name: str | None) -> str | None:
        if name is not None:
            _check(dns1123_subdomain_error(name))
        return name


class PipelineSpec(KubeModel):
    """What runs: the containers, and the pod settings Kratix passes through to the Job."""

    containers: list[Container] = Field(min_length=1, description="Run one after the other, in order.")
    image_pull_secrets: list[LocalObjectReference] = Field(
        default_factory=list, description="Secrets for pulling the container images."
    )
    job_options: JobOptions = Field(default_factory=JobOptions, description="Settings for the Job.")
    node_selector: dict[str, str] = Field(default_factory=dict, description="Pod nodeSelector.")
    rbac: RBAC = Field(default_factory=RBAC, description="ServiceAccount and extra permissions.")
    restart_policy: Literal["OnFailure", "Never"] = Field(
        default="OnFailure", description="Pod restart policy (Jobs allow OnFailure or Never)."
    )
    tolerations: list[dict[str, Any]] = Field(default_factory=list, description="Pod tolerations (core/v1).")
    volumes: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Extra pod volumes (core/v1 Volume) for the containers' volumeMounts.",
    )

    @field_validator("containers")
    @classmethod
    def _container_names_unique(cls, containers: list[Container]) -> list[Container]:
        seen: set[str] = set()
        for container in containers:
            if container.name in seen:
                raise ValueError(f"container name {container.name!r} is used twice; names must be unique")
            seen.add(container.name)
        return containers

    @field_validator("volumes")
    @classmethod
    def _volume_names_free(cls, volumes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for volume in volumes:
            if volume.get("name") in KRATIX_VOLUME_NAMES:
                raise ValueError(
                    f"volume name {volume['name']!r} is reserved for Kratix's own volumes "
                    f"({', '.join(KRATIX_VOLUME_NAMES)}); choose another name"
                )
        return volumes


class Pipeline(KubeModel):
    """A Kratix pipeline: containers run in order in one Job, reading /kratix/input and writing
    /kratix/output and /kratix/metadata."""

    api_version: Literal["platform.kratix.io/v1alpha1"] = Field(
        description="Always platform.kratix.io/v1alpha1."
    )
    kind: Literal["Pipeline"] = Field(description="Always Pipeline: the only kind of pipeline Kratix runs.")
    metadata: PipelineMetadata
    spec: PipelineSpec

    @model_validator(mode="before")
    @classmethod
    def _only_kratix_pipelines(cls, data: Any) -> Any:
        # Kratix rejects other kinds with one message naming both fields; do the same, since
        # "Input should be 'Pipeline'" alone does not say what would have been accepted.
        if isinstance(data, dict):
            kind, api_version = data.get("kind"), data.get("apiVersion", data.get("api_version"))
            if (kind, api_version) != ("Pipeline", "platform.kratix.io/v1alpha1") and kind is not None:
                name = (data.get("metadata") or {}).get("name", "")
                raise ValueError(
                    f"unsupported pipeline {name!r} of kind {kind!r} and apiVersion {api_version!r}: "
                    "workflows must list objects of kind Pipeline, apiVersion platform.kratix.io/v1alpha1"
                )
        return data

    @property
    def name(self) -> str:
        return self.metadata.name

    def pipeline_id(self, promise_name: str, workflow_type: WorkflowType, action: WorkflowAction) -> str:
        """``<promise>-<type>-<action>-<pipeline>``: names the pipeline's ServiceAccount and Roles."""
        return f"{promise_name}-{WorkflowType(workflow_type)}-{WorkflowAction(action)}-{self.name}"

    def pipeline_id_error(
        self, promise_name: str, workflow_type: WorkflowType, action: WorkflowAction
    ) -> str | None:
        """Why the pipeline id is unusable (too long), or ``None``."""
        pipeline_id = self.pipeline_id(promise_name, workflow_type, action)
        if len(pipeline_id) <= MAX_PIPELINE_ID_LENGTH:
            return None
        return (
            f"pipeline id {pipeline_id!r} is {len(pipeline_id)} characters, more than "
            f"{MAX_PIPELINE_ID_LENGTH}: shorten the Promise or pipeline name"
        )
