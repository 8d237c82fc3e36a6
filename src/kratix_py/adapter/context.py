"""Where an adapter step runs: a real container, or in-process for the fast pod runner.

A step needs three things from its surroundings: the environment variables of its container, a
way to turn a path as the container sees it (``/kratix/input``) into a real path, and somewhere to
log. In a real pod those are ``os.environ``, the identity and stdout; the fast pod runner maps the
pod's volumes to host directories and captures the log. Steps take any object with this shape.

Optional attributes a context may also have: ``api_client`` (a ``kubernetes.client.ApiClient``
to use instead of loading one from ``$KUBECONFIG`` or the in-cluster service account), ``args``
(the container's arguments after the sub-command, e.g. the work-writer's ``--promise-name``) and
``error(message)`` (where failures go; ``log`` otherwise).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol


class StepContext(Protocol):
    """The minimum a step needs; see the module docstring for the optional attributes."""

    @property
    def env(self) -> Mapping[str, str]: ...

    def path(self, container_path: str) -> Path: ...

    def log(self, message: str) -> None: ...


def report_error(ctx: StepContext, message: str) -> None:
    """Send a failure to ``ctx.error`` when the context separates errors, else to its log."""
    error = getattr(ctx, "error", None)
    if callable(error):
        error(message)
    else:
        ctx.log(message)


@dataclass
class ContainerContext:
    """A step running as the container's main process: real paths, ``os.environ``, stdout/stderr.

    What a step prints here is what ``kubectl logs`` shows, so errors go to stderr on one line.
    """

    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    args: Sequence[str] = ()
    api_client: Any = None

    def path(self, container_path: str) -> Path:
        return Path(container_path)

    def log(self, message: str) -> None:
        print(message, flush=True)

    def error(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)


@dataclass
class MountedContext:
    """A step running in-process with the pod's volumes mapped to host directories.

    ``mounts`` maps a container path (``/kratix/input``) to the host directory behind it; the
    longest matching mount wins, as in a container. A path outside every mount is an error rather
    than silently touching the host. ``lines`` collects the log for assertions and pod logs.
    """

    env: Mapping[str, str]
    mounts: Mapping[str, Path]
    args: Sequence[str] = ()
    api_client: Any = None
    lines: list[str] = field(default_factory=list)

    def path(self, container_path: str) -> Path:
        wanted = PurePosixPath(container_path)
        best: tuple[PurePosixPath, Path] | None = None
        for mount, host in self.mounts.items():
            mount_path = PurePosixPath(mount)
            if (wanted == mount_path or mount_path in wanted.parents) and (
                best is None or len(mount_path.parts) > len(best[0].parts)
            ):
                best = (mount_path, Path(host))
        if best is None:
            raise FileNotFoundError(f"{container_path} is not inside any volume mounted into this step")
        return best[1].joinpath(*wanted.relative_to(best[0]).parts)

    def log(self, message: str) -> None:
        self.lines.append(message)

    def error(self, message: str) -> None:
        self.lines.append(message)
