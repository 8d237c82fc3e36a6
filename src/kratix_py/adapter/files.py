"""Reading a file a pipeline wrote, without trusting it to be what its name says.

A pipeline controls everything in ``/kratix/output`` and ``/kratix/metadata``. Its ``status.yaml``
could be a symbolic link to the service-account token of the adapter's container (whose text would
then reach the request's status), a FIFO that blocks the reader forever, or 5 GB. So every file is
opened without following links and without blocking, must be a regular file, and is read only up
to its limit; the error names the file and what is wrong with it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from kratix_py.core.limited_yaml import format_size


class UnreadableFileError(ValueError):
    """The file is not a regular file, or is over its size limit; the message names it."""


def describe_mode(mode: int) -> str | None:
    """What a non-regular file is, in words (``None`` for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device"


def read_bounded(path: Path, *, max_bytes: int, what: str, limit_hint: str = "") -> bytes | None:
    """The bytes of the regular file at ``path``, ``None`` if there is nothing there.

    ``what`` names the file in errors (``status.yaml``, ``output file a/b.yaml``); ``limit_hint``
    says how to raise the limit (the variable's name).
    """
    try:
        before = os.lstat(path)
    except FileNotFoundError:
        return None
    kind = describe_mode(before.st_mode)
    if kind is not None:
        raise UnreadableFileError(f"{what} is {kind}; write a regular file instead")
    _check_size(before.st_size, max_bytes, what, limit_hint)
    # O_NOFOLLOW and O_NONBLOCK: the file may have been swapped for a link or a FIFO since lstat.
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise UnreadableFileError(f"{what} cannot be opened: {error.strerror}") from None
    with os.fdopen(descriptor, "rb") as stream:
        opened = os.fstat(stream.fileno())
        kind = describe_mode(opened.st_mode)
        if kind is not None:
            raise UnreadableFileError(f"{what} is {kind}; write a regular file instead")
        data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew after we looked
        _check_size(max(len(data), opened.st_size), max_bytes, what, limit_hint)
    return data


def _check_size(size: int, max_bytes: int, what: str, limit_hint: str) -> None:
    if size > max_bytes:
        hint = f" (set {limit_hint} to change it)" if limit_hint else ""
        raise UnreadableFileError(
            f"{what} is {format_size(size)}, over the limit of {format_size(max_bytes)}{hint}"
        )
