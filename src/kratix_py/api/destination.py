"""Destination: a named target (a cluster, a Terraform workspace ...) = a directory in a state store.

Scheduling matches Works against the Destination's ``metadata.labels``; there is no
``spec.labels``. The spec only says where the files go and how they are laid out.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from kratix_py.api.meta import HasConditions, KubeModel, KubeObject
from kratix_py.api.validation import dns1123_subdomain_error

FilepathMode = Literal["nestedByMetadata", "aggregatedYAML", "none"]
DEFAULT_AGGREGATED_FILENAME = "aggregated.yaml"


class StateStoreRef(KubeModel):
    """The GitStateStore or BucketStateStore holding this Destination's directory."""

    kind: Literal["GitStateStore", "BucketStateStore"] = Field(description="Kind of the state store.")
    name: str = Field(description="Name of the state store.")

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        problem = dns1123_subdomain_error(name)
        if problem is not None:
            raise ValueError(problem)
        return name


class Filepath(KubeModel):
    """How files are laid out under the Destination's path."""

    mode: FilepathMode = Field(
        default="nestedByMetadata",
        description="nestedByMetadata: dependencies/ and resources/<namespace>/<promise>/<name>/... "
        "directories; aggregatedYAML: everything in one YAML file; none: the pipeline's paths as they are. "
        "Immutable.",
        json_schema_extra={
            "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "filepath.mode is immutable"}]
        },
    )
    filename: str = Field(
        default=DEFAULT_AGGREGATED_FILENAME,
        description="Name of the single file written in mode aggregatedYAML.",
    )


class InitWorkloads(KubeModel):
    """Canary files written to a new Destination to prove the GitOps agent reads it."""

    enabled: bool = Field(default=True, description="Write the canary Namespace and ConfigMap.")


class DestinationSpec(KubeModel):
    """Where a Destination's files are written."""

    path: str = Field(
        min_length=1,
        description="Directory under the state store's path; '.' or '/' for the state store's root. "
        "Must be unique among the Destinations of one state store.",
    )
    state_store_ref: StateStoreRef = Field(description="The state store the files are written to.")
    strict_match_labels: bool = Field(
        default=False,
        description="Only accept Works whose selectors match; Works without selectors are not placed here "
        "(unless this Destination has no labels).",
    )
    filepath: Filepath = Field(default_factory=Filepath, description="File layout under path.")
    cleanup: Literal["none", "all"] = Field(
        default="none",
        description="none: leave the files when the Destination is deleted; all: remove its WorkPlacements "
        "and files first.",
    )
    init_workloads: InitWorkloads = Field(default_factory=InitWorkloads, description="Canary files.")


class DestinationStatus(HasConditions):
    """Readiness of the Destination (condition Ready)."""


class Destination(KubeObject):
    """A target for Promise and request output, selected by its labels."""

    KIND: ClassVar[str] = "Destination"
    PLURAL: ClassVar[str] = "destinations"
    NAMESPACED: ClassVar[bool] = False
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("dest", "dests")

    kind: Literal["Destination"] = "Destination"
    spec: DestinationSpec
    status: DestinationStatus = Field(default_factory=DestinationStatus)

    @property
    def labels(self) -> dict[str, str]:
        """The labels Works are scheduled against."""
        return self.metadata.labels
