"""kratix-py on the real control plane as users install it: ``helm install kratix charts/kratix``.

The chart's CRDs, ServiceAccount and ClusterRole come from a real Helm install. First the operator
runs in the test process with that ServiceAccount's token (never admin, so any call the chart
does not grant fails with 403 here); then ``helm upgrade`` starts the chart's own Deployment,
whose pod runs through the kubelet stand-in with in-cluster configuration, takes the Lease and
starts a request's pipeline by itself (its ``kubectl logs`` say so), and writes the request's Work
into the Git state store with git from the image and the state store's Secret.
Pipelines run as Jobs of the real Job controller, with their own ServiceAccounts' tokens.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.local_platform.controlplane import free_port
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.operator import resources as r
from kratix_py.operator.leader import LEASES
from kratix_py.testing.fixtures import wait_for
from kratix_py.testing.fixtures_controlplane import run_helm

from .chart_platform import (
    CHART,
    GREETING,
    NAMESPACE,
    SERVICE_ACCOUNT,
    Platform,
    greeting_request,
    reconciled,
    true,
)

# Pipelines run as real containers on a 2-core machine shared with other work: minutes, not seconds.
pytestmark = [pytest.mark.real_cluster, pytest.mark.containers, pytest.mark.slow, pytest.mark.timeout(900)]

LEASE_NAME = "kratix-py-operator"


def test_the_operator_with_the_charts_service_account_takes_a_request_to_git(
    platform: Platform, tmp_path: Path
) -> None:
    token = platform.plane.token_kubeconfig(tmp_path / "operator.kubeconfig", NAMESPACE, SERVICE_ACCOUNT)
    settings = settings_for(str(token), pipeline_adapter_image=platform.image)
    with RunningOperator(settings):
        _promise_available(platform)
        assert reconciled(platform, "from-test-process", tmp_path), "the request's manifests are not in Git"


def _promise_available(platform: Platform) -> None:
    wait_for(lambda: true(platform.admin.get(r.DESTINATIONS, "worker-1"), "Ready"), timeout=60,
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
        assert reconciled(platform, "pods-go", tmp_path)
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

        # The reaper marks a Job once all its pod deletes went through: just after they are gone.
        def marked() -> bool:
            kept = platform.admin.list(k.JOBS, labels={c.LABEL_RESOURCE_NAME: "pods-go"})
            assert {j["metadata"]["uid"] for j in kept} == {j["metadata"]["uid"] for j in jobs}
            return all(c.ANNOTATION_PODS_REMOVED_AT in (j["metadata"].get("annotations") or {}) for j in kept)

        wait_for(marked, timeout=30, what=f"the Jobs marked with {c.ANNOTATION_PODS_REMOVED_AT}")


@pytest.fixture
def operator_pod_removed_after(platform: Platform) -> Iterator[None]:
    """The chart is shared by the session: later tests run operators of their own, never beside this pod."""
    yield
    stopped = run_helm(
        platform.helm, "upgrade", "kratix", str(CHART), "--reuse-values", "--set", "replicas=0", "--wait",
        home=platform.home, kubeconfig=platform.plane.kubeconfig,
    )  # fmt: skip
    assert stopped.returncode == 0, stopped.stderr


def test_helm_upgrade_runs_the_operator_pod_in_cluster(
    platform: Platform, tmp_path: Path, operator_pod_removed_after: None
) -> None:
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
    pod = pods[0]["metadata"]["name"]
    print(f"\noperator pod available in {time.monotonic() - started:.1f}s")

    # The test process's operator stopped with the previous test: the pod is the only operator, and
    # it holds the Lease (the chart turns leader election on) under its own name.
    def holder() -> str:
        lease = platform.admin.get(LEASES, LEASE_NAME, NAMESPACE) or {}
        return str((lease.get("spec") or {}).get("holderIdentity") or "")

    wait_for(lambda: holder().startswith(f"{pod}_"), timeout=60, what=f"the pod {pod} to hold the Lease")
    resource, request = greeting_request("from-operator-pod")
    platform.admin.apply(resource, request)

    # ``kubectl logs`` through the API server and the kubelet stand-in: the pod's own lines about it.
    def pod_log() -> str:
        logs = subprocess.run(
            ["kubectl", "--kubeconfig", str(platform.plane.kubeconfig), "logs", "-n", NAMESPACE, pod],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert logs.returncode == 0, logs.stderr
        return logs.stdout

    started_line = "started configure pipeline configure for from-operator-pod"
    wait_for(lambda: started_line in pod_log(), timeout=120, what="the operator pod to start the pipeline")
    assert holder().startswith(f"{pod}_"), "the Lease changed hands while the request was reconciled"
    print(f"pipeline started by the operator pod {time.monotonic() - started:.1f}s after helm upgrade")

    # The pod's own Git writer (git in the image, the Secret's credentials) pushes the request's
    # Work to the Git server on the host (the pod shares the host's network), at Kratix's layout:
    # <destination path>/resources/<namespace>/<promise>/<request>/<pipeline>/<hash>/<file>.
    manifests = reconciled(platform, "from-operator-pod", tmp_path, apply=False)
    assert manifests, "the operator pod wrote no manifests of from-operator-pod to Git"
    for manifest in manifests:
        destination, resources, namespace, promise, name, pipeline, digest, *_ = manifest.parts
        where = (destination, resources, namespace, promise, name, pipeline)
        expected = ("worker-1", "resources", "default", "greeting", "from-operator-pod", "configure")
        assert where == expected, manifest
        assert re.fullmatch(r"[0-9a-f]{5,}", digest), manifest
    greeting = yaml.safe_load((tmp_path / "clone-from-operator-pod" / manifests[0]).read_text())
    assert greeting["kind"] == "ConfigMap", greeting
    log = pod_log()
    assert platform.git_password not in log, "the Git password reached the operator pod's log"
    print(f"the operator pod's Work in Git {time.monotonic() - started:.1f}s after helm upgrade")
