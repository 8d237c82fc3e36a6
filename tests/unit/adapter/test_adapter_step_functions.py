"""The adapter steps end to end against an in-memory stand-in for the API (the emulator test does the real thing)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from kratix_py.adapter import steps
from kratix_py.adapter.context import MountedContext
from kratix_py.adapter.kube import AdapterError
from kratix_py.adapter.params import ObjectRef
from kratix_py.core.workloads import DEFAULT_GROUP_ID, decode_content
from kratix_py.kube import KubeError

NOW = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)

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
WORK_ARGS = [
    "--promise-name",
    "redis",
    "--pipeline-name",
    "instance",
    "--namespace",
    "team-a",
    "--resource-name",
    "cache",
]


class FakeKube:
    def __init__(self, api: FakeApi) -> None:
        self.api = api

    def get(self, resource: Any, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return copy.deepcopy(self.api.works.get(name))


class FakeApi:
    """Enough of PipelineApi to exercise the steps: one request object and the Works of a namespace."""

    def __init__(self) -> None:
        self.object: dict[str, Any] = {
            "apiVersion": "marketplace.kratix.io/v1alpha1",
            "kind": "Redis",
            "metadata": {"name": "cache", "namespace": "team-a", "generation": 3, "resourceVersion": "1"},
            "spec": {"size": "small"},
            "status": {
                "message": "Pending",
                "kratix": {"workflows": {"pipelines": [{"name": "instance", "phase": "Running"}]}},
            },
        }
        self.works: dict[str, dict[str, Any]] = {}
        self.writes = 0
        self.status_conflicts = 0
        self.kube = FakeKube(self)

    def _bump(self, obj: dict[str, Any]) -> None:
        obj["metadata"]["resourceVersion"] = str(int(obj["metadata"].get("resourceVersion", "0")) + 1)
        self.writes += 1

    def get_object(self, ref: ObjectRef) -> dict[str, Any]:
        return copy.deepcopy(self.object)

    def add_labels(self, ref: ObjectRef, labels: dict[str, str]) -> dict[str, Any]:
        self.object["metadata"].setdefault("labels", {}).update(labels)
        self._bump(self.object)
        return copy.deepcopy(self.object)

    def replace_status(self, ref: ObjectRef, obj: dict[str, Any]) -> dict[str, Any]:
        if self.status_conflicts:
            self.status_conflicts -= 1
            self._bump(self.object)  # someone else wrote in between
        if obj["metadata"]["resourceVersion"] != self.object["metadata"]["resourceVersion"]:
            raise KubeError(409, "Conflict", "the object has been modified")
        self.object["status"] = copy.deepcopy(obj["status"])
        self._bump(self.object)
        return copy.deepcopy(self.object)

    def list_works(self, namespace: str, labels: dict[str, str]) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(work)
            for work in self.works.values()
            if all(work["metadata"].get("labels", {}).get(k) == v for k, v in labels.items())
        ]

    def create_work(self, work: dict[str, Any]) -> dict[str, Any]:
        name = work["metadata"]["name"]
        if name in self.works:
            raise KubeError(409, "AlreadyExists", f"works {name} already exists")
        stored = copy.deepcopy(work)
        stored["metadata"]["resourceVersion"] = "0"
        self._bump(stored)
        self.works[name] = stored
        return copy.deepcopy(stored)

    def replace_work(self, work: dict[str, Any]) -> dict[str, Any]:
        current = self.works[work["metadata"]["name"]]
        if current["metadata"]["resourceVersion"] != work["metadata"]["resourceVersion"]:
            raise KubeError(409, "Conflict", "the object has been modified")
        stored = copy.deepcopy(work)
        self._bump(stored)
        self.works[work["metadata"]["name"]] = stored
        return copy.deepcopy(stored)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    fake = FakeApi()
    monkeypatch.setattr(steps, "connect", lambda ctx: None)
    monkeypatch.setattr(steps, "PipelineApi", lambda kube: fake)
    return fake


@pytest.fixture
def pod(tmp_path: Path) -> Path:
    for volume in ("input", "output", "metadata", "scheduling"):
        (tmp_path / volume).mkdir()
    return tmp_path


def _ctx(pod: Path, args: list[str] | None = None, **env: str) -> MountedContext:
    return MountedContext(
        env={**ENV, **env},
        mounts={
            "/kratix/input": pod / "input",
            "/work-creator-files/input": pod / "output",
            "/work-creator-files/metadata": pod / "metadata",
            "/work-creator-files/kratix-system": pod / "scheduling",
        },
        args=args or [],
    )


def _clock() -> datetime:
    return NOW


# -- reader ----------------------------------------------------------------------------------------


def test_reader_writes_the_object_with_its_status(api: FakeApi, pod: Path) -> None:
    ctx = _ctx(pod)
    assert steps.reader(ctx) == 0
    written = (pod / "input" / "object.yaml").read_text()
    assert yaml.safe_load(written) == api.object
    assert written == steps.dump_object_yaml(api.object)  # sorted, stable
    assert ctx.lines == [
        f"reader: wrote Redis team-a/cache to /kratix/input/object.yaml ({len(written)} bytes)"
    ]


def test_reader_without_its_environment_fails_with_the_missing_variable(api: FakeApi, pod: Path) -> None:
    ctx = MountedContext(env={}, mounts={"/kratix/input": pod / "input"})
    assert steps.reader(ctx) == 1
    assert ctx.lines == [
        "reader failed: KRATIX_OBJECT_VERSION is not set; the pipeline adapter runs inside a pipeline pod, "
        "where kratix-py sets it"
    ]


# -- work-writer -----------------------------------------------------------------------------------


def test_work_writer_creates_one_work_then_updates_it(api: FakeApi, pod: Path) -> None:
    (pod / "output" / "db").mkdir()
    (pod / "output" / "db" / "schema.yaml").write_text("apiVersion: db.example/v1\nkind: Schema\n")
    (pod / "output" / "deployment.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\n")
    (pod / "metadata" / "destination-selectors.yaml").write_text(
        "- directory: db/\n  matchLabels: {tier: data}\n"
    )
    (pod / "scheduling" / "promise-scheduling").write_text("- matchlabels: {env: dev}\n  source: promise\n")
    ctx = _ctx(pod, WORK_ARGS)
    assert steps.work_writer(ctx, clock=_clock) == 0
    assert list(api.works) == ["redis-cache-instance"]
    work = api.works["redis-cache-instance"]
    groups = work["spec"]["workloadGroups"]
    assert [(g["directory"], [w["filepath"] for w in g["workloads"]]) for g in groups] == [
        (".", ["deployment.yaml"]),
        ("db", ["db/schema.yaml"]),
    ]
    assert groups[0]["id"] == DEFAULT_GROUP_ID
    assert groups[0]["destinationSelectors"] == [{"matchLabels": {"env": "dev"}, "source": "promise"}]
    assert groups[1]["destinationSelectors"] == [
        {"matchLabels": {"tier": "data"}, "source": "resource-workflow"}
    ]
    assert (
        ctx.lines[-1]
        == "work-writer: created Work team-a/redis-cache-instance with 2 workload group(s) and 2 file(s)"
    )

    (pod / "output" / "deployment.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nreplicas: 2\n")
    assert steps.work_writer(ctx, clock=_clock) == 0
    assert list(api.works) == ["redis-cache-instance"]
    default = api.works["redis-cache-instance"]["spec"]["workloadGroups"][0]
    assert (
        decode_content(default["workloads"][0]["content"])
        == b"apiVersion: apps/v1\nkind: Deployment\nreplicas: 2\n"
    )
    assert ctx.lines[-1].startswith("work-writer: updated Work team-a/redis-cache-instance")


def test_invalid_output_fails_and_leaves_the_previous_work_untouched(api: FakeApi, pod: Path) -> None:
    (pod / "output" / "ok.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n")
    assert steps.work_writer(_ctx(pod, WORK_ARGS), clock=_clock) == 0
    before = copy.deepcopy(api.works)
    (pod / "output" / "broken.yaml").write_text("a: [1,\n")
    ctx = _ctx(pod, WORK_ARGS)
    assert steps.work_writer(ctx, clock=_clock) == 1
    assert ctx.lines[-1].startswith("work-writer failed: output file broken.yaml is not valid YAML")
    assert api.works == before


def test_invalid_selectors_fail_naming_file_and_entry(api: FakeApi, pod: Path) -> None:
    (pod / "metadata" / "destination-selectors.yaml").write_text("- directory: a/b\n  matchLabels: {x: y}\n")
    ctx = _ctx(pod, WORK_ARGS)
    assert steps.work_writer(ctx, clock=_clock) == 1
    assert ctx.lines[-1].startswith("work-writer failed: destination-selectors.yaml entry 0: directory 'a/b'")
    assert api.writes == 0


def test_the_legacy_selectors_file_is_read_when_the_new_one_is_absent(api: FakeApi, pod: Path) -> None:
    (pod / "output" / "a.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n")
    (pod / "metadata" / "destination.yaml").write_text("- matchLabels: {legacy: 'yes'}\n")
    assert steps.work_writer(_ctx(pod, WORK_ARGS), clock=_clock) == 0
    [group] = api.works["redis-cache-instance"]["spec"]["workloadGroups"]
    assert group["destinationSelectors"] == [
        {"matchLabels": {"legacy": "yes"}, "source": "resource-workflow"}
    ]


@pytest.mark.parametrize("control", ["suspend: true\n", "retryAfter: 5m\n"])
def test_suspend_or_retry_skips_the_work(api: FakeApi, pod: Path, control: str) -> None:
    (pod / "output" / "a.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n")
    (pod / "metadata" / "workflow-control.yaml").write_text(control)
    ctx = _ctx(pod, WORK_ARGS)
    assert steps.work_writer(ctx, clock=_clock) == 0
    assert api.works == {}
    assert "leaving the Work untouched" in ctx.lines[-1]


def test_a_name_taken_by_another_pipelines_work_falls_back_to_the_hashed_name(
    api: FakeApi, pod: Path
) -> None:
    api.works["redis-cache-instance"] = {
        "metadata": {"name": "redis-cache-instance", "labels": {"other": "x"}, "resourceVersion": "1"}
    }
    assert steps.work_writer(_ctx(pod, WORK_ARGS), clock=_clock) == 0
    [created] = [name for name in api.works if name != "redis-cache-instance"]
    assert created.startswith("redis-cache-instance-") and len(created) == len("redis-cache-instance-") + 5


def test_two_works_for_the_same_pipeline_is_an_error_naming_them(api: FakeApi, pod: Path) -> None:
    labels = {
        "kratix.io/promise-name": "redis",
        "kratix.io/work-type": "resource",
        "kratix.io/pipeline-name": "instance",
        "kratix.io/resource-name": "cache",
    }
    for name in ("w1", "w2"):
        api.works[name] = {"metadata": {"name": name, "labels": labels, "resourceVersion": "1"}}
    ctx = _ctx(pod, WORK_ARGS)
    assert steps.work_writer(ctx, clock=_clock) == 1
    assert "found 2 Works for this pipeline in namespace team-a (w1, w2)" in ctx.lines[-1]


def test_a_dry_run_work_is_never_overwritten_by_a_real_run(api: FakeApi, pod: Path) -> None:
    (pod / "output" / "a.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n")
    assert steps.work_writer(_ctx(pod, WORK_ARGS, KRATIX_DRY_RUN="true"), clock=_clock) == 0
    [dry] = api.works.values()
    assert dry["metadata"]["labels"]["kratix.io/dry-run"] == "true"
    assert steps.work_writer(_ctx(pod, WORK_ARGS), clock=_clock) == 0
    assert len(api.works) == 2


def test_resource_workflows_need_the_resource_name(api: FakeApi, pod: Path) -> None:
    ctx = _ctx(pod, ["--promise-name", "redis", "--pipeline-name", "instance"])
    assert steps.work_writer(ctx, clock=_clock) == 1
    assert ctx.lines == ["work-writer failed: --resource-name is required for resource workflows"]


# -- status-writer ---------------------------------------------------------------------------------


def test_status_writer_merges_and_leaves_completion_to_the_operator(api: FakeApi, pod: Path) -> None:
    (pod / "metadata" / "status.yaml").write_text("endpoint: cache.team-a:6379\n")
    api.status_conflicts = 1  # the controller writes between our read and write: we merge again
    ctx = _ctx(pod, IS_LAST_PIPELINE="true")
    assert steps.status_writer(ctx, clock=_clock) == 0
    status = api.object["status"]
    assert status["endpoint"] == "cache.team-a:6379"
    assert status["message"] == "Resource requested"
    # The Job still runs: completion is the operator's to say once it sees the Job succeed.
    assert not any(c["type"] == "ConfigureWorkflowCompleted" for c in status.get("conditions") or [])
    assert status["kratix"]["workflows"]["pipelines"] == [{"name": "instance", "phase": "Running"}]
    assert ctx.lines[-1] == "status-writer: updated the status of Redis team-a/cache"


def test_status_writer_labels_a_suspended_object(api: FakeApi, pod: Path) -> None:
    (pod / "metadata" / "workflow-control.yaml").write_text("suspend: true\nmessage: approve me\n")
    ctx = _ctx(pod, IS_LAST_PIPELINE="true")
    assert steps.status_writer(ctx, clock=_clock) == 0
    assert api.object["metadata"]["labels"] == {"kratix.io/workflow-suspended": "true"}
    pipeline = api.object["status"]["kratix"]["workflows"]["pipelines"][0]
    assert pipeline == {"name": "instance", "phase": "Suspended", "message": "approve me"}
    assert api.object["status"]["kratix"]["workflows"]["suspendedGeneration"] == 3
    assert "conditions" not in api.object["status"]
    assert "status-writer: labelled Redis team-a/cache kratix.io/workflow-suspended=true" in ctx.lines


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "kratix: {}\n",
            "status-writer failed: status.yaml: 'kratix' is a status field managed by kratix-py",
        ),
        ("[1, 2]\n", "status-writer failed: status.yaml must be a map of status fields"),
        ("message: 'unterminated\n", "status-writer failed: status.yaml is not valid YAML"),
    ],
)
def test_invalid_status_files_fail_before_writing_anything(
    api: FakeApi, pod: Path, text: str, message: str
) -> None:
    (pod / "metadata" / "status.yaml").write_text(text)
    ctx = _ctx(pod)
    assert steps.status_writer(ctx, clock=_clock) == 1
    assert ctx.lines[-1].startswith(message)
    assert api.writes == 0


def test_status_writer_gives_up_after_repeated_conflicts(api: FakeApi, pod: Path) -> None:
    api.status_conflicts = 100
    ctx = _ctx(pod)
    assert steps.status_writer(ctx, clock=_clock) == 1
    assert "kept changing while we wrote it; gave up after 5 attempts" in ctx.lines[-1]


# -- dispatch --------------------------------------------------------------------------------------


def test_run_step_accepts_a_container_command_line(api: FakeApi, pod: Path) -> None:
    ctx = _ctx(pod)
    assert steps.run_step(ctx, ["pipeline-adapter", "work-creator", *WORK_ARGS]) == 0
    assert "redis-cache-instance" in api.works
    assert steps.run_step(ctx, ["update-status"]) == 0
    assert steps.run_step(ctx, ["/usr/local/bin/kratix-py", "pipeline-adapter", "status-writer"]) == 0


def test_run_step_reports_usage_errors_with_exit_code_2(pod: Path) -> None:
    ctx = _ctx(pod)
    assert steps.run_step(ctx, []) == 2
    assert steps.run_step(ctx, ["frobnicate"]) == 2
    assert steps.run_step(ctx, ["reader", "--what"]) == 2
    assert ctx.lines == [
        "pipeline-adapter: no step given; choose reader, work-writer or status-writer",
        "pipeline-adapter: unknown pipeline-adapter step 'frobnicate'; choose one of reader, work-writer, status-writer",
        "pipeline-adapter: unknown arguments for reader: --what",
    ]


def test_unexpected_api_errors_are_not_swallowed_as_user_errors() -> None:
    assert AdapterError in steps._EXPECTED_ERRORS
    assert RuntimeError not in steps._EXPECTED_ERRORS
