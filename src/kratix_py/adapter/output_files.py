"""Read a pipeline's output directory safely, for the work-writer.

Every regular file becomes a workload. Anything else is refused with an error naming it: a
symbolic link could point outside the output (and its target is not what the pipeline author
sees in the directory listing); devices, sockets and pipes are not files one can commit; a name
that is not UTF-8 cannot be stored in a Work; a name the state store refuses (``.git`` in any
case, a backslash, a control character such as a newline) would fail only later, at the
WorkPlacement, with nothing but "Works failing" on the request. Kratix follows or mishandles
these silently.

The directory is walked first without reading anything, so the limits on the number of files,
one file's size and the total size (:class:`~kratix_py.core.limits.PipelineLimits`) are checked
before a byte is loaded: a 50 MB output is refused by name, not by the container's memory limit.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from kratix_py.adapter.files import UnreadableFileError, describe_mode, read_bounded
from kratix_py.contract import UnsafePathError, safe_relpath
from kratix_py.core.limited_yaml import format_size
from kratix_py.core.limits import (
    ENV_MAX_OUTPUT_BYTES,
    ENV_MAX_OUTPUT_FILE_BYTES,
    ENV_MAX_OUTPUT_FILES,
    PipelineLimits,
    largest,
)
from kratix_py.core.workloads import PipelineOutput, PipelineOutputError


@dataclass(frozen=True)
class _Entry:
    relative: str
    size: int


def _display(relative: str) -> str:
    # Undecodable bytes are kept by Python as surrogate escapes; show them as \x.. rather than crash.
    return relative.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _check_name(relative: str, kind: str) -> None:
    try:
        relative.encode("utf-8")
    except UnicodeEncodeError:
        raise PipelineOutputError(
            f'output {kind} name "{_display(relative)}" is not valid UTF-8; rename it'
        ) from None
    try:
        safe_relpath(relative, what=f"output {kind}")
    except UnsafePathError as error:
        raise PipelineOutputError(f"{error}; rename it: state stores cannot hold this path") from None


def _scan(root: Path, limits: PipelineLimits) -> tuple[list[_Entry], set[str]]:
    """Every regular file (with its size) and top-level directory, checking names and kinds."""
    files: list[_Entry] = []
    directories: set[str] = set()
    entries = 0
    pending = [""]
    while pending:
        relative_dir = pending.pop()
        with os.scandir(root / relative_dir if relative_dir else root) as listing:
            for entry in sorted(listing, key=lambda item: item.name):
                relative = f"{relative_dir}/{entry.name}" if relative_dir else entry.name
                entries += 1
                if entries > limits.max_output_files:
                    raise PipelineOutputError(
                        f"the output has more than {limits.max_output_files} files and directories "
                        f"(set {ENV_MAX_OUTPUT_FILES} to change the limit); write fewer, larger files"
                    )
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISLNK(info.st_mode):
                    _check_name(relative, "file")
                    target = os.readlink(entry.path)
                    raise PipelineOutputError(
                        f"output file {relative} is a symbolic link (to {target}); write a regular file instead"
                    )
                if stat.S_ISDIR(info.st_mode):
                    _check_name(relative, "directory")
                    if not relative_dir:
                        directories.add(entry.name)
                    pending.append(relative)
                elif stat.S_ISREG(info.st_mode):
                    _check_name(relative, "file")
                    if info.st_size > limits.max_output_file_bytes:
                        raise PipelineOutputError(
                            f"output file {relative} is {format_size(info.st_size)}, over the limit of "
                            f"{format_size(limits.max_output_file_bytes)} for one file "
                            f"(set {ENV_MAX_OUTPUT_FILE_BYTES} to change it)"
                        )
                    files.append(_Entry(relative, info.st_size))
                else:
                    _check_name(relative, "file")
                    raise PipelineOutputError(
                        f"output file {relative} is not a regular file ({describe_mode(info.st_mode)}); remove it"
                    )
    return files, directories


def read_pipeline_output(output_dir: Path, limits: PipelineLimits | None = None) -> PipelineOutput:
    """All regular files under ``output_dir`` keyed by POSIX relative path, plus its top-level directories.

    A missing ``output_dir`` is an empty output (a pipeline that wrote nothing).
    """
    limits = limits or PipelineLimits()
    if not output_dir.exists():
        return PipelineOutput(files={}, directories=frozenset())
    if not output_dir.is_dir():
        raise PipelineOutputError(f"the output path {output_dir} is not a directory")
    root = output_dir.resolve()
    entries, directories = _scan(root, limits)
    total = sum(entry.size for entry in entries)
    if total > limits.max_output_bytes:
        raise PipelineOutputError(
            f"the output files add up to {format_size(total)}, over the limit of "
            f"{format_size(limits.max_output_bytes)} (set {ENV_MAX_OUTPUT_BYTES} to change it); "
            f"largest: {largest({entry.relative: entry.size for entry in entries})}"
        )
    files: dict[str, bytes] = {}
    for entry in entries:
        path = root / entry.relative
        # Nothing above follows links, so this can only fail if the tree changes under us.
        if root not in path.resolve().parents:
            raise PipelineOutputError(f"output file {entry.relative} is outside the output directory")
        try:
            data = read_bounded(
                path,
                max_bytes=limits.max_output_file_bytes,
                what=f"output file {entry.relative}",
                limit_hint=ENV_MAX_OUTPUT_FILE_BYTES,
            )
        except UnreadableFileError as error:
            raise PipelineOutputError(str(error)) from None
        if data is None:
            raise PipelineOutputError(f"output file {entry.relative} disappeared while it was being read")
        files[entry.relative] = data
    return PipelineOutput(files=files, directories=frozenset(directories))
