"""PromiseRelease: a Promise installed from a URL at a version, and HealthRecord: a request's health.

Both are Kratix kinds with Kratix's schemas, so the marketplace's ``promise-release.yaml`` files and
health agents written for Kratix work unchanged.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from kratix_py.api.meta import HasConditions, KubeModel, KubeObject
from kratix_py.api.statestore import SecretReference

HealthState = Literal["unknown", "ready", "unhealthy", "healthy", "degraded"]


class SourceRef(KubeModel):
    """Where the Promise document is fetched from."""

    type: Literal["http"] = Field(
        default="http", description="Source type; only http (and https) is supported."
    )
    url: str | None = Field(default=None, description="URL of a document holding exactly one Promise.")
    secret_ref: SecretReference | None = Field(
        default=None,
        description="Secret whose key authorizationHeader is sent as the Authorization header "
        "(namespace defaults to the system namespace).",
    )


class PromiseReleaseSpec(KubeModel):
    """Which Promise, at which version."""

    version: str | None = Field(
        default=None,
        description="The Promise's kratix.io/promise-version label must equal this; empty: taken from the Promise.",
    )
    source_ref: SourceRef = Field(default_factory=SourceRef, description="Where the Promise comes from.")


class PromiseReleaseStatus(HasConditions):
    """Installed or Error installing, and the Installed condition saying why."""

    status: str | None = Field(default=None, description="Installed or Error installing.")
    observed_generation: int | None = Field(default=None, description="The generation last installed.")


class PromiseRelease(KubeObject):
    """A Promise installed from a URL at a version; deleting the release deletes its Promise."""

    KIND: ClassVar[str] = "PromiseRelease"
    PLURAL: ClassVar[str] = "promisereleases"
    NAMESPACED: ClassVar[bool] = False

    kind: Literal["PromiseRelease"] = "PromiseRelease"
    spec: PromiseReleaseSpec = Field(default_factory=PromiseReleaseSpec)
    status: PromiseReleaseStatus = Field(default_factory=PromiseReleaseStatus)


class PromiseRef(KubeModel):
    """A Promise by name."""

    name: str = Field(description="Name of the Promise.")


class ResourceRef(KubeModel):
    """A resource request by name and namespace."""

    name: str = Field(description="Name of the resource request.")
    namespace: str = Field(description="Namespace of the resource request.")
    generation: int | None = Field(default=None, description="Generation of the request when recorded.")


class HealthRecordData(KubeModel):
    """One health check's result for one request."""

    promise_ref: PromiseRef = Field(description="The Promise of the request.")
    resource_ref: ResourceRef | None = Field(default=None, description="The request the record is about.")
    state: HealthState = Field(
        default="unknown", description="unknown, ready, unhealthy, healthy or degraded."
    )
    last_run: int | None = Field(default=None, description="Unix time of the last health check run.")
    promise_version: str | None = Field(default=None, description="Promise version the check was made for.")
    details: dict[str, Any] = Field(default_factory=dict, description="Free-form details from the check.")


class HealthRecord(KubeObject):
    """Health of a resource request, reported by anything (a health agent on a Destination)."""

    KIND: ClassVar[str] = "HealthRecord"
    PLURAL: ClassVar[str] = "healthrecords"
    NAMESPACED: ClassVar[bool] = True

    kind: Literal["HealthRecord"] = "HealthRecord"
    data: HealthRecordData
