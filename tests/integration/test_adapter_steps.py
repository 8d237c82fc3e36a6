"""reader -> a Python "user container" -> work-writer -> status-writer, against the API emulator.

Each step runs in-process with the pod's volumes mapped to temporary directories, exactly as the
fast pod runner runs them, and talks to the emulator through the real ``kubernetes`` client.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import yaml

from kratix_py import sdk
from kratix_py.adapter.context import MountedContext
from kratix_py.adapter.kube import WORKS
from kratix_py.adapter.steps import run_container, run_step
from kratix_py.core.workloads import DEFAULT_GROUP_ID, decode_content
from kratix_py.kube import CRDS, NAMESPACES, Kube, Resource
from kratix_py.local_platform.emulator import Emulator
from kratix_py.local_platform.kubeconfig import write_kubeconfig

CRD_DIR = Path(__file__).resolve().parents[2] / "crds"
REDISES = Resource("marketplace.kratix.io", "v1alpha1", "redises", kind="Redis")

REQUEST_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "redises.marketplace.kratix.io"},
    "spec": {
        "group": "marketplace.kratix.io",
        "names": {"kind": "Redis", "plural": "redises", "singular": "redis", "listKind": "RedisList"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        },
                    }
                },
            }
        ],
    },
}

ENV = {
    "KRATIX_WORKFLOW_ACTION": "configure",
    "KRATIX_WORKFLOW_TYPE": "resource",
    "KRATIX_PROMISE_NAME": "redis",
    "KRATIX_PIPELINE_NAME": "instance",
    "KRATIX_OBJECT_KIND": "Redis",
    "KRATIX_OBJECT_GROUP": "marketplace.kratix.io",
    "KRATIX_OBJECT_VERSION": "v1alpha1",
    "KRATIX_OBJECT_NAME": "cache",
    "KRATIX_OBJECT_NAMESPACE": "team-a",
    "KRATIX_CRD_PLURAL": "redises",
    "KRATIX_CLUSTER_SCOPED": "false",
}
WORK_WRITER = [
    "pipeline-adapter",
    "work-writer",
    "--input-directory",
    "/work-creator-files",
    "--promise-name",
    "redis",
    "--pipeline-name",
    "instance",
    "--namespace",
    "team-a",
    "--workflow-type",
    "resource",
    "--resource-name",
    "cache",
]
WORK_LABELS = {
    "kratix.io/promise-name": "redis",
    "kratix.io/work-type": "resource",
    "kratix.io/pipeline-name": "instance",
    "kratix.io/resource-name": "cache",
}


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    emu = Emulator().start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def api_client(emulator: Emulator) -> kubernetes.client.ApiClient:
    configuration = kubernetes.client.Configuration()
    configuration.host = emulator.url
    configuration.api_key = {"authorization": "Bearer test"}
    return kubernetes.client.ApiClient(configuration)


@pytest.fixture
def kube(api_client: kubernetes.client.ApiClient) -> Kube:
    kube = Kube(api_client)
    for document in yaml.safe_load_all((CRD_DIR / "platform.kratix.io_works.yaml").read_text()):
        if document:
            kube.create(CRDS, document)
    kube.create(CRDS, REQUEST_CRD)
    kube.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
    request = kube.create(
        REDISES,
        {
            "apiVersion": "marketplace.kratix.io/v1alpha1",
            "kind": "Redis",
            "metadata": {"name": "cache", "namespace": "team-a"},
            "spec": {"size": "small"},
        },
    )
    # What the controller writes before starting the pipeline's Job.
    request["status"] = {
        "message": "Pending",
        "conditions": [
            {
                "type": "ConfigureWorkflowCompleted",
                "status": "False",
                "reason": "PipelinesInProgress",
                "message": "Pipelines are still in progress",
                "lastTransitionTime": "2024-01-01T00:00:00Z",
            },
            {
                "type": "Reconciled",
                "status": "Unknown",
                "reason": "WorkflowPending",
                "message": "",
                "lastTransitionTime": "2024-01-01T00:00:00Z",
            },
        ],
        "kratix": {"workflows": {"pipelines": [{"name": "instance", "phase": "Running"}]}},
    }
    kube.request("PUT", REDISES.path("team-a", "cache", "status"), body=request)
    return kube


class Pod:
    """The volumes of one pipeline pod, and contexts for its containers."""

    def __init__(self, root: Path, api_client: kubernetes.client.ApiClient) -> None:
        self.root = root
        self.api_client = api_client
        for volume in ("input", "output", "metadata", "kratix-system"):
            (root / volume).mkdir(parents=True)

    def context(self, **env: str) -> MountedContext:
        return MountedContext(
            env={**ENV, **env},
            mounts={
                "/kratix/input": self.root / "input",
                "/kratix/output": self.root / "output",
                "/kratix/metadata": self.root / "metadata",
                "/work-creator-files/input": self.root / "output",
                "/work-creator-files/metadata": self.root / "metadata",
                "/work-creator-files/kratix-system": self.root / "kratix-system",
            },
            api_client=self.api_client,
        )

    def run_user_container(self, monkeypatch: pytest.MonkeyPatch, container: Callable[[], None]) -> None:
        """Run a Python pipeline container that uses the SDK, with its mounts as the SDK's directories."""
        with monkeypatch.context() as patch:
            patch.setenv("INPUT_DIR", str(self.root / "input"))
            patch.setenv("OUTPUT_DIR", str(self.root / "output"))
            patch.setenv("METADATA_DIR", str(self.root / "metadata"))
            for key, value in ENV.items():
                patch.setenv(key, value)
            container()


