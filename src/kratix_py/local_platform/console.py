"""The local platform in a terminal: what to tell the person who started it, and how signals stop it."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from kratix_py.local_platform.defaults import BUCKET, GIT_BRANCH, STATE_STORE
from kratix_py.local_platform.up import RunningPlatform

# The system-wide podman drop-in scripts/setup-system.sh installs when the machine has no podman
# configuration of its own; without it, plain podman commands need the project's CONTAINERS_CONF.
SYSTEM_PODMAN_DROP_IN = Path("/etc/containers/containers.conf.d/50-kratix-py.conf")


def describe(platform: RunningPlatform) -> str:
    """What is running and how to use and stop it, for the terminal."""
    options = platform.options
    lines = [
        f"kratix-py local platform is up ({options.api} API, "
        f"{'podman pods' if options.pods == 'podman' else 'no pods'}; started in {platform.started_in:.1f}s)",
        "",
        f"  export KUBECONFIG={platform.kubeconfig}",
        "  kubectl get destinations," + ("gitstatestores" if options.store == "git" else "bucketstatestores"),
        "",
        f"Kubernetes API  {platform.api_url}",
        f"Git server      git clone {platform.clone_url}",
    ]
    if platform.s3 is not None:
        s3 = platform.s3
        lines.append(
            f"S3 server       {s3.url} bucket {BUCKET}, access key {s3.access_key_id}, secret key {s3.secret_access_key}"
        )
    store_target = (
        f"{platform.git_url} ({GIT_BRANCH})"
        if options.store == "git"
        else f"s3://{BUCKET} at {platform.s3.url}"
    )
    lines.append(f"State store     {platform.store_kind}/{STATE_STORE} -> {store_target}")
    for destination in options.destinations:
        labels = ",".join(f"{key}={value}" for key, value in destination.labels.items()) or "no labels"
        lines.append(f"Destination     {destination.name} ({labels}) writes under {destination.name}/")
    if platform.runner_id is not None:
        containers = f"podman ps -a --filter label=io.kratix-py.runner={platform.runner_id}"
        lines.append(f"Pipeline pods   {containers}")
        if not SYSTEM_PODMAN_DROP_IN.exists():
            from kratix_py.local_platform.podman import containers_conf_path

            lines.append(
                f"                plain `podman run` here needs CONTAINERS_CONF={containers_conf_path()}: kratix-py's "
                "podman configuration is not installed system-wide (scripts/setup-system.sh installs it "
                "when the machine has no podman configuration of its own)"
            )
    lines.append(f"Operator log    {platform.operator_log}")
    kept = "kept" if options.keep else "removed"
    lines.append(f"Directory       {platform.workdir} ({kept} on stop)")
    lines += ["", f"Stop with Ctrl-C (or kill -INT {os.getpid()}); it removes what it started."]
    return "\n".join(lines)


@contextlib.contextmanager
def interrupted_by_signals() -> Iterator[None]:
    """Inside the block SIGINT and SIGTERM raise KeyboardInterrupt, so both stop the same way.

    SIGINT is set explicitly: a shell starts background commands with SIGINT ignored, and then
    ``kill -INT`` (what the banner suggests) would do nothing. Stop inside :func:`shielded`, so a
    second signal cannot cut stopping short.
    """

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Inside the block SIGINT and SIGTERM only say that the platform is stopping.

    Stopping takes a few seconds (the operator, the pod runner's containers); a second Ctrl-C
    must not cut it short and leave containers or directories behind.
    """

    def patience(_signum: int, _frame: FrameType | None) -> None:
        print("kratix-py: still stopping; removing what was started", file=sys.stderr, flush=True)

    previous = {sig: signal.signal(sig, patience) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def wait_for_interrupt() -> None:
    """Sleep until Ctrl-C or SIGTERM (inside :func:`interrupted_by_signals`)."""
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
