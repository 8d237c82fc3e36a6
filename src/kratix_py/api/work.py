"""Work and WorkPlacement: pipeline output waiting to be scheduled, and its placement on a Destination.

A Work holds one pipeline's output (or a Promise's static dependencies) in workload groups, each
with its own destination selectors. The scheduler binds every group to Destinations as
WorkPlacements, which the state-store writers turn into files.

Workload ``content`` is gzip-compressed, base64-encoded text: that is what Kratix stores and
what existing Works contain. :func:`encode_workload_content` compresses with a fixed mtime, so the
same file always gives the same string and an unchanged output never changes the Work.
"""

from __future__ import annotations

import base64
import gzip
from typing import ClassVar, Literal

from pydantic import Field

from kratix_py.api.meta import HasConditions, KubeModel, KubeObject, Timestamp

SelectorSource = Literal["promise", "promise-workflow", "resource-workflow"]


def encode_workload_content(data: bytes | str) -> str:
    """File contents -> the ``content`` string of a workload (deterministic)."""
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(gzip.compress(raw, mtime=0)).decode("ascii")


def decode_workload_content(content: str) -> bytes:
    """The ``content`` string of a workload -> the file contents."""
    return gzip.decompress(base64.b64decode(content))


class Workload(KubeModel):
    """One output file."""

    filepath: str = Field(description="Path relative to the pipeline's output directory.")
    content: str = Field(default="", description="File contents, gzip-compressed then base64-encoded.")

    @classmethod
    def from_file(cls, filepath: str, data: bytes | str) -> Workload:
        return cls(filepath=filepath, content=encode_workload_content(data))

    def data(self) -> bytes:
        """The decoded file contents."""
        return decode_workload_content(self.content)


class WorkloadGroupSelector(KubeModel):
    """Labels a Destination must have for a workload group, and who asked for them."""

    match_labels: dict[str, str] = Field(default_factory=dict, description="Labels a Destination must have.")
    source: SelectorSource = Field(
        description="promise (spec.destinationSelectors, wins on conflicts), promise-workflow or resource-workflow."
    )


class WorkloadGroup(KubeModel):
    """Files scheduled together: a top-level output directory, or everything else (directory '.')."""

    id: str = Field(description="md5 of the directory; its first 5 characters appear in state-store paths.")
    directory: str = Field(default=".", description="Output directory the files came from.")
    workloads: list[Workload] = Field(default_factory=list, description="The files.")
    destination_selectors: list[WorkloadGroupSelector] = Field(
        default_factory=list, description="Where the group may be scheduled."
    )


class WorkSpec(KubeModel):
    """The output of one pipeline, or a Promise's static dependencies."""

    promise_name: str = Field(description="The Promise the output belongs to.")
    resource_name: str | None = Field(
        default=None, description="The request the output belongs to; empty for Promise-level output."
    )
    last_execution_timestamp: Timestamp | None = Field(
        default=None, description="When the pipeline that wrote this Work last ran."
    )
    workload_groups: list[WorkloadGroup] = Field(default_factory=list, description="The output, grouped.")


class WorkStatus(HasConditions):
    """Scheduling progress (conditions ScheduleSucceeded and Ready; Ready's message summarises)."""

    work_placements: int | None = Field(default=None, description="WorkPlacements wanted.")
    work_placements_created: int | None = Field(default=None, description="WorkPlacements created.")


class Work(KubeObject):
    """Pipeline output waiting to be scheduled to Destinations."""

    KIND: ClassVar[str] = "Work"
    PLURAL: ClassVar[str] = "works"
    NAMESPACED: ClassVar[bool] = True

    kind: Literal["Work"] = "Work"
    spec: WorkSpec
    status: WorkStatus = Field(default_factory=WorkStatus)

    @property
    def is_dependency(self) -> bool:
        """Promise-level output (static dependencies or promise workflows): goes to every Destination."""
        return not self.spec.resource_name


class WorkPlacementSpec(KubeModel):
    """One workload group of one Work, bound to one Destination."""

    target_destination_name: str = Field(description="The Destination the files are written to.")
    workloads: list[Workload] = Field(default_factory=list, description="The files, copied from the Work.")
    promise_name: str = Field(description="The Promise the output belongs to.")
    resource_name: str | None = Field(
        default=None, description="The request, empty for Promise-level output."
    )
    id: str = Field(description="The workload group id.")
    generation: int | None = Field(default=None, description="The Work generation the workloads come from.")


class WorkPlacementStatus(HasConditions):
    """Write progress (conditions ScheduleSucceeded, WriteSucceeded, Ready)."""

    version_id: str | None = Field(
        default=None,
        description="What was written: the Git commit, or a digest of the bucket object versions.",
    )


class WorkPlacement(KubeObject):
    """The unit written to a state store: one workload group on one Destination."""

    KIND: ClassVar[str] = "WorkPlacement"
    PLURAL: ClassVar[str] = "workplacements"
    NAMESPACED: ClassVar[bool] = True
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("wp", "wps")

    kind: Literal["WorkPlacement"] = "WorkPlacement"
    spec: WorkPlacementSpec
    status: WorkPlacementStatus = Field(default_factory=WorkPlacementStatus)
