"""``kratix-py demo``: the whole flow on the local platform, narrated with kubectl.

It builds kratix-py's image and the PostgreSQL example's pipeline image with podman, starts the
local platform (API emulator + pod runner) and a Git server, runs the operator, then does what a
platform team and an app team would: register a Git state store and a Destination, install the
PostgreSQL Promise, request a database, and show what kubectl sees and what landed in Git.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from kratix_py.errors import CommandError

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "examples" / "promises" / "postgresql"
PIPELINE_IMAGE = "localhost/kratix-py-example-postgresql-configure:v1.0.0"
GIT_USER, GIT_PASSWORD = "kratix", "demo-password"
DESTINATION = "dev"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(".local-platform"),
        help="where the demo keeps its kubeconfig and pod folders (default: %(default)s)",
    )
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="leave the platform running at the end so you can use kubectl against it (Ctrl-C stops)",
    )


def run(args: argparse.Namespace) -> int:
    from kratix_py import kube as k
    from kratix_py.local_platform.gitserver import GitServer
    from kratix_py.local_platform.kratix_image import IMAGE, build_pipeline_image, ensure_kratix_image
    from kratix_py.local_platform.operator import RunningOperator, settings_for
    from kratix_py.local_platform.platform import LocalPlatform
    from kratix_py.local_platform.podman import podman_problem
    from kratix_py.operator import resources as r

    if not EXAMPLE.is_dir():
        raise CommandError(f"the example Promise is not at {EXAMPLE}: run the demo from a kratix-py checkout")
    if shutil.which("kubectl") is None:
        raise CommandError("kubectl is not on PATH: install it to follow the demo")
    problem = podman_problem()
    if problem is not None:
        raise CommandError(f"{problem} (make setup installs and configures podman)")

    # kopf's own warnings (e.g. "no request kinds yet") are noise in a narrated demo.
    logging.getLogger("kopf").setLevel(logging.ERROR)
    started = time.monotonic()
    _step("Building images with podman: kratix-py (operator + pipeline adapter) and the PostgreSQL pipeline")
    ensure_kratix_image(IMAGE)
    build_pipeline_image(EXAMPLE / "pipelines" / "instance-configure", PIPELINE_IMAGE)
    print(f"    {IMAGE}\n    {PIPELINE_IMAGE}")

    workdir = args.dir.resolve()
    with (
        LocalPlatform(workdir=workdir, pods="podman") as platform,
        GitServer(username=GIT_USER, password=GIT_PASSWORD, https=False, ssh=False) as git,
    ):
        kube = k.Kube(platform.api_client())
        env = {**os.environ, "KUBECONFIG": str(platform.kubeconfig)}
        git.create_repo("kratix-state")
        _step(f"Local platform up: Kubernetes API {platform.url}; Git server {git.http_url('kratix-state')}")
        _kubectl(env, "apply", "-f", str(REPO_ROOT / "crds"))
        settings = settings_for(str(platform.kubeconfig), pipeline_adapter_image=IMAGE)
        with RunningOperator(settings):
            _step("Platform team: a Git state store (credentials in a Secret) and a Destination")
            manifests = workdir / "platform.yaml"
            manifests.write_text(
                yaml.safe_dump_all(_platform_objects(git.http_url("kratix-state")), sort_keys=False)
            )
            _kubectl(env, "apply", "-f", str(manifests))
            _wait(
                lambda: _condition(kube.get(r.DESTINATIONS, DESTINATION), "Ready") == "True",
                "the Destination",
            )
            _kubectl(env, "get", "gitstatestores,destinations")

            _step("Platform team: install the PostgreSQL Promise")
            _kubectl(env, "apply", "-f", str(EXAMPLE / "promise.yaml"))
            _wait(
                lambda: (
                    (kube.get(r.PROMISES, "postgresql") or {}).get("status", {}).get("status") == "Available"
                ),
                "the Promise",
            )
            _kubectl(env, "get", "promises")

            _step("App team: request a database")
            request = yaml.safe_load((EXAMPLE / "example-request.yaml").read_text())
            _kubectl(env, "apply", "-f", str(EXAMPLE / "example-request.yaml"))
            resource = k.Resource("marketplace.kratix.io", "v1alpha1", "postgresqls", True, "PostgreSQL")
            name, namespace = request["metadata"]["name"], request["metadata"].get("namespace", "default")
            _wait(
                lambda: _condition(kube.get(resource, name, namespace), "Reconciled") == "True",
                "the request to be Reconciled (pipeline run, files written to Git)",
                timeout=180,
            )
            _kubectl(env, "get", "postgresqls", "-A")
            _kubectl(env, "get", "works,workplacements", "-A")
            _kubectl(env, "get", "jobs", "-A", "-l", "kratix.io/promise-name=postgresql")

            _step("What landed in the Git state store (what Flux or ArgoCD would apply on the Destination)")
            tree = git.read_tree("kratix-state")
            for path in sorted(tree):
                print(f"    {path}")
            cluster = next(
                (
                    p
                    for p in sorted(tree)
                    if p.startswith(f"{DESTINATION}/resources/") and p.endswith(".yaml")
                ),
                None,
            )
            if cluster is not None:
                print(f"\n--- {cluster}")
                print(tree[cluster].decode().rstrip())
            print(f"\nDone in {time.monotonic() - started:.0f}s.")
            if args.keep_running:
                _keep_running(platform.kubeconfig)
    return 0


def _platform_objects(url: str) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "git-credentials", "namespace": "default"},
            "stringData": {"username": GIT_USER, "password": GIT_PASSWORD},
        },
        {
            "apiVersion": "platform.kratix.io/v1alpha1",
            "kind": "GitStateStore",
            "metadata": {"name": "default"},
            "spec": {
                "url": url,
                "branch": "main",
                "secretRef": {"name": "git-credentials", "namespace": "default"},
            },
        },
        {
            "apiVersion": "platform.kratix.io/v1alpha1",
            "kind": "Destination",
            "metadata": {"name": DESTINATION, "labels": {"environment": "dev"}},
            "spec": {"path": DESTINATION, "stateStoreRef": {"kind": "GitStateStore", "name": "default"}},
        },
    ]


def _condition(obj: dict[str, Any] | None, condition_type: str) -> str | None:
    for condition in ((obj or {}).get("status") or {}).get("conditions") or []:
        if condition.get("type") == condition_type:
            return str(condition.get("status"))
    return None


def _wait(check: Any, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise CommandError(
                f"timed out waiting for {what}; the kubectl output above shows where it stopped"
            )
        time.sleep(0.2)


def _keep_running(kubeconfig: Path | None) -> None:
    print(f"\nThe platform is still running. In another shell:\n  export KUBECONFIG={kubeconfig}")
    print("  kubectl get promises,postgresqls,destinations,works -A")
    print("  kubectl describe postgresql team-a-db")
    print("Press Ctrl-C to stop.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


def _step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def _kubectl(env: dict[str, str], *args: str) -> None:
    print(f"$ kubectl {' '.join(args)}", flush=True)
    result = subprocess.run(["kubectl", *args], env=env)
    if result.returncode != 0:
        raise CommandError(f"kubectl {' '.join(args)} failed (exit {result.returncode})")
