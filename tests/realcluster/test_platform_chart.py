"""kratix-py on the real control plane as users install it: ``helm install kratix charts/kratix``.

The chart's CRDs, ServiceAccount and ClusterRole come from a real Helm install. First the operator
runs in the test process with that ServiceAccount's token (never admin, so any call the chart
does not grant fails with 403 here); then ``helm upgrade`` starts the chart's own Deployment,
whose pod runs through the kubelet stand-in with in-cluster configuration.
Pipelines run as Jobs of the real Job controller, with their own ServiceAccounts' tokens.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.local_platform.controlplane import ControlPlane, free_port
from kratix_py.local_platform.defaults import (
    GIT_BRANCH,
    GIT_REPO,
    GIT_USER,
    plan_destinations,
    platform_objects,
)
from kratix_py.local_platform.gitserver import GitServer
from kratix_py.local_platform.kratix_image import build_pipeline_image
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.operator import resources as r
from kratix_py.testing.fixtures import wait_for
from kratix_py.testing.fixtures_controlplane import run_helm

# Pipelines run as real containers on a 2-core machine shared with other work: minutes, not seconds.
pytestmark = [pytest.mark.real_cluster, pytest.mark.containers, pytest.mark.slow, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "kratix"
GREETING = REPO / "tests" / "integration" / "data" / "greeting"
GREETING_IMAGE = "localhost/kratix-py-test-greeting:v1"
NAMESPACE = "kratix-platform-system"
SERVICE_ACCOUNT = "kratix-platform-controller-manager"


@dataclass
class Platform:
    plane: ControlPlane
    admin: k.Kube
    helm: Path
    home: Path
    clone_url: str
    image: str


def _true(obj: dict[str, Any] | None, condition: str) -> bool:
    return any(
        c.get("type") == condition and c.get("status") == "True"
        for c in ((obj or {}).get("status") or {}).get("conditions") or []
    )


def _image_values(image: str) -> list[str]:
    repository, _, tag = image.rpartition(":")
    return [
        "--set",
        f"image.repository={repository}",
        "--set",
        f"image.tag={tag}",
        "--set",
        "image.pullPolicy=Never",
    ]


@pytest.fixture(scope="module")
def greeting_image(base_image: str) -> str:
    return build_pipeline_image(GREETING / "pipeline", GREETING_IMAGE)


@pytest.fixture(scope="module")
def platform(
    control_plane: ControlPlane,
    helm_binary: Path,
    kratix_image: str,
    greeting_image: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Platform]:
    work = tmp_path_factory.mktemp("platform-chart")
    assert control_plane.kubeconfig is not None
    # As the chart's README says: the release record in ``default``, the chart's objects in its
    # own namespace (which it creates). replicas=0: CRDs and RBAC, no operator pod yet.
    installed = run_helm(
        helm_binary, "install", "kratix", str(CHART), "--set", "replicas=0",
        *_image_values(kratix_image), home=work, kubeconfig=control_plane.kubeconfig,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    admin = k.Kube(control_plane.api_client())
    for crd in ("promises", "works", "workplacements", "destinations", "gitstatestores", "bucketstatestores"):
        name = f"{crd}.platform.kratix.io"
        wait_for(lambda name=name: _true(admin.get(k.CRDS, name), "Established"), timeout=30, what=f"{name}")
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
        yield Platform(control_plane, admin, helm_binary, work, clone_url, kratix_image)
    finally:
        run_helm(helm_binary, "uninstall", "kratix", "--wait",
                 home=work, kubeconfig=control_plane.kubeconfig)  # fmt: skip
        git.stop()


def _request(name: str) -> tuple[k.Resource, dict[str, Any]]:
    request = yaml.safe_load((GREETING / "request.yaml").read_text())
    request["metadata"]["name"] = name
    group, version = request["apiVersion"].split("/")
    kind = request["kind"]
    return k.Resource(group, version, kind.lower() + "s", True, kind), request


def _reconciled(platform: Platform, name: str, tmp_path: Path) -> list[Path]:
    resource, request = _request(name)
    platform.admin.apply(resource, request)
    namespace = request["metadata"].get("namespace") or "default"
    wait_for(
        lambda: _true(platform.admin.get(resource, name, namespace), "Reconciled"),
        timeout=240,
        what=f"the request {name} to be Reconciled",
    )
    clone = tmp_path / f"clone-{name}"
    subprocess.run(["git", "clone", "--quiet", platform.clone_url, str(clone)], check=True, timeout=60)
    return sorted(clone.glob(f"worker-1/resources/{namespace}/*/{name}/**/greeting.yaml"))


def test_the_operator_with_the_charts_service_account_takes_a_request_to_git(
    platform: Platform, tmp_path: Path
) -> None:
    token = platform.plane.token_kubeconfig(tmp_path / "operator.kubeconfig", NAMESPACE, SERVICE_ACCOUNT)
    settings = settings_for(str(token), pipeline_adapter_image=platform.image)
    with RunningOperator(settings):
        _promise_available(platform)
        assert _reconciled(platform, "from-test-process", tmp_path), "the request's manifests are not in Git"


def _promise_available(platform: Platform) -> None:
    wait_for(lambda: _true(platform.admin.get(r.DESTINATIONS, "worker-1"), "Ready"), timeout=60,
             what="worker-1 Ready")  # fmt: skip
    promise = yaml.safe_load((GREETING / "promise.yaml").read_text())
    platform.admin.apply(r.PROMISES, promise)
    wait_for(
        lambda: (
            ((platform.admin.get(r.PROMISES, promise["metadata"]["name"]) or {}).get("status") or {}).get(
                "status"
            )
            == "Available"
        ),
        timeout=120,
        what="the Promise to be Available",
    )


def test_with_the_charts_permissions_a_pod_ttl_removes_the_pods_of_finished_pipeline_jobs(
    platform: Platform, tmp_path: Path
) -> None:
    """The real Job controller's pods, deleted by the operator under the chart's ClusterRole."""
    token = platform.plane.token_kubeconfig(tmp_path / "operator.kubeconfig", NAMESPACE, SERVICE_ACCOUNT)
    settings = settings_for(
        str(token), pipeline_adapter_image=platform.image, pod_ttl_seconds_after_finished=timedelta(seconds=2)
    )
    with RunningOperator(settings):
        _promise_available(platform)
        assert _reconciled(platform, "pods-go", tmp_path)
        jobs = platform.admin.list(k.JOBS, labels={c.LABEL_RESOURCE_NAME: "pods-go"})
        assert jobs
        for job in jobs:
            namespace, uid = job["metadata"]["namespace"], job["metadata"]["uid"]
            wait_for(
                lambda namespace=namespace, uid=uid: (
                    not platform.admin.list(k.PODS, namespace, labels={"controller-uid": uid})
                ),
                timeout=60,
                what=f"the pods of Job {job['metadata']['name']} to be deleted",
            )
        kept = platform.admin.list(k.JOBS, labels={c.LABEL_RESOURCE_NAME: "pods-go"})
        assert {j["metadata"]["uid"] for j in kept} == {j["metadata"]["uid"] for j in jobs}
        assert all(c.ANNOTATION_PODS_REMOVED_AT in j["metadata"]["annotations"] for j in kept)


def test_helm_upgrade_runs_the_operator_pod_in_cluster(platform: Platform, tmp_path: Path) -> None:
    started = time.monotonic()
    upgraded = run_helm(
        platform.helm, "upgrade", "kratix", str(CHART), "--reuse-values",
        "--set", "replicas=1",
        # The pod shares the host's network here: ports of its own, not the chart's 8080/8081.
        "--set", f"operator.healthPort={free_port()}", "--set", f"operator.metricsPort={free_port()}",
        home=platform.home, kubeconfig=platform.plane.kubeconfig,
    )  # fmt: skip
    assert upgraded.returncode == 0, upgraded.stderr
    deployments = k.Resource("apps", "v1", "deployments", True, "Deployment")

    def available() -> bool:
        for obj in platform.admin.list(deployments, NAMESPACE):
            if (obj.get("status") or {}).get("availableReplicas") == 1:
                return True
        return False

    wait_for(available, timeout=180, what="the operator Deployment to be available")
    listed = subprocess.run(
        ["kubectl", "--kubeconfig", str(platform.plane.kubeconfig), "get", "promises", "-o", "name"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert "promise.platform.kratix.io/greeting" in listed.stdout
    # The operator pod runs on the stand-in's Node.
    pods = [
        p for p in platform.admin.list(k.PODS, NAMESPACE) if (p.get("status") or {}).get("phase") == "Running"
    ]
    assert pods and pods[0]["spec"]["nodeName"] == platform.plane.node_name
    print(f"\noperator pod available in {time.monotonic() - started:.1f}s")
