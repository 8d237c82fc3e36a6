"""What a placement wants a state store to look like: the unit the layout produces and writers apply.

* :class:`DirChange` replaces a directory wholesale (``nestedByMetadata`` groups): files that
  are not in the new set disappear; ``files=None`` deletes the directory.
* :class:`FileChange` sets or deletes one file (``aggregatedYAML``, ``none`` mode, canaries).

Paths are relative to the store root (the writer adds its own ``spec.path`` prefix). Later
changes in a batch win over earlier ones for the same path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeAlias

__all__ = ["Change", "DirChange", "FileChange"]


@dataclass(frozen=True)
class DirChange:
    """Make ``directory`` contain exactly ``files`` (relative paths), or delete it if ``None``.

    ``label`` names who asked (usually the WorkPlacement name) for the commit message.
    """

    directory: str
    files: Mapping[str, bytes] | None
    label: str


@dataclass(frozen=True)
class FileChange:
    """Set ``path`` to ``content``, or delete it if ``content`` is ``None``."""

    path: str
    content: bytes | None
    label: str


Change: TypeAlias = DirChange | FileChange
