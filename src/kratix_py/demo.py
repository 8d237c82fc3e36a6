"""``kratix-py demo``: the whole flow on the local platform, narrated with kubectl.

It brings the local platform up as ``kratix-py local-platform`` does (free ports, so it runs beside
one), builds the PostgreSQL example's pipeline image, then does what a platform team and an app
team would: register the Git state store and the Destination with kubectl, install the PostgreSQL
Promise, request a database, and show what kubectl sees and what landed in Git.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from kratix_py.errors import CommandError

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "examples" / "promises" / "postgresql"
PIPELINE_IMAGE = "localhost/kratix-py-example-postgresql-configure:v1.0.0"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="where the demo keeps its kubeconfig, operator log and pod folders "
        "(default: a new temporary directory, removed at the end)",
    )
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="leave the platform running at the end so you can use kubectl against it (Ctrl-C stops)",
    )


def run(args: argparse.Namespace) -> int:
    from kratix_py import kube as k
    from kratix_py.local_platform.console import (
        describe,
        interrupted_by_signals,
        shielded,
        wait_for_interrupt,
    )
    from kratix_py.local_platform.defaults import GIT_REPO
    from kratix_py.local_platform.kratix_image import build_pipeline_image
    from kratix_py.local_platform.podman import podman_problem
    from kratix_py.local_platform.up import PLATFORM_MANIFEST, PlatformOptions, RunningPlatform
    from kratix_py.operator import resources as r

    if not EXAMPLE.is_dir():
        raise CommandError(f"the example Promise is not at {EXAMPLE}: run the demo from a kratix-py checkout")
    if shutil.which("kubectl") is None:
        raise CommandError("kubectl is not on PATH: install it to follow the demo")
    problem = podman_problem()
    if problem is not None:
        raise CommandError(f"{problem} (make setup installs and configures podman)")

    started = time.monotonic()
    options = PlatformOptions(api_port=0, git_port=0, s3_port=0, directory=args.dir, register=False)
    platform = RunningPlatform(options, say=_step)
    with interrupted_by_signals():
        try:
            _step(f"Building the PostgreSQL example's pipeline image with podman: {PIPELINE_IMAGE}")
            build_pipeline_image(EXAMPLE / "pipelines" / "instance-configure", PIPELINE_IMAGE)
            platform.start()
            _step(f"Local platform up: Kubernetes API {platform.api_url}; Git server {platform.git_url}")
            kubectl = _kubectl_for(platform.kubeconfig)
            kube = platform.kube

            _step("Platform team: a Git state store (credentials in a Secret) and a Destination")
            kubectl("apply", "-f", str(platform.workdir / PLATFORM_MANIFEST))
            platform.wait_ready()
            kubectl("get", "gitstatestores,destinations")

            _step("Platform team: install the PostgreSQL Promise")
            kubectl("apply", "-f", str(EXAMPLE / "promise.yaml"))
            _wait(
                lambda: (
                    ((kube.get(r.PROMISES, "postgresql") or {}).get("status") or {}).get("status")
                    == "Available"
                ),
                "the Promise",
            )
            kubectl("get", "promises")

            _step("App team: request a database")
            request = yaml.safe_load((EXAMPLE / "example-request.yaml").read_text())
            kubectl("apply", "-f", str(EXAMPLE / "example-request.yaml"))
            resource = k.Resource("marketplace.kratix.io", "v1alpha1", "postgresqls", True, "PostgreSQL")
            name, namespace = request["metadata"]["name"], request["metadata"].get("namespace", "default")
            _wait(
                lambda: _condition(kube.get(resource, name, namespace), "Reconciled") == "True",
                "the request to be Reconciled (pipeline run, files written to Git)",
                timeout=180,
            )
            kubectl("get", "postgresqls", "-A")
            kubectl("get", "works,workplacements", "-A")
            kubectl("get", "jobs", "-A", "-l", "kratix.io/promise-name=postgresql")

            _step("What landed in the Git state store (what Flux or ArgoCD would apply on the Destination)")
            destination = options.destinations[0].name
            tree = platform.git.read_tree(GIT_REPO)
            for path in sorted(tree):
                print(f"    {path}")
            cluster = next(
                (
                    p
                    for p in sorted(tree)
                    if p.startswith(f"{destination}/resources/") and p.endswith(".yaml")
                ),
                None,
            )
            if cluster is not None:
                print(f"\n--- {cluster}")
                print(tree[cluster].decode().rstrip())
            print(f"\nDone in {time.monotonic() - started:.0f}s.")
            if args.keep_running:
                print(f"\n{describe(platform)}", flush=True)
                wait_for_interrupt()
        except KeyboardInterrupt:
            pass
        finally:
            with shielded():
                platform.stop()
    return 0


def _condition(obj: dict[str, object] | None, condition_type: str) -> str | None:
    status = (obj or {}).get("status")
    for condition in (status.get("conditions") if isinstance(status, dict) else None) or []:
        if condition.get("type") == condition_type:
            return str(condition.get("status"))
    return None


def _wait(check: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise CommandError(
                f"timed out waiting for {what}; the kubectl output above shows where it stopped"
            )
        time.sleep(0.2)


def _step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def _kubectl_for(kubeconfig: Path) -> Callable[..., None]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}

    def kubectl(*args: str) -> None:
        print(f"$ kubectl {' '.join(args)}", flush=True)
        result = subprocess.run(["kubectl", *args], env=env)
        if result.returncode != 0:
            raise CommandError(f"kubectl {' '.join(args)} failed (exit {result.returncode})")

    return kubectl
