"""Read a pipeline's output directory safely, for the work-writer.

Every regular file becomes a workload. Anything else is refused with an error naming it: a
symbolic link could point outside the output (and its target is not what the pipeline author
sees in the directory listing); devices, sockets and pipes are not files one can commit; a name
that is not UTF-8 cannot be stored in a Work. Kratix follows or mishandles these silently.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from kratix_py.core.workloads import PipelineOutput, PipelineOutputError


def _display(relative: str) -> str:
    # Undecodable bytes are kept by Python as surrogate escapes; show them as \x.. rather than crash.
    return relative.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def read_pipeline_output(output_dir: Path) -> PipelineOutput:
    """All regular files under ``output_dir`` keyed by POSIX relative path, plus its top-level directories.

    A missing ``output_dir`` is an empty output (a pipeline that wrote nothing).
    """
    if not output_dir.exists():
        return PipelineOutput(files={}, directories=frozenset())
    if not output_dir.is_dir():
        raise PipelineOutputError(f"the output path {output_dir} is not a directory")
    root = output_dir.resolve()
    files: dict[str, bytes] = {}
    directories: set[str] = set()
    pending = [""]
    while pending:
        relative_dir = pending.pop()
        with os.scandir(root / relative_dir if relative_dir else root) as entries:
            for entry in sorted(entries, key=lambda item: item.name):
                relative = f"{relative_dir}/{entry.name}" if relative_dir else entry.name
                try:
                    relative.encode("utf-8")
                except UnicodeEncodeError:
                    raise PipelineOutputError(
                        f'output file name "{_display(relative)}" is not valid UTF-8; rename it'
                    ) from None
                mode = entry.stat(follow_symlinks=False).st_mode
                if stat.S_ISLNK(mode):
                    target = os.readlink(entry.path)
                    raise PipelineOutputError(
                        f"output file {relative} is a symbolic link (to {target}); write a regular file instead"
                    )
                if stat.S_ISDIR(mode):
                    if not relative_dir:
                        directories.add(entry.name)
                    pending.append(relative)
                elif stat.S_ISREG(mode):
                    path = Path(entry.path)
                    # Nothing above follows links, so this can only fail if the tree changes under us.
                    if root not in path.resolve().parents:
                        raise PipelineOutputError(f"output file {relative} is outside the output directory")
                    files[relative] = path.read_bytes()
                else:
                    raise PipelineOutputError(
                        f"output file {relative} is not a regular file (a device, socket or pipe); remove it"
                    )
    return PipelineOutput(files=files, directories=frozenset(directories))