def _configure_redis() -> None:
    """A typical pipeline: read the request, emit manifests, choose destinations, report status."""
    request = sdk.read_object()
    assert request.status["message"] == "Pending"  # the reader passed the status along
    size = request.get("spec.size")
    sdk.write_output(
        "redis.yaml",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": request.name}, "data": {"size": size}},
    )
    sdk.write_output(
        "db/secret.yaml",
        [
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"}},
            {"apiVersion": "v1", "kind": "Secret"},
        ],
    )
    sdk.write_destination_selectors([{"directory": "db", "matchLabels": {"tier": "data"}}])
    sdk.write_status(
        {
            "endpoint": f"{request.name}.{request.namespace}:6379",
            "conditions": [
                {"type": "RedisReady", "status": "True", "reason": "Provisioned", "message": "ok"}
            ],
        }
    )


def _works(kube: Kube) -> list[dict[str, Any]]:
    return kube.list(WORKS, "team-a", labels=WORK_LABELS)


def _request(kube: Kube) -> dict[str, Any]:
    request = kube.get(REDISES, "cache", "team-a")
    assert request is not None
    return request


def _run_pipeline(
    pod: Pod, monkeypatch: pytest.MonkeyPatch, container: Callable[[], None], **env: str
) -> list[int]:
    codes = [run_step(pod.context(), ["pipeline-adapter", "reader"])]
    pod.run_user_container(monkeypatch, container)
    codes.append(run_step(pod.context(), WORK_WRITER))
    codes.append(run_step(pod.context(IS_LAST_PIPELINE="true", **env), ["pipeline-adapter", "status-writer"]))
    return codes


