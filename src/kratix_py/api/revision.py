"""PromiseRevision: one Promise version kept, and ResourceBinding: which version a request runs.

Both are Kratix kinds with Kratix's schemas (kratix-behaviour.md §1.8, §1.9), so ``kubectl`` and
tools written for Kratix read and edit them unchanged: moving a request to another version is an
edit of its binding's ``spec.version``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from kratix_py.api.meta import HasConditions, KubeModel, KubeObject
from kratix_py.api.release import PromiseRef


class PromiseRevisionSpec(KubeModel):
    """The Promise's spec as it was at one version."""

    promise_ref: PromiseRef = Field(description="The Promise this is a version of.")
    version: str = Field(description="The Promise's kratix.io/promise-version label (not-set without one).")
    promise_spec: dict[str, Any] = Field(
        default_factory=dict, description="The Promise's spec at this version."
    )


class PromiseRevisionStatus(HasConditions):
    """Whether this is the Promise's current version."""

    latest: bool | None = Field(default=None, description="True on the Promise's current revision only.")


class PromiseRevision(KubeObject):
    """One version of a Promise; requests bound to the version run its pipelines."""

    KIND: ClassVar[str] = "PromiseRevision"
    PLURAL: ClassVar[str] = "promiserevisions"
    NAMESPACED: ClassVar[bool] = False

    kind: Literal["PromiseRevision"] = "PromiseRevision"
    spec: PromiseRevisionSpec
    status: PromiseRevisionStatus = Field(default_factory=PromiseRevisionStatus)


class BoundResource(KubeModel):
    """The request a binding is for."""

    name: str = Field(description="Name of the resource request.")
    namespace: str = Field(description="Namespace of the resource request.")


class ResourceBindingSpec(KubeModel):
    """The version a request runs: latest (follows the Promise) or an exact revision version."""

    version: str = Field(default="latest", description="latest, or the version of a PromiseRevision.")
    promise_ref: PromiseRef = Field(description="The Promise of the request.")
    resource_ref: BoundResource = Field(description="The request.")


class ResourceBindingStatus(HasConditions):
    """The version last applied and the one that failed; condition UpgradeSucceeded."""

    last_applied_version: str | None = Field(
        default=None, description="The revision version the request last ran successfully."
    )
    failed_version: str | None = Field(default=None, description="The revision version whose run failed.")


class ResourceBinding(KubeObject):
    """Binds one resource request to a PromiseRevision."""

    KIND: ClassVar[str] = "ResourceBinding"
    PLURAL: ClassVar[str] = "resourcebindings"
    NAMESPACED: ClassVar[bool] = True

    kind: Literal["ResourceBinding"] = "ResourceBinding"
    spec: ResourceBindingSpec
    status: ResourceBindingStatus = Field(default_factory=ResourceBindingStatus)
