"""Pure planning shared by the Git and bucket writers.

A batch of :class:`~.base.DirChange` / :class:`~.base.FileChange` becomes per-path operations
against what the store holds now. Keeping "replace a directory" in one function means Git and
S3 cannot disagree on what a write means; each writer only knows how to list, compare and
apply.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from kratix_py.contract import UnsafePathError, is_within, join_under

from .base import Change, DirChange, FileChange

__all__ = ["PathOp", "commit_message", "plan_ops", "touched_roots"]

# Subject lines list at most this many labels; the body lists them all.
_SUBJECT_LABELS = 5


@dataclass(frozen=True)
class PathOp:
    """Final state of one store path after the batch: ``content`` or deleted (``None``)."""

    path: str
    content: bytes | None
    label: str


def touched_roots(changes: Sequence[Change], prefix: str) -> list[str]:
    """Store paths (directories and files) the batch can affect, sorted and de-duplicated.

    Writers list what exists under these before planning. Validates every path of the batch,
    so calling it first makes an unsafe batch fail before any I/O.
    """
    roots: set[str] = set()
    for change in changes:
        if isinstance(change, DirChange):
            directory = join_under(prefix, change.directory, what=f"directory of {change.label!r}")
            roots.add(directory)
            for relative in change.files or {}:
                join_under(directory, relative, what=f"file of {change.label!r}")
        elif isinstance(change, FileChange):
            roots.add(join_under(prefix, change.path, what=f"file of {change.label!r}"))
        else:
            raise TypeError(f"expected DirChange or FileChange, got {type(change).__name__}")
    return sorted(roots)


def plan_ops(changes: Sequence[Change], prefix: str, existing: Collection[str]) -> list[PathOp]:
    """Per-path operations of the batch, sorted by path.

    ``existing`` is the set of store paths present now under :func:`touched_roots`. A deletion
    may be planned for a path that no longer exists (a file added and then dropped within the
    batch); writers skip deletes of absent paths and writes of unchanged content.
    """
    present = set(existing)
    final: dict[str, PathOp] = {}
    for change in changes:
        if isinstance(change, DirChange):
            directory = join_under(prefix, change.directory, what=f"directory of {change.label!r}")
            for path in sorted(present):
                if is_within(path, directory):
                    final[path] = PathOp(path, None, change.label)
                    present.discard(path)
            for relative, content in sorted((change.files or {}).items()):
                path = join_under(directory, relative, what=f"file of {change.label!r}")
                final[path] = PathOp(path, _as_bytes(content, path), change.label)
                present.add(path)
        else:
            path = join_under(prefix, change.path, what=f"file of {change.label!r}")
            if change.content is None:
                final[path] = PathOp(path, None, change.label)
                present.discard(path)
            else:
                final[path] = PathOp(path, _as_bytes(change.content, path), change.label)
                present.add(path)
    ops = [final[path] for path in sorted(final)]
    _refuse_file_directory_clash(op.path for op in ops if op.content is not None)
    return ops


def commit_message(changes: Sequence[Change], effective_labels: Collection[str]) -> str:
    """Kratix-style message: ``Update from: a, b`` / ``Delete from: c`` (labels in batch order).

    Only labels whose changes really changed something are named. Long lists are shortened in
    the subject and written out in full in the body.
    """
    updates: list[str] = []
    deletes: list[str] = []
    for change in changes:
        label = " ".join(change.label.split())  # one line, whatever the caller passed
        if change.label not in effective_labels:
            continue
        writes = change.files is not None if isinstance(change, DirChange) else change.content is not None
        target = updates if writes else deletes
        if label not in target:
            target.append(label)
    deletes = [label for label in deletes if label not in updates]
    parts = []
    if updates:
        parts.append(f"Update from: {_summary(updates)}")
    if deletes:
        parts.append(f"Delete from: {_summary(deletes)}")
    subject = "; ".join(parts) or "Update from: kratix"
    if len(updates) + len(deletes) <= _SUBJECT_LABELS:
        return subject
    body = [f"Update from: {label}" for label in updates] + [f"Delete from: {label}" for label in deletes]
    return subject + "\n\n" + "\n".join(body)


def _summary(labels: list[str]) -> str:
    if len(labels) <= _SUBJECT_LABELS:
        return ", ".join(labels)
    shown = ", ".join(labels[:_SUBJECT_LABELS])
    return f"{shown} and {len(labels) - _SUBJECT_LABELS} more"


def _as_bytes(content: object, path: str) -> bytes:
    if not isinstance(content, bytes | bytearray | memoryview):
        raise TypeError(f"content of {path!r} must be bytes, got {type(content).__name__}")
    return bytes(content)


def _refuse_file_directory_clash(paths: Iterable[str]) -> None:
    # Git cannot hold "a" as a file and "a/b" at once; refuse rather than let one silently win.
    files = set(paths)
    for path in sorted(files):
        parts = path.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent in files:
                raise UnsafePathError(
                    f"{parent!r} would be both a file and a directory (because of {path!r})"
                )