def test_a_pipeline_run_produces_one_work_and_the_request_status(
    kube: Kube, api_client: kubernetes.client.ApiClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pod = Pod(tmp_path / "run-1", api_client)
    (pod.root / "kratix-system" / "promise-scheduling").write_text(
        "- matchlabels:\n    env: dev\n  source: promise\n"
    )
    assert _run_pipeline(pod, monkeypatch, _configure_redis) == [0, 0, 0]

    [work] = _works(kube)
    assert work["metadata"]["name"] == "redis-cache-instance"
    assert work["metadata"]["labels"] == WORK_LABELS
    assert work["spec"]["promiseName"] == "redis" and work["spec"]["resourceName"] == "cache"
    default, db = work["spec"]["workloadGroups"]
    assert (default["id"], default["directory"]) == (DEFAULT_GROUP_ID, ".")
    assert [w["filepath"] for w in default["workloads"]] == ["redis.yaml"]
    assert yaml.safe_load(decode_content(default["workloads"][0]["content"]))["data"] == {"size": "small"}
    assert default["destinationSelectors"] == [{"matchLabels": {"env": "dev"}, "source": "promise"}]
    assert [w["filepath"] for w in db["workloads"]] == ["db/secret.yaml"]
    assert db["destinationSelectors"] == [{"matchLabels": {"tier": "data"}, "source": "resource-workflow"}]

    status = _request(kube)["status"]
    assert status["endpoint"] == "cache.team-a:6379"
    assert status["message"] == "Resource requested"
    assert [c["type"] for c in status["conditions"]] == [
        "ConfigureWorkflowCompleted",
        "Reconciled",
        "RedisReady",
    ]
    completed = status["conditions"][0]
    # Still what the controller wrote: the pod's Job runs until the status-writer exits, and the
    # controller says "completed" once it sees the Job succeed.
    assert (completed["status"], completed["reason"]) == ("False", "PipelinesInProgress")
    assert status["kratix"]["workflows"]["pipelines"] == [{"name": "instance", "phase": "Running"}]


def test_a_second_run_updates_the_same_work(
    kube: Kube, api_client: kubernetes.client.ApiClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _run_pipeline(Pod(tmp_path / "run-1", api_client), monkeypatch, _configure_redis) == [0, 0, 0]
    [first] = _works(kube)

    def smaller() -> None:
        sdk.write_output("redis.yaml", {"apiVersion": "v1", "kind": "ConfigMap", "data": {"size": "tiny"}})

    assert _run_pipeline(Pod(tmp_path / "run-2", api_client), monkeypatch, smaller) == [0, 0, 0]
    [second] = _works(kube)
    assert second["metadata"]["uid"] == first["metadata"]["uid"]
    assert second["metadata"]["generation"] > first["metadata"]["generation"]
    [group] = second["spec"]["workloadGroups"]
    assert (
        decode_content(group["workloads"][0]["content"])
        == b"apiVersion: v1\nkind: ConfigMap\ndata:\n  size: tiny\n"
    )
    # the status.yaml of the first run stays; conditions keep their order
    status = _request(kube)["status"]
    assert status["endpoint"] == "cache.team-a:6379"
    assert [c["type"] for c in status["conditions"]] == [
        "ConfigureWorkflowCompleted",
        "Reconciled",
        "RedisReady",
    ]


def test_retry_after_leaves_the_work_and_suspends_the_request(
    kube: Kube, api_client: kubernetes.client.ApiClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _run_pipeline(Pod(tmp_path / "run-1", api_client), monkeypatch, _configure_redis) == [0, 0, 0]
    [before] = _works(kube)

    def not_ready() -> None:
        sdk.write_output("redis.yaml", {"apiVersion": "v1", "kind": "ConfigMap", "data": {"size": "changed"}})
        sdk.retry_after("5m", "database not ready")

    assert _run_pipeline(Pod(tmp_path / "run-2", api_client), monkeypatch, not_ready) == [0, 0, 0]
    [after] = _works(kube)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]

    request = _request(kube)
    assert request["metadata"]["labels"]["kratix.io/workflow-suspended"] == "true"
    workflows = request["status"]["kratix"]["workflows"]
    [pipeline] = workflows["pipelines"]
    assert (pipeline["phase"], pipeline["message"], pipeline["attempts"]) == (
        "Suspended",
        "database not ready",
        1,
    )
    assert pipeline["nextRetryAt"].endswith("Z")
    assert workflows["suspendedGeneration"] == request["metadata"]["generation"]


def test_invalid_output_fails_the_work_writer_and_keeps_the_previous_work(
    kube: Kube, api_client: kubernetes.client.ApiClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _run_pipeline(Pod(tmp_path / "run-1", api_client), monkeypatch, _configure_redis) == [0, 0, 0]
    [before] = _works(kube)

    pod = Pod(tmp_path / "run-2", api_client)
    assert run_step(pod.context(), ["reader"]) == 0
    (pod.root / "output" / "broken.yaml").write_text("kind: [ConfigMap\n")
    ctx = pod.context()
    assert run_step(ctx, WORK_WRITER) == 1
    assert ctx.lines[-1].startswith("work-writer failed: output file broken.yaml is not valid YAML")
    [after] = _works(kube)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_an_invalid_status_file_fails_the_status_writer_and_changes_nothing(
    kube: Kube, api_client: kubernetes.client.ApiClient, tmp_path: Path
) -> None:
    before = _request(kube)
    pod = Pod(tmp_path / "run", api_client)
    (pod.root / "metadata" / "status.yaml").write_text("kratix:\n  workflows: {}\n")
    ctx = pod.context(IS_LAST_PIPELINE="true")
    assert run_step(ctx, ["status-writer"]) == 1
    assert ctx.lines == [
        "status-writer failed: status.yaml: 'kratix' is a status field managed by kratix-py and cannot be set "
        "by a pipeline; remove the 'kratix' key from /kratix/metadata/status.yaml"
    ]
    assert _request(kube)["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_the_reader_reports_a_missing_object_clearly(
    api_client: kubernetes.client.ApiClient, tmp_path: Path, kube: Kube
) -> None:
    pod = Pod(tmp_path / "run", api_client)
    ctx = pod.context(KRATIX_OBJECT_NAME="gone")
    assert run_step(ctx, ["reader"]) == 1
    assert ctx.lines == [
        "reader failed: Redis team-a/gone does not exist (deleted while its pipeline was running?)"
    ]


# The command as a real container runs it: its own process, os.environ, $KUBECONFIG, stdout/stderr.
_COMMAND = (
    "import argparse, sys\n"
    "from kratix_py.adapter import cli\n"
    "parser = argparse.ArgumentParser(prog='kratix-py pipeline-adapter')\n"
    "cli.add_arguments(parser)\n"
    "sys.exit(cli.run(parser.parse_args(sys.argv[1:])))\n"
)


def _container(
    emulator: Emulator, tmp_path: Path, *argv: str, **env: str
) -> subprocess.CompletedProcess[str]:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", emulator.url)
    environment = {**os.environ, **ENV, "KUBECONFIG": str(kubeconfig), **env}
    return subprocess.run(
        [sys.executable, "-c", _COMMAND, *argv], env=environment, capture_output=True, text=True, timeout=60
    )


def test_the_command_runs_a_step_as_a_container_would(emulator: Emulator, kube: Kube, tmp_path: Path) -> None:
    result = _container(emulator, tmp_path, "reader", INPUT_DIR=str(tmp_path / "input"))
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load((tmp_path / "input" / "object.yaml").read_text())["spec"] == {"size": "small"}
    assert result.stdout.startswith("reader: wrote Redis team-a/cache to ")


def test_the_command_reports_failures_on_stderr(emulator: Emulator, kube: Kube, tmp_path: Path) -> None:
    result = _container(
        emulator, tmp_path, "reader", INPUT_DIR=str(tmp_path / "input"), KRATIX_OBJECT_NAME="gone"
    )
    assert result.returncode == 1
    assert (
        result.stderr
        == "reader failed: Redis team-a/gone does not exist (deleted while its pipeline was running?)\n"
    )


def test_the_fast_pod_runner_context_runs_the_adapter_image(
    emulator: Emulator, kube: Kube, tmp_path: Path
) -> None:
    from kratix_py.local_platform.podrunner_exec import StepContext

    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", emulator.url)
    ctx = StepContext(
        namespace="team-a",
        pod_name="kratix-redis-cache-instance-abcde",
        container_name="reader",
        image="kratix-py-adapter",
        env={**ENV, "KUBECONFIG": str(kubeconfig)},
        command=["kratix-py", "pipeline-adapter", "reader"],
        args=[],
        working_dir=None,
        api_url=emulator.url,
        mounts={"/kratix/input": tmp_path / "input"},
    )
    assert run_container(ctx) == 0
    assert yaml.safe_load((tmp_path / "input" / "object.yaml").read_text())["metadata"]["name"] == "cache"
    assert ctx.log_text().startswith("reader: wrote Redis team-a/cache to /kratix/input/object.yaml")


def test_a_work_the_api_server_refuses_as_too_large_is_named_with_its_size(
    kube: Kube, api_client: kubernetes.client.ApiClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With the work-writer's own limit raised past etcd's, the API server is the one to refuse (as
    # the emulator does, like kube-apiserver with etcd: 500 "etcdserver: request is too large").
    assert _run_pipeline(Pod(tmp_path / "run-1", api_client), monkeypatch, _configure_redis) == [0, 0, 0]
    [before] = _works(kube)
    pod = Pod(tmp_path / "run-2", api_client)
    assert run_step(pod.context(), ["reader"]) == 0
    blob = base64.b64encode(os.urandom(1_300_000)).decode()
    (pod.root / "output" / "big.yaml").write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  blob: {blob}\n"
    )
    ctx = pod.context(KRATIX_PY_MAX_WORK_BYTES="8Mi")
    assert run_step(ctx, WORK_WRITER) == 1
    assert ctx.lines[-1].startswith("work-writer failed: the API server refused the Work of "), ctx.lines[-1]
    assert "as too large (etcdserver: request is too large)" in ctx.lines[-1]
    [after] = _works(kube)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
