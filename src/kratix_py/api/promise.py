"""Promise: a platform capability = an API for requests + dependencies + workflows + scheduling.

``spec.api`` stays the raw CRD the Promise author wrote (Kratix installs it nearly verbatim), with
:meth:`Promise.api_crd` as a typed view over it. Everything Kratix's admission webhook would reject
is rejected when the model is parsed, with the field named: a bad API CRD, duplicate pipeline
names, pipeline ids over 60 characters, a reconciliation interval under a minute, invalid labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from kratix_py.api.crd_keys import normalise_crd_keys
from kratix_py.api.duration import format_duration, parse_duration
from kratix_py.api.meta import (
    HasConditions,
    KubeModel,
    KubeObject,
    ObjectMeta,
    StatusModel,
    Timestamp,
    validation_message,
)
from kratix_py.api.pipeline import Pipeline
from kratix_py.api.validation import dns1123_label_error, dns1123_subdomain_error, labels_error
from kratix_py.contract import (
    ANNOTATION_RECONCILIATION_INTERVAL,
    LABEL_PROMISE_VERSION,
    MIN_RECONCILIATION_INTERVAL,
    WorkflowAction,
    WorkflowType,
)

GO_DURATION_PATTERN = r"^(([0-9]+\.?[0-9]*|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$"


# --- spec.api: a typed view over the raw CRD ---------------------------------------------------------


class ApiCrdNames(KubeModel):
    """``spec.names`` of the request CRD."""

    model_config = ConfigDict(extra="allow")

    kind: str
    plural: str
    singular: str | None = None
    list_kind: str | None = None
    short_names: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)


class ApiCrdVersion(KubeModel):
    """One entry of ``spec.versions`` of the request CRD."""

    model_config = ConfigDict(extra="allow")

    name: str
    served: bool | None = None
    storage: bool | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")


class ApiCrdSpec(KubeModel):
    model_config = ConfigDict(extra="allow")

    group: str
    names: ApiCrdNames
    scope: str | None = None
    versions: list[ApiCrdVersion] = Field(min_length=1)


class ApiCrd(KubeModel):
    """The request API of a Promise: an ``apiextensions.k8s.io/v1`` CustomResourceDefinition."""

    model_config = ConfigDict(extra="allow")

    api_version: Literal["apiextensions.k8s.io/v1"]
    kind: Literal["CustomResourceDefinition"]
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: ApiCrdSpec

    def stored_version(self) -> ApiCrdVersion:
        """The ``storage: true`` version, else the first: the version requests are read and written in."""
        return next((v for v in self.spec.versions if v.storage), self.spec.versions[0])

    def request_gvk(self) -> RequestGVK:
        names = self.spec.names
        return RequestGVK(
            group=self.spec.group,
            version=self.stored_version().name,
            kind=names.kind,
            plural=names.plural,
            singular=names.singular or names.kind.lower(),
        )


@dataclass(frozen=True)
class RequestGVK:
    """Group, version and names of a Promise's resource requests."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{self.group}"


def _api_crd_error(api: dict[str, Any]) -> str | None:
    """What keeps ``api`` from being a usable request CRD, or ``None``."""
    try:
        crd = ApiCrd.model_validate(api)
    except ValidationError as error:
        return f"not a valid CustomResourceDefinition: {validation_message(error)}"
    gvk = crd.request_gvk()
    if crd.spec.scope != "Namespaced":
        return f"spec.scope must be Namespaced: requests are namespaced objects (got {crd.spec.scope!r})"
    if crd.metadata.name != gvk.crd_name:
        return (
            f"metadata.name must be <plural>.<group>, i.e. {gvk.crd_name!r} (got {crd.metadata.name!r}); "
            "Kubernetes rejects a CRD whose name does not match its names and group"
        )
    return None


# --- spec -----------------------------------------------------------------------------------------


