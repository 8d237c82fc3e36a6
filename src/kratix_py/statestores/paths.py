"""The one place that turns user-supplied paths into paths inside a state store.

Every path a writer touches comes from here, so "nothing is ever written outside its directory"
is a property of one small module. Paths are POSIX, relative to the store root, and checked
*before* any I/O: a batch with one bad path writes nothing.

Rules, for a relative path (a file path from pipeline output, a destination directory):

* empty and ``.`` segments are dropped (``a//b/./c`` is ``a/b/c``), so output is canonical;
* ``..`` segments are refused even when they would stay inside (``a/../b``): a path that climbs
  is a bug or an attack, never needed;
* absolute paths, NUL and other control characters, and backslashes are refused;
* a ``.git`` segment (any case) is refused: it would address Git's own files;
* what is left must not be empty (that would be the directory itself).

Store prefixes (``spec.path``) follow Kratix: a leading ``/`` is trimmed, and ``""``, ``.``
and ``/`` mean the store root.
"""

from __future__ import annotations

import re

from .errors import UnsafePathError

__all__ = ["is_within", "join_under", "normalise_prefix", "safe_relpath"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_relpath(path: str, *, what: str = "path") -> str:
    """Return ``path`` in canonical form, or raise :class:`UnsafePathError` saying why."""
    if not isinstance(path, str):
        raise UnsafePathError(f"{what} must be a string, got {type(path).__name__}")
    if path.startswith("/"):
        raise UnsafePathError(f"{what} {path!r} is absolute; use a path relative to its directory")
    segments = _segments(path, what)
    if not segments:
        raise UnsafePathError(f"{what} {path!r} is empty after normalisation; name a file or directory")
    return "/".join(segments)


def normalise_prefix(prefix: str | None, *, what: str = "path prefix") -> str:
    """Canonical store prefix: ``""`` for the root, else ``a/b`` (leading ``/`` trimmed)."""
    if prefix is None:
        return ""
    if not isinstance(prefix, str):
        raise UnsafePathError(f"{what} must be a string, got {type(prefix).__name__}")
    return "/".join(_segments(prefix.lstrip("/"), what))


def join_under(prefix: str, relative: str, *, what: str = "path") -> str:
    """``prefix/relative``, both checked; the result always lies under ``prefix``."""
    base = normalise_prefix(prefix)
    rel = safe_relpath(relative, what=what)
    return f"{base}/{rel}" if base else rel


def is_within(path: str, directory: str) -> bool:
    """True if canonical ``path`` is ``directory`` itself or below it (``""`` is the root)."""
    return not directory or path == directory or path.startswith(directory + "/")


def _segments(path: str, what: str) -> list[str]:
    if "\\" in path:
        raise UnsafePathError(f"{what} {path!r} contains a backslash; use '/' as the separator")
    if _CONTROL.search(path):
        raise UnsafePathError(f"{what} {path!r} contains a control character (such as NUL)")
    segments: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            raise UnsafePathError(
                f"{what} {path!r} contains '..'; paths may not climb out of their directory"
            )
        if segment.casefold() == ".git":
            raise UnsafePathError(f"{what} {path!r} contains a '.git' segment, which Git reserves")
        segments.append(segment)
    return segments
