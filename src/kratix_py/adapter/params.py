"""The pipeline pod's environment, as the adapter containers read it (behaviour spec §2.5).

kratix-py sets these variables on every container of a pipeline pod; existing pipeline images rely
on the exact names, so they are spelled here once and the pipeline factory should import them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kratix_py.contract import (
    DEFAULT_INPUT_DIR,
    DEFAULT_NAMESPACE,
    DEFAULT_OUTPUT_DIR,
    ENV_CLUSTER_SCOPED,
    ENV_CRD_PLURAL,
    ENV_DRY_RUN,
    ENV_INPUT_DIR,
    ENV_IS_LAST_PIPELINE,
    ENV_OBJECT_GROUP,
    ENV_OBJECT_KIND,
    ENV_OBJECT_NAME,
    ENV_OBJECT_NAMESPACE,
    ENV_OBJECT_VERSION,
    ENV_OUTPUT_DIR,
    ENV_PIPELINE_NAME,
    ENV_PROMISE_NAME,
    ENV_WORKFLOW_ACTION,
    ENV_WORKFLOW_TYPE,
)


class ParameterError(ValueError):
    """A required variable is missing or malformed: the container was not started by kratix-py."""


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


@dataclass(frozen=True)
class ObjectRef:
    """Which object the pipeline works on: the Promise, or the resource request."""

    group: str
    version: str
    plural: str
    name: str
    namespace: str | None  # None when cluster scoped
    kind: str = ""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def describe(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind or self.plural} {where}"


@dataclass(frozen=True)
class PipelineParams:
    """Everything the reader and status-writer learn from the environment."""

    object: ObjectRef
    workflow_type: str
    workflow_action: str
    promise_name: str
    pipeline_name: str
    is_last_pipeline: bool
    dry_run: bool
    input_dir: str
    output_dir: str


def _required(env: Mapping[str, str], name: str) -> str:
    value = (env.get(name) or "").strip()
    if not value:
        raise ParameterError(
            f"{name} is not set; the pipeline adapter runs inside a pipeline pod, where kratix-py sets it"
        )
    return value


def object_ref_from_env(env: Mapping[str, str]) -> ObjectRef:
    """The object named by ``KRATIX_OBJECT_*`` and ``KRATIX_CRD_PLURAL``.

    An empty namespace means ``default`` unless the kind is cluster scoped, as in Kratix.
    """
    cluster_scoped = _truthy(env.get(ENV_CLUSTER_SCOPED))
    namespace: str | None = None
    if not cluster_scoped:
        namespace = (env.get(ENV_OBJECT_NAMESPACE) or "").strip() or DEFAULT_NAMESPACE
    return ObjectRef(
        group=(env.get(ENV_OBJECT_GROUP) or "").strip(),
        version=_required(env, ENV_OBJECT_VERSION),
        plural=_required(env, ENV_CRD_PLURAL),
        name=_required(env, ENV_OBJECT_NAME),
        namespace=namespace,
        kind=(env.get(ENV_OBJECT_KIND) or "").strip(),
    )


def params_from_env(env: Mapping[str, str]) -> PipelineParams:
    """Read and check the pipeline variables; :class:`ParameterError` names the first missing one."""
    workflow_type = (env.get(ENV_WORKFLOW_TYPE) or "").strip()
    if workflow_type not in ("promise", "resource"):
        raise ParameterError(f"{ENV_WORKFLOW_TYPE} must be 'promise' or 'resource', got {workflow_type!r}")
    return PipelineParams(
        object=object_ref_from_env(env),
        workflow_type=workflow_type,
        workflow_action=(env.get(ENV_WORKFLOW_ACTION) or "").strip(),
        promise_name=(env.get(ENV_PROMISE_NAME) or "").strip(),
        pipeline_name=_required(env, ENV_PIPELINE_NAME),
        is_last_pipeline=_truthy(env.get(ENV_IS_LAST_PIPELINE)),
        dry_run=_truthy(env.get(ENV_DRY_RUN)),
        input_dir=(env.get(ENV_INPUT_DIR) or "").strip() or DEFAULT_INPUT_DIR,
        output_dir=(env.get(ENV_OUTPUT_DIR) or "").strip() or DEFAULT_OUTPUT_DIR,
    )
