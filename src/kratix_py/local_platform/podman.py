"""Podman for the local platform, configured by kratix-py itself rather than through ``/etc``.

Plain ``podman run`` fails on the machines we test on: the default runtime (crun) rejects hybrid
cgroup layouts, podman's default rlimits exceed the hard limits a root without CAP_SYS_RESOURCE
may set, and a missing image makes podman reach for a registry that is not there. Every podman
call made by kratix-py therefore gets ``CONTAINERS_CONF`` pointing at a containers.conf that this
module writes, so nobody has to edit the machine's ``/etc/containers``.

Storage is deliberately *not* configured through ``CONTAINERS_STORAGE_CONF``: conmon forwards
``CONTAINERS_CONF`` but not ``CONTAINERS_STORAGE_CONF`` to the ``podman container cleanup`` process
it starts when a container exits. With a driver pinned only in our file, that cleanup process sees a
different storage configuration than libpod's database recorded, refuses to record the exit code,
and every ``podman run`` then waits 20 s for it. Podman's defaults (the machine's storage.conf if
any, else overlay when the kernel supports it) are consistent for both processes;
:func:`podman_problem` reports a slow driver (vfs) instead of silently living with it.

Usage::

    from kratix_py.local_platform.podman import podman_available, run_podman
    if podman_available():
        run_podman(["image", "exists", "localhost/kratix-py-base:bookworm"], check=False)

``python -m kratix_py.local_platform.podman`` prints the environment to use podman the same way by hand
(``eval "$(python -m kratix_py.local_platform.podman)"``) and ``--check`` explains what is missing.
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

PODMAN = "podman"

# podman caps its own nproc at this value, so a container may not ask for more.
_PODMAN_NPROC_CEILING = 32768
# podman's own default; used when the hard limit is unlimited.
_PODMAN_NOFILE_DEFAULT = 1048576

SETUP_HINT = "run scripts/setup-system.sh as root (installs podman, runc, netavark, debootstrap ...)"


class PodmanError(RuntimeError):
    """A podman command failed; carries the command, its exit code and what it printed."""

    def __init__(self, args: Sequence[str], returncode: int, output: str) -> None:
        self.command = list(args)
        self.returncode = returncode
        self.output = output
        super().__init__(
            f"podman {shlex.join(self.command)} failed with exit code {returncode}: {output.strip()[-2000:]}"
        )


def _hard_limit(kind: int, ceiling: int) -> int:
    """The hard rlimit of this process for ``kind``, capped at ``ceiling`` (which also stands in for unlimited)."""
    hard = resource.getrlimit(kind)[1]
    if hard == resource.RLIM_INFINITY or hard <= 0:
        return ceiling
    return min(hard, ceiling)


def containers_conf_text(*, nofile: int, nproc: int) -> str:
    """The containers.conf every kratix-py podman call uses (pure, so it can be tested)."""
    return f"""\
# Written by kratix_py.local_platform.podman; used through CONTAINERS_CONF. Do not edit: it is rewritten.
[containers]
# No network unless a container asks for one (the pod runner passes --network host for pods that
# talk to the Kubernetes API); creating a network namespace costs ~200 ms per container.
netns = "none"
# At or below this machine's hard limits: podman's defaults are higher and runc then fails.
default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]

[network]
network_backend = "netavark"

[engine]
# Nothing is ever pulled: images are built locally (kratix_py.local_platform.images).
pull_policy = "never"
# crun rejects hybrid cgroup v1/v2 hosts; runc works everywhere we run.
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""


def config_dir() -> Path:
    """Where the generated podman configuration lives (per user, stable, so shells can reuse it)."""
    override = os.environ.get("KRATIX_PY_PODMAN_CONFIG_DIR")
    if override:
        return Path(override)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "kratix-py" / "podman"


def _write_if_changed(path: Path, text: str) -> None:
    """Write atomically, and only when the content differs, so concurrent processes never see half a file."""
    try:
        if path.read_text() == text:
            return
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


@functools.cache
def containers_conf_path() -> Path:
    """Write (once per process) and return the containers.conf for this machine's limits."""
    text = containers_conf_text(
        nofile=_hard_limit(resource.RLIMIT_NOFILE, _PODMAN_NOFILE_DEFAULT),
        nproc=_hard_limit(resource.RLIMIT_NPROC, _PODMAN_NPROC_CEILING),
    )
    path = config_dir() / "containers.conf"
    _write_if_changed(path, text)
    return path


def podman_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a podman subprocess: ``base`` (default ``os.environ``) plus CONTAINERS_CONF."""
    env = dict(os.environ if base is None else base)
    env["CONTAINERS_CONF"] = str(containers_conf_path())
    # An inherited storage override would bring back the 20 s cleanup stall (see module docstring).
    env.pop("CONTAINERS_STORAGE_CONF", None)
    return env


def run_podman(
    args: Sequence[str],
    *,
    check: bool = True,
    input: str | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``podman ARGS`` with the project's configuration; stdout and stderr are captured separately.

    With ``check`` a non-zero exit raises :class:`PodmanError` that includes podman's own message.
    """
    completed = subprocess.run(
        [PODMAN, *args],
        env=podman_env(),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and completed.returncode != 0:
        raise PodmanError(args, completed.returncode, str(completed.stderr or completed.stdout))
    return completed


@functools.cache
def podman_problem() -> str | None:
    """Why podman cannot run containers here, with what to do about it; ``None`` when it can.

    Cached per process: it costs one ``podman info`` (~0.3 s).
    """
    if shutil.which(PODMAN) is None:
        return f"podman is not installed: {SETUP_HINT}"
    try:
        info = run_podman(
            ["info", "--format", "{{.Host.OCIRuntime.Name}} {{.Store.GraphDriverName}}"],
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"podman does not answer ({error}): {SETUP_HINT}"
    if info.returncode != 0:
        return f"`podman info` failed: {info.stderr.strip()[-500:]}; {SETUP_HINT}"
    runtime, _, driver = info.stdout.strip().partition(" ")
    if runtime != "runc":
        return f"podman uses the OCI runtime {runtime!r} instead of runc: is runc installed? {SETUP_HINT}"
    if driver != "overlay":
        return (
            f"podman's storage driver is {driver!r}, not overlay; it gets slower with every container. "
            'Pin `driver = "overlay"` in /etc/containers/storage.conf (before the first podman use on the '
            "machine, or after `podman system reset`)."
        )
    return None


def podman_available() -> bool:
    """True when podman can run containers with the project's configuration."""
    return podman_problem() is None


def image_exists(ref: str) -> bool:
    """Whether ``ref`` is in local storage (nothing is ever pulled)."""
    return run_podman(["image", "exists", ref], check=False).returncode == 0


def remove_containers(names: Iterable[str]) -> None:
    """Kill and remove containers by name at once (no grace period); unknown names are ignored."""
    wanted = sorted(set(names))
    if wanted:
        run_podman(["rm", "--force", "--ignore", "--time", "0", *wanted], check=False, timeout=120)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kratix_py.local_platform.podman",
        description="Print shell exports to use podman configured as kratix-py does, or check it works.",
    )
    parser.add_argument("--check", action="store_true", help="check that podman can run containers")
    args = parser.parse_args(argv)
    if args.check:
        problem = podman_problem()
        print(problem or "podman is ready (runc, overlay storage, project containers.conf)")
        return 1 if problem else 0
    print(f"export CONTAINERS_CONF={shlex.quote(str(containers_conf_path()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
