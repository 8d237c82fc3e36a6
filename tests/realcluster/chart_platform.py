"""kratix-py installed with ``helm install kratix charts/kratix`` on the session's real control plane.

Shared by the real-cluster tests that need the chart's CRDs, ServiceAccount and ClusterRole: one
install per session (``replicas=0``: no operator pod; each test runs the operator it needs), a real
Git server as the state store and one Destination.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kratix_py import kube as k
from kratix_py.local_platform.controlplane import ControlPlane
from kratix_py.local_platform.defaults import (
    GIT_BRANCH,
    GIT_REPO,
    GIT_USER,
    plan_destinations,
    platform_objects,
)
from kratix_py.local_platform.gitserver import GitServer
from kratix_py.operator import resources as r
from kratix_py.testing.fixtures import wait_for
from kratix_py.testing.fixtures_controlplane import run_helm

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "kratix"
GREETING = REPO / "tests" / "integration" / "data" / "greeting"
GREETING_IMAGE = "localhost/kratix-py-test-greeting:v1"
NAMESPACE = "kratix-platform-system"
SERVICE_ACCOUNT = "kratix-platform-controller-manager"
CLUSTER_ROLE = "kratix-platform-manager-role"


@dataclass
class Platform:
    plane: ControlPlane
    admin: k.Kube
    helm: Path
    home: Path
    clone_url: str
    image: str
    git_password: str


def true(obj: dict[str, Any] | None, condition: str) -> bool:
    return any(
        c.get("type") == condition and c.get("status") == "True"
        for c in ((obj or {}).get("status") or {}).get("conditions") or []
    )


def condition(obj: dict[str, Any] | None, condition_type: str) -> dict[str, Any]:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == condition_type:
            return dict(c)
    return {}


def image_values(image: str) -> list[str]:
    repository, _, tag = image.rpartition(":")
    return [
        "--set",
        f"image.repository={repository}",
        "--set",
        f"image.tag={tag}",
        "--set",
        "image.pullPolicy=Never",
    ]


def installed(plane: ControlPlane, helm: Path, image: str, work: Path) -> Iterator[Platform]:
    """Install the chart (replicas=0) and a Git state store; uninstall at the end."""
    assert plane.kubeconfig is not None
    # As the chart's README says: the release record in ``default``, the chart's objects in its
    # own namespace (which it creates). replicas=0: CRDs and RBAC, no operator pod yet.
    answer = run_helm(
        helm, "install", "kratix", str(CHART), "--set", "replicas=0",
        *image_values(image), home=work, kubeconfig=plane.kubeconfig,
    )  # fmt: skip
    assert answer.returncode == 0, answer.stderr
    admin = k.Kube(plane.api_client())
    for crd in ("promises", "works", "workplacements", "destinations", "gitstatestores", "bucketstatestores"):
        name = f"{crd}.platform.kratix.io"
        wait_for(lambda name=name: true(admin.get(k.CRDS, name), "Established"), timeout=30, what=f"{name}")
    password = uuid.uuid4().hex
    git = GitServer(
        username=GIT_USER, password=password, https=False, ssh=False, http_port=0, parent_dir=work
    )
    git.start()
    try:
        git.create_repo(GIT_REPO, branch=GIT_BRANCH)
        url = git.http_url(GIT_REPO)
        kinds: dict[str, Any] = {"Secret": k.SECRETS, "Destination": r.DESTINATIONS, **r.STATE_STORES}
        objects = platform_objects(
            store="git", destinations=plan_destinations(1), git_url=url, git_password=password
        )
        for obj in objects:
            admin.apply(kinds[obj["kind"]], obj)
        clone_url = url.replace("://", f"://{GIT_USER}:{password}@", 1)
        yield Platform(plane, admin, helm, work, clone_url, image, password)
    finally:
        run_helm(helm, "uninstall", "kratix", "--wait", home=work, kubeconfig=plane.kubeconfig)
        git.stop()


def greeting_request(name: str, namespace: str = "default") -> tuple[k.Resource, dict[str, Any]]:
    request = yaml.safe_load((GREETING / "request.yaml").read_text())
    request["metadata"]["name"] = name
    request["metadata"]["namespace"] = namespace
    group, version = request["apiVersion"].split("/")
    kind = request["kind"]
    return k.Resource(group, version, kind.lower() + "s", True, kind), request


def reconciled(platform: Platform, name: str, tmp_path: Path, *, apply: bool = True) -> list[Path]:
    """Apply a Greeting request (unless applied already), wait for Reconciled, and return its
    manifests in a fresh clone of the Git repository."""
    resource, request = greeting_request(name)
    if apply:
        platform.admin.apply(resource, request)
    namespace = request["metadata"]["namespace"]
    wait_for(
        lambda: true(platform.admin.get(resource, name, namespace), "Reconciled"),
        timeout=240,
        what=f"the request {name} to be Reconciled",
    )
    return manifests_in_git(platform, name, tmp_path / f"clone-{name}", namespace)


def manifests_in_git(platform: Platform, name: str, clone: Path, namespace: str = "default") -> list[Path]:
    """The Greeting manifests of request ``name`` in a fresh clone, relative to the clone."""
    subprocess.run(["git", "clone", "--quiet", platform.clone_url, str(clone)], check=True, timeout=60)
    found = clone.glob(f"worker-1/resources/{namespace}/*/{name}/**/greeting.yaml")
    return sorted(path.relative_to(clone) for path in found)
