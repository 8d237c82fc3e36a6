"""The state-store writer protocol: what a WorkPlacement write asks of Git and S3 alike.

The unit of work is a *batch* of changes relative to the store root (the writer adds its own
``spec.path`` prefix). A batch is applied all at once: Git makes one commit for it, so a
reconcile window with fifty placements costs one fetch, one commit and one push instead of
fifty (Kratix's commit storm, kratix-behaviour §7.2).

* :class:`DirChange` replaces a directory wholesale (``nestedByMetadata`` groups): files that
  are not in the new set disappear; ``files=None`` deletes the directory.
* :class:`FileChange` sets or deletes one file (``aggregatedYAML``, ``none`` mode, canaries).

Later changes in a batch win over earlier ones for the same path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from kratix_py.core.changes import Change, DirChange, FileChange

__all__ = ["Change", "DirChange", "FileChange", "StateStoreWriter", "WriteResult"]


@dataclass(frozen=True)
class WriteResult:
    """Outcome of a batch.

    ``version_id`` identifies the store state after the batch: the commit sha for Git (the
    current tip when nothing changed; ``""`` for a branch that still does not exist), a
    content hash of the batch's objects for buckets. ``changed`` is False when the store
    already held exactly this content, in which case nothing was committed or uploaded.
    """

    version_id: str
    changed: bool


@runtime_checkable
class StateStoreWriter(Protocol):
    """What the WorkPlacement and Destination handlers need from a state store."""

    def write(
        self, changes: Sequence[Change], *, before_push: Callable[[], None] | None = None
    ) -> WriteResult:
        """Apply the batch; raises :class:`~.errors.StateStoreError` subclasses on failure.

        All paths are validated first: an unsafe one raises
        :class:`~.errors.UnsafePathError` and nothing of the batch is written. ``before_push``
        is called right before anything reaches the remote and may raise to stop the write.
        """
        ...

    def check_ready(self) -> None:
        """Check, against the remote itself, that this store can be written; raise if not.

        The raised :class:`~.errors.StateStoreError` subclass names the cause, for the store's
        Ready condition.
        """
        ...

    def close(self) -> None:
        """Release clones, temporary credential files and connections."""
        ...
