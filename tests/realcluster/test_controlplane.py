"""The real control plane itself: RBAC is enforced, the real Job controller drives Jobs whose pods
the kubelet stand-in runs, and a pod's API permissions are exactly its ServiceAccount's."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import kubernetes
import pytest
from kubernetes.client import ApiException

from kratix_py.local_platform.controlplane import ControlPlane

pytestmark = [pytest.mark.real_cluster, pytest.mark.slow]

T = TypeVar("T")


def eventually(check: Callable[[], T], timeout: float = 60.0, message: str = "condition not met") -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.2)


@pytest.fixture
def namespace(control_plane: ControlPlane) -> Iterator[str]:
    name = f"cp-{uuid.uuid4().hex[:8]}"
    with control_plane.api_client() as client:
        core = kubernetes.client.CoreV1Api(client)
        core.create_namespace({"metadata": {"name": name}})
        # The token controller gives every namespace its ``default`` ServiceAccount, asynchronously.
        eventually(lambda: _exists(lambda: core.read_namespaced_service_account("default", name)))
        yield name
        core.delete_namespace(name)


def _exists(read: Callable[[], Any]) -> bool:
    try:
        read()
        return True
    except ApiException as error:
        if error.status == 404:
            return False
        raise


def test_admin_certificate_and_rbac_for_a_service_account(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    with control_plane.api_client() as admin:
        core = kubernetes.client.CoreV1Api(admin)
        core.create_namespaced_service_account(namespace, {"metadata": {"name": "reader"}})
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "visible"}, "data": {"a": "1"}})
        kubernetes.client.RbacAuthorizationV1Api(admin).create_namespaced_role(
            namespace,
            {
                "metadata": {"name": "read-configmaps"},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
            },
        )
        kubernetes.client.RbacAuthorizationV1Api(admin).create_namespaced_role_binding(
            namespace,
            {
                "metadata": {"name": "reader"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "read-configmaps",
                },
                "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}],
            },
        )
    config = control_plane.token_kubeconfig(tmp_path / "reader.kubeconfig", namespace, "reader")
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    with kubernetes.config.new_client_from_config(config_file=str(config)) as reader:
        core = kubernetes.client.CoreV1Api(reader)
        assert core.read_namespaced_config_map("visible", namespace).data == {"a": "1"}
        with pytest.raises(ApiException) as denied:
            core.list_namespaced_secret(namespace)
        assert denied.value.status == 403
        assert f"system:serviceaccount:{namespace}:reader" in str(denied.value.body)


def _job(name: str, image: str, script: str, service_account: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "serviceAccountName": service_account,
                    "containers": [
                        {
                            "name": "main",
                            "image": image,
                            "imagePullPolicy": "Never",
                            "command": ["python3", "-c", script],
                        }
                    ],
                }
            },
        },
    }


def _finished(batch: kubernetes.client.BatchV1Api, namespace: str, name: str) -> str:
    job = batch.read_namespaced_job(name, namespace)
    for condition in job.status.conditions or []:
        if condition.type in ("Complete", "Failed") and condition.status == "True":
            return str(condition.type)
    return ""


def test_the_job_controller_drives_a_job_the_node_runs(
    control_plane: ControlPlane, namespace: str, base_image: str
) -> None:
    with control_plane.api_client() as admin:
        batch = kubernetes.client.BatchV1Api(admin)
        batch.create_namespaced_job(namespace, _job("hello", base_image, "print('hello from the node')"))
        outcome = eventually(lambda: _finished(batch, namespace, "hello"), 120, "the Job did not finish")
        assert outcome == "Complete"
        pods = kubernetes.client.CoreV1Api(admin).list_namespaced_pod(
            namespace, label_selector="job-name=hello"
        )
        assert len(pods.items) == 1
        pod = pods.items[0]
        assert pod.spec.node_name == control_plane.node_name
        assert pod.status.phase == "Succeeded"
        assert pod.status.container_statuses[0].state.terminated.exit_code == 0
        # ``kubectl logs``: the API server proxies pods/log to the stand-in's kubelet log endpoint.
        log = kubernetes.client.CoreV1Api(admin).read_namespaced_pod_log(pod.metadata.name, namespace)
        assert log == "hello from the node\n"


# The pipeline's view: in-cluster configuration (service host/port env, the projected token and CA).
_PROBE = """
import json, os, ssl, urllib.request, urllib.error
sa = "/var/run/secrets/kubernetes.io/serviceaccount"
token = open(sa + "/token").read()
ns = open(sa + "/namespace").read()
ctx = ssl.create_default_context(cafile=sa + "/ca.crt")
base = "https://%s:%s" % (os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"])
result = {}
for kind in ("configmaps", "secrets"):
    request = urllib.request.Request(base + "/api/v1/namespaces/%s/%s" % (ns, kind),
                                     headers={"Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(request, context=ctx) as answer:
            result[kind] = answer.status
    except urllib.error.HTTPError as error:
        result[kind] = error.code
print(json.dumps(result))
raise SystemExit(0 if result == {"configmaps": 200, "secrets": 403} else 1)
"""


def test_a_pod_has_exactly_its_service_accounts_permissions(
    control_plane: ControlPlane, namespace: str, base_image: str
) -> None:
    with control_plane.api_client() as admin:
        core = kubernetes.client.CoreV1Api(admin)
        rbac = kubernetes.client.RbacAuthorizationV1Api(admin)
        core.create_namespaced_service_account(namespace, {"metadata": {"name": "pipeline"}})
        rbac.create_namespaced_role(
            namespace,
            {
                "metadata": {"name": "pipeline"},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}],
            },
        )
        rbac.create_namespaced_role_binding(
            namespace,
            {
                "metadata": {"name": "pipeline"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pipeline"},
                "subjects": [{"kind": "ServiceAccount", "name": "pipeline", "namespace": namespace}],
            },
        )
        batch = kubernetes.client.BatchV1Api(admin)
        batch.create_namespaced_job(namespace, _job("probe", base_image, _PROBE, service_account="pipeline"))
        outcome = eventually(
            lambda: _finished(batch, namespace, "probe"), 120, "the probe Job did not finish"
        )
        pod = core.list_namespaced_pod(namespace, label_selector="job-name=probe").items[0]
        log = core.read_namespaced_pod_log(pod.metadata.name, namespace, container="main", tail_lines=1)
        printed = json.loads(log)
        assert printed == {"configmaps": 200, "secrets": 403}
        assert outcome == "Complete"


def test_deleting_a_job_removes_its_pods(
    control_plane: ControlPlane, namespace: str, base_image: str
) -> None:
    with control_plane.api_client() as admin:
        batch = kubernetes.client.BatchV1Api(admin)
        core = kubernetes.client.CoreV1Api(admin)
        batch.create_namespaced_job(namespace, _job("sleeper", base_image, "import time; time.sleep(300)"))

        def running() -> bool:
            pods = core.list_namespaced_pod(namespace, label_selector="job-name=sleeper").items
            return bool(pods) and pods[0].status.phase == "Running"

        eventually(running, 120, "the sleeper pod never ran")
        batch.delete_namespaced_job("sleeper", namespace, propagation_policy="Foreground")
        # The garbage collector deletes the pod, the stand-in kills its container and confirms.
        eventually(
            lambda: not core.list_namespaced_pod(namespace, label_selector="job-name=sleeper").items,
            60,
            "the Job's pod was not removed",
        )
        eventually(lambda: not _exists(lambda: batch.read_namespaced_job("sleeper", namespace)), 60)