class RequiredPromise(KubeModel):
    """Another Promise that must be installed (and Available) before this one is."""

    name: str = Field(description="Name of the required Promise.")
    version: str | None = Field(default=None, description="Required version; empty means any version.")

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        problem = dns1123_subdomain_error(name)
        if problem is not None:
            raise ValueError(problem)
        return name


class DestinationSelector(KubeModel):
    """Destination labels that must all match (equality) for output to be scheduled there."""

    match_labels: dict[str, str] = Field(default_factory=dict, description="Labels a Destination must have.")

    @field_validator("match_labels")
    @classmethod
    def _labels(cls, labels: dict[str, str]) -> dict[str, str]:
        problem = labels_error(labels)
        if problem is not None:
            raise ValueError(problem)
        return labels


def squash_destination_selectors(selectors: Iterable[DestinationSelector]) -> dict[str, str]:
    """All selectors merged into one label map; the first selector wins when a key repeats."""
    merged: dict[str, str] = {}
    for selector in selectors:
        for key, value in selector.match_labels.items():
            merged.setdefault(key, value)
    return merged


class WorkflowConfig(KubeModel):
    """Settings for all of this Promise's workflows."""

    pipeline_namespace: str | None = Field(
        default=None,
        description="Run every Job of this Promise (promise and resource workflows) in this existing namespace.",
    )
    reconciliation_interval: str | None = Field(
        default=None,
        description="How often to rerun the configure workflows, as a Go duration (e.g. 30m, 10h); at least 1m.",
        json_schema_extra={"pattern": GO_DURATION_PATTERN},
    )

    @field_validator("pipeline_namespace")
    @classmethod
    def _namespace(cls, namespace: str | None) -> str | None:
        if namespace is not None and (problem := dns1123_label_error(namespace)) is not None:
            raise ValueError(problem)
        return namespace

    @field_validator("reconciliation_interval")
    @classmethod
    def _at_least_a_minute(cls, interval: str | None) -> str | None:
        if interval is not None and parse_duration(interval) < MIN_RECONCILIATION_INTERVAL:
            raise ValueError(
                f"reconciliation interval {interval!r} is shorter than "
                f"{format_duration(MIN_RECONCILIATION_INTERVAL)}: use at least '1m'"
            )
        return interval

    def reconciliation_interval_duration(self) -> timedelta | None:
        """The interval as a ``timedelta``; ``None`` when not set (the platform default applies)."""
        return None if self.reconciliation_interval is None else parse_duration(self.reconciliation_interval)


class WorkflowTriggers(KubeModel):
    """The pipelines run on configure (all, in order) and on delete (only the first one)."""

    configure: list[Pipeline] = Field(
        default_factory=list, description="Run in order on create/update/reconcile."
    )
    delete: list[Pipeline] = Field(
        default_factory=list, description="Run on delete; only the first pipeline is used."
    )

    @field_validator("configure", "delete")
    @classmethod
    def _unique_pipeline_names(cls, pipelines: list[Pipeline]) -> list[Pipeline]:
        seen: set[str] = set()
        for pipeline in pipelines:
            if pipeline.name in seen:
                raise ValueError(
                    f"pipeline name {pipeline.name!r} is used twice; "
                    "pipeline names must be unique within a workflow"
                )
            seen.add(pipeline.name)
        return pipelines


class Workflows(KubeModel):
    """Pipelines for the Promise's own lifecycle and for each resource request's lifecycle."""

    config: WorkflowConfig = Field(default_factory=WorkflowConfig, description="Settings for all workflows.")
    promise: WorkflowTriggers = Field(
        default_factory=WorkflowTriggers, description="The Promise's own workflows."
    )
    resource: WorkflowTriggers = Field(
        default_factory=WorkflowTriggers, description="Each request's workflows."
    )

    def pipelines(self, workflow_type: WorkflowType, action: WorkflowAction) -> list[Pipeline]:
        triggers = self.promise if WorkflowType(workflow_type) is WorkflowType.PROMISE else self.resource
        return triggers.configure if WorkflowAction(action) is WorkflowAction.CONFIGURE else triggers.delete

    def all_pipelines(self) -> Iterable[tuple[WorkflowType, WorkflowAction, int, Pipeline]]:
        """Every pipeline with its type, action and position, in a fixed order."""
        for workflow_type in WorkflowType:
            for action in WorkflowAction:
                for index, pipeline in enumerate(self.pipelines(workflow_type, action)):
                    yield workflow_type, action, index, pipeline


