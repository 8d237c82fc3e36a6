"""The operator's own folder for Git cache clones and credential files, swept at start.

Every operator process claims a fresh folder under ``<tmp>/kratix-py-operator/`` and holds an
exclusive ``flock`` on a lock file in it for as long as it lives. A process killed with SIGKILL
loses its lock with its life, so the next operator to start (in the chart: the same container's
``/tmp`` emptyDir after a restart) removes every folder whose lock it can take: stale clones and
any credentials a killed write left behind. Folders of operators still running stay untouched.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

ROOT_NAME = "kratix-py-operator"
_LOCK = ".lock"


class TempRoot:
    """``TempRoot.claim()``: sweep stale folders, then own a new one until :meth:`release`."""

    def __init__(self, path: Path, lock_fd: int) -> None:
        self.path = path
        self._lock_fd: int | None = lock_fd

    @property
    def git_cache(self) -> Path:
        return self.path / "git-cache"

    @classmethod
    def claim(cls, base: str | Path | None = None) -> TempRoot:
        parent = Path(base) if base is not None else Path(tempfile.gettempdir()) / ROOT_NAME
        parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        removed = sweep(parent)
        if removed:
            log.info("removed %d folder(s) left by operators that did not stop cleanly", removed)
        for _attempt in range(5):
            path = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=parent))
            try:
                fd = os.open(path / _LOCK, os.O_CREAT | os.O_RDWR, 0o600)
            except FileNotFoundError:
                continue  # another operator's sweep took it before its lock existed: new folder
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return cls(path, fd)
        raise OSError(f"could not claim a folder under {parent}")

    def release(self) -> None:
        """Remove the folder (a clean stop leaves nothing) and give up the lock."""
        if self._lock_fd is None:
            return
        shutil.rmtree(self.path, ignore_errors=True)
        os.close(self._lock_fd)
        self._lock_fd = None


def sweep(parent: Path) -> int:
    """Remove the folders under ``parent`` whose lock no living process holds; how many went."""
    removed = 0
    for folder in sorted(parent.iterdir()):
        if not folder.is_dir() or folder.is_symlink():
            continue
        try:
            fd = os.open(folder / _LOCK, os.O_RDWR)
        except FileNotFoundError:
            fd = None  # killed between creating the folder and its lock file
        except OSError:
            continue
        try:
            if fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue  # a living operator owns it
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
        finally:
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
    return removed