class PromiseSpec(KubeModel):
    """What the Promise offers and how it is delivered."""

    api: dict[str, Any] | None = Field(
        default=None,
        description="The API for requesting this Promise's resources: a complete, namespaced "
        "apiextensions.k8s.io/v1 CustomResourceDefinition. Absent for a Promise that only "
        "installs dependencies.",
        json_schema_extra={"x-kubernetes-embedded-resource": True},
    )
    dependencies: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Kubernetes objects installed on every matching Destination with the Promise.",
        json_schema_extra={"items": {"x-kubernetes-embedded-resource": True}},
    )
    workflows: Workflows = Field(default_factory=Workflows, description="Pipelines run during the lifecycle.")
    required_promises: list[RequiredPromise] = Field(
        default_factory=list, description="Promises that must be available before this one is."
    )
    destination_selectors: list[DestinationSelector] = Field(
        default_factory=list, description="Where this Promise's output may be scheduled."
    )

    @field_validator("api")
    @classmethod
    def _api_is_a_request_crd(cls, api: dict[str, Any] | None) -> dict[str, Any] | None:
        if api:  # absent, null and {} all mean "no API": a dependencies-only Promise
            # Field names in another capitalisation (``JSONPath``) are read as Kratix's Go decoder
            # reads them, so the model and the CRD built from it hold the canonical names.
            api, _ = normalise_crd_keys(api)
            problem = _api_crd_error(api)
            if problem is not None:
                raise ValueError(problem)
        return api

    @field_validator("dependencies")
    @classmethod
    def _dependencies_are_objects(cls, dependencies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for index, dependency in enumerate(dependencies):
            if not dependency.get("apiVersion") or not dependency.get("kind"):
                raise ValueError(
                    f"dependency [{index}] needs apiVersion and kind: every dependency is a Kubernetes object"
                )
        return dependencies


# --- status ---------------------------------------------------------------------------------------


class RequiredPromiseStatus(StatusModel):
    """Whether one required Promise is installed, at which version."""

    name: str | None = None
    version: str | None = None
    state: str | None = Field(default=None, description="e.g. 'Requirement installed'.")


class PromiseRef(StatusModel):
    name: str | None = None
    version: str | None = None


class RequiredBy(StatusModel):
    """A Promise that requires this one."""

    promise: PromiseRef = Field(default_factory=PromiseRef)
    required_version: str | None = None


class PipelineRunStatus(StatusModel):
    """Progress of one pipeline of the configure workflow."""

    name: str | None = None
    phase: str | None = None
    message: str | None = None
    next_retry_at: Timestamp | None = None
    attempts: int | None = None
    last_transition_time: Timestamp | None = None


class KratixWorkflowsStatus(StatusModel):
    pipelines: list[PipelineRunStatus] = Field(default_factory=list)
    suspended_generation: int | None = None


class PromiseKratixStatus(StatusModel):
    """Status fields owned by Kratix itself, out of reach of pipelines' status.yaml."""

    kind: str | None = None
    version: str | None = None
    api_version: str | None = None
    status: str | None = None
    last_available_time: Timestamp | None = None
    workflows: KratixWorkflowsStatus = Field(default_factory=KratixWorkflowsStatus)


class PromiseStatus(HasConditions):
    """What Kratix observed about the Promise."""

    status: str | None = Field(default=None, description="Available or Unavailable.")
    kind: str | None = Field(default=None, description="Kind of the Promise's resource requests.")
    api_version: str | None = Field(default=None, description="group/version of the resource requests.")
    version: str | None = Field(default=None, description="The Promise version (kratix.io/promise-version).")
    message: str | None = Field(default=None, description="Message from the Promise's configure workflow.")
    observed_generation: int | None = None
    workflows: int | None = None
    workflows_succeeded: int | None = None
    workflows_failed: int | None = None
    required_promises: list[RequiredPromiseStatus] = Field(default_factory=list)
    required_by: list[RequiredBy] = Field(default_factory=list)
    last_available_time: Timestamp | None = None
    kratix: PromiseKratixStatus = Field(default_factory=PromiseKratixStatus)


# --- the kind -------------------------------------------------------------------------------------


class Promise(KubeObject):
    """A platform capability: an API to request resources, the dependencies they need, the
    workflows that fulfil requests, and the Destinations the output goes to."""

    KIND: ClassVar[str] = "Promise"
    PLURAL: ClassVar[str] = "promises"
    NAMESPACED: ClassVar[bool] = False

    kind: Literal["Promise"] = "Promise"
    spec: PromiseSpec = Field(default_factory=PromiseSpec)
    status: PromiseStatus = Field(default_factory=PromiseStatus)

    @field_validator("spec")
    @classmethod
    def _pipeline_ids_fit(cls, spec: PromiseSpec, info: ValidationInfo) -> PromiseSpec:
        # The id includes the Promise name, so it is checked here rather than on the pipeline;
        # metadata is declared before spec, so it has been validated already.
        metadata = info.data.get("metadata")
        if metadata is None or metadata.name is None:
            return spec
        for workflow_type, action, index, pipeline in spec.workflows.all_pipelines():
            problem = pipeline.pipeline_id_error(metadata.name, workflow_type, action)
            if problem is not None:
                raise ValueError(f"workflows.{workflow_type}.{action}[{index}].metadata.name: {problem}")
        return spec

    def api_crd(self) -> ApiCrd | None:
        """The request CRD as a typed view, or ``None`` for a dependencies-only Promise."""
        return ApiCrd.model_validate(self.spec.api) if self.spec.api else None

    def request_gvk(self) -> RequestGVK | None:
        """Group, stored version and names of this Promise's requests, or ``None`` without an API."""
        crd = self.api_crd()
        return None if crd is None else crd.request_gvk()

    @property
    def has_api(self) -> bool:
        return bool(self.spec.api)

    @property
    def promise_version(self) -> str | None:
        """The ``kratix.io/promise-version`` label, if the author set one."""
        return self.metadata.labels.get(LABEL_PROMISE_VERSION)

    def pipelines(self, workflow_type: WorkflowType, action: WorkflowAction) -> Sequence[Pipeline]:
        return self.spec.workflows.pipelines(workflow_type, action)

    def delete_pipeline(self, workflow_type: WorkflowType) -> Pipeline | None:
        """The pipeline run on delete: only the first one listed is used, as in Kratix."""
        pipelines = self.pipelines(workflow_type, WorkflowAction.DELETE)
        return pipelines[0] if pipelines else None

    def destination_selector_labels(self) -> dict[str, str]:
        """``spec.destinationSelectors`` squashed into one label map (first entry wins)."""
        return squash_destination_selectors(self.spec.destination_selectors)

    def reconciliation_interval(self) -> timedelta | None:
        """How often this Promise's workflows rerun; ``None`` for the platform default.

        Kratix's order: the ``kratix.io/reconciliation-interval`` annotation when it is a duration
        of at least 1m (anything else is ignored, as Kratix ignores it), then
        ``spec.workflows.config.reconciliationInterval``.
        """
        annotated = (self.metadata.annotations or {}).get(ANNOTATION_RECONCILIATION_INTERVAL)
        if annotated:
            try:
                interval = parse_duration(annotated)
            except ValueError:
                interval = None
            if interval is not None and interval >= MIN_RECONCILIATION_INTERVAL:
                return interval
        return self.spec.workflows.config.reconciliation_interval_duration()
