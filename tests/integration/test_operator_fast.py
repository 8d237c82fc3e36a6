"""The operator end to end on the local platform, with pipelines as in-process steps (fast mode).

Promise -> request CRD -> request -> two pipelines -> Work -> status, plus reruns, failures and
deletion. The same flows with real containers live in test_operator_containers.py.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.core import conditions as cond
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.operator import resources as r
from kratix_py.testing.fixtures import ADAPTER_IMAGE, wait_for

GROUP = "test.kratix.io"
REDIS = k.Resource(GROUP, "v1alpha1", "redises", True, "Redis")


def promise_body(*pipelines: str, delete: str | None = None, name: str = "redis") -> dict[str, Any]:
    def pipeline(pipeline_name: str) -> dict[str, Any]:
        return {
            "apiVersion": "platform.kratix.io/v1alpha1",
            "kind": "Pipeline",
            "metadata": {"name": pipeline_name},
            "spec": {"containers": [{"name": "main", "image": f"test/{pipeline_name}:v1"}]},
        }

    workflows: dict[str, Any] = {"resource": {"configure": [pipeline(p) for p in pipelines]}}
    if delete:
        workflows["resource"]["delete"] = [pipeline(delete)]
    return {
        "apiVersion": "platform.kratix.io/v1alpha1",
        "kind": "Promise",
        "metadata": {"name": name},
        "spec": {
            "api": {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": f"redises.{GROUP}"},
                "spec": {
                    "group": GROUP,
                    "names": {"kind": "Redis", "plural": "redises", "singular": "redis"},
                    "scope": "Namespaced",
                    "versions": [
                        {
                            "name": "v1alpha1",
                            "served": True,
                            "storage": True,
                            "schema": {
                                "openAPIV3Schema": {
                                    "type": "object",
                                    "properties": {
                                        "spec": {
                                            "type": "object",
                                            "properties": {
                                                "size": {
                                                    "type": "string",
                                                    "enum": ["small", "large"],
                                                    "default": "small",
                                                }
                                            },
                                        }
                                    },
                                }
                            },
                        }
                    ],
                },
            },
            "workflows": workflows,
        },
    }


def request_body(name: str = "my-redis", size: str = "small") -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "Redis",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"size": size},
    }


class Recorder:
    """Pipeline steps as Python callables that record what they saw."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, dict[str, Any]]] = []
        self.fail_next: set[str] = set()

    def step(self, name: str, body: Callable[[Any, dict[str, Any]], None]) -> Callable[[Any], int]:
        def run(ctx: Any) -> int:
            obj = yaml.safe_load((ctx.path("/kratix/input") / "object.yaml").read_text())
            self.runs.append((name, obj))
            if name in self.fail_next:
                self.fail_next.discard(name)
                ctx.log(f"{name}: database quota exceeded")
                return 3
            body(ctx, obj)
            return 0

        return run

    def count(self, name: str) -> int:
        return sum(1 for run, _ in self.runs if run == name)


def first(ctx: Any, obj: dict[str, Any]) -> None:
    out = ctx.path("/kratix/output")
    (out / "redis.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v1", "kind": "Redis", "size": obj["spec"]["size"]})
    )
    (out / "monitoring").mkdir()
    (out / "monitoring" / "dashboard.yaml").write_text("apiVersion: v1\nkind: Dashboard\n")
    meta = ctx.path("/kratix/metadata")
    (meta / "destination-selectors.yaml").write_text(
        yaml.safe_dump([{"directory": "monitoring", "matchLabels": {"team": "observability"}}])
    )
    (meta / "status.yaml").write_text(yaml.safe_dump({"message": "first done", "endpoint": "redis:6379"}))


def second(ctx: Any, obj: dict[str, Any]) -> None:
    meta = ctx.path("/kratix/metadata")
    endpoint = obj.get("status", {}).get("endpoint")
    (meta / "status.yaml").write_text(yaml.safe_dump({"sawEndpoint": endpoint}))
    (ctx.path("/kratix/output") / "config.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n")


def teardown(ctx: Any, obj: dict[str, Any]) -> None:
    ctx.log("tearing down")


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def system(platform_factory, recorder) -> Iterator[tuple[k.Kube, RunningOperator]]:
    steps = {
        "test/first:v1": recorder.step("first", first),
        "test/second:v1": recorder.step("second", second),
        "test/teardown:v1": recorder.step("teardown", teardown),
    }
    platform = platform_factory(pods="fast", steps=steps)
    kube = k.Kube(platform.api_client())
    settings = settings_for(str(platform.kubeconfig), pipeline_adapter_image=ADAPTER_IMAGE)
    with RunningOperator(settings) as operator:
        yield kube, operator


def condition(obj: dict[str, Any] | None, condition_type: str) -> dict[str, Any] | None:
    found = cond.find(((obj or {}).get("status") or {}).get("conditions"), condition_type)
    return dict(found) if found else None


def is_true(obj: dict[str, Any] | None, condition_type: str) -> bool:
    found = condition(obj, condition_type)
    return bool(found and found["status"] == "True")


def install(kube: k.Kube, body: dict[str, Any]) -> dict[str, Any]:
    kube.create(r.PROMISES, body)
    return wait_for(
        lambda: (
            (p := kube.get(r.PROMISES, body["metadata"]["name"]))
            and p.get("status", {}).get("status") == "Available"
            and p
        ),
        what="the Promise to become Available",
    )


def completed(kube: k.Kube, name: str = "my-redis") -> dict[str, Any]:
    return wait_for(
        lambda: (
            (o := kube.get(REDIS, name, "default"))
            and is_true(o, "ConfigureWorkflowCompleted")
            and o["status"].get("workflowsSucceeded") == o["status"].get("workflows")
            and o
        ),
        what="the request's configure workflow to complete",
    )


@pytest.mark.both_servers
def test_a_request_runs_both_pipelines_in_order_and_gets_kratix_status(system, recorder):
    kube, _ = system
    promise = install(kube, promise_body("first", "second"))
    assert promise["status"]["kind"] == "Redis" and promise["status"]["apiVersion"] == f"{GROUP}/v1alpha1"
    crd = kube.get(k.CRDS, f"redises.{GROUP}")
    assert crd["metadata"]["labels"][c.LABEL_PROMISE_NAME] == "redis"

    kube.create(REDIS, request_body())
    obj = completed(kube)
    assert [name for name, _ in recorder.runs] == ["first", "second"]
    second_input = recorder.runs[1][1]
    assert second_input["status"]["endpoint"] == "redis:6379", "the second pipeline sees the first's status"
    assert obj["status"]["sawEndpoint"] == "redis:6379"
    assert obj["status"]["message"] == "first done"
    assert obj["status"]["workflows"] == 2 and obj["status"]["workflowsSucceeded"] == 2
    assert obj["status"]["workflowsFailed"] == 0
    assert [p["phase"] for p in obj["status"]["kratix"]["workflows"]["pipelines"]] == [
        "Succeeded",
        "Succeeded",
    ]
    assert set(obj["metadata"]["finalizers"]) >= set(c.RESOURCE_REQUEST_FINALIZERS)
    assert obj["metadata"]["labels"][c.LABEL_PROMISE_NAME] == "redis"

    works = kube.list(r.WORKS, "default", labels={c.LABEL_RESOURCE_NAME: "my-redis"})
    by_pipeline = {w["metadata"]["labels"][c.LABEL_PIPELINE_NAME]: w for w in works}
    assert set(by_pipeline) == {"first", "second"}
    groups = by_pipeline["first"]["spec"]["workloadGroups"]
    assert [g["directory"] for g in groups] == [".", "monitoring"]
    monitoring = groups[1]
    assert monitoring["destinationSelectors"] == [
        {"matchLabels": {"team": "observability"}, "source": "resource-workflow"}
    ]
    assert [w["filepath"] for w in monitoring["workloads"]] == ["monitoring/dashboard.yaml"]

    jobs = kube.list(k.JOBS, "default", labels={c.LABEL_RESOURCE_NAME: "my-redis"})
    assert len(jobs) == 2


def test_unchanged_requests_start_nothing_spec_changes_and_the_manual_label_rerun_once(system, recorder):
    kube, operator = system
    install(kube, promise_body("first", "second"))
    kube.create(REDIS, request_body())
    completed(kube)
    assert recorder.count("first") == 1

    # No change: reconciling again (here: an operator restart) runs nothing.
    operator.restart()
    completed(kube)
    wait_for(lambda: operator.operator.queue.idle(), what="the queue to settle")
    assert recorder.count("first") == 1 and recorder.count("second") == 1

    kube.patch(REDIS, "my-redis", {"spec": {"size": "large"}}, "default")
    wait_for(lambda: recorder.count("second") == 2, what="the rerun after a spec change")
    obj = completed(kube)
    assert recorder.count("first") == 2
    assert recorder.runs[-2][1]["spec"]["size"] == "large"

    kube.patch(
        REDIS, "my-redis", {"metadata": {"labels": {c.LABEL_MANUAL_RECONCILIATION: "true"}}}, "default"
    )
    wait_for(lambda: recorder.count("second") == 3, what="the manual rerun")
    obj = completed(kube)
    assert c.LABEL_MANUAL_RECONCILIATION not in obj["metadata"].get("labels", {})
    assert recorder.count("first") == 3


def test_a_failing_pipeline_stops_the_chain_reports_the_container_message_and_recovers(system, recorder):
    kube, _ = system
    install(kube, promise_body("first", "second"))
    recorder.fail_next.add("first")
    kube.create(REDIS, request_body())
    failed = wait_for(
        lambda: (
            (o := kube.get(REDIS, "my-redis", "default"))
            and (cd := condition(o, "ConfigureWorkflowCompleted"))
            and cd["reason"] == "ConfigureWorkflowFailed"
            and o
        ),
        what="the failure to be reported",
    )
    message = condition(failed, "ConfigureWorkflowCompleted")["message"]
    assert "pipeline first" in message and "database quota exceeded" in message
    assert condition(failed, "Reconciled")["status"] == "False"
    assert failed["status"]["workflowsFailed"] == 1
    assert recorder.count("second") == 0
    events = kube.list(k.EVENTS, "default")
    assert any(e["reason"] == "PipelineFailed" and "quota" in e["message"] for e in events)

    # The retry (after the backoff) succeeds and the chain goes on.
    completed(kube)
    assert recorder.count("first") == 2 and recorder.count("second") == 1


@pytest.mark.both_servers
def test_deleting_a_request_runs_its_delete_pipeline_and_removes_its_works(system, recorder):
    kube, _ = system
    install(kube, promise_body("first", delete="teardown"))
    kube.create(REDIS, request_body())
    completed(kube)
    assert kube.list(r.WORKS, "default", labels={c.LABEL_RESOURCE_NAME: "my-redis"})

    kube.delete(REDIS, "my-redis", "default")
    wait_for(lambda: kube.get(REDIS, "my-redis", "default") is None, what="the request to go")
    assert recorder.count("teardown") == 1
    teardown_input = next(obj for name, obj in recorder.runs if name == "teardown")
    assert teardown_input["metadata"]["name"] == "my-redis"
    assert kube.list(r.WORKS, "default", labels={c.LABEL_RESOURCE_NAME: "my-redis"}) == []
    assert kube.list(k.JOBS, "default", labels={c.LABEL_RESOURCE_NAME: "my-redis"}) == []


@pytest.mark.both_servers
def test_a_request_violating_the_schema_is_rejected_by_the_api_with_the_field_named(system):
    kube, _ = system
    install(kube, promise_body("first"))
    with pytest.raises(k.KubeError) as error:
        kube.create(REDIS, request_body(size="huge"))
    assert error.value.status == 422 and "spec.size" in error.value.message


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda b: b["spec"]["api"]["spec"].update(scope="Cluster"), "Namespaced"),
        (lambda b: b["spec"]["api"].update(kind="ConfigMap"), "CustomResourceDefinition"),
        (lambda b: b["spec"]["api"]["spec"]["versions"][0].pop("schema"), "schema"),
    ],
)
def test_bad_promises_get_a_condition_naming_the_problem_and_install_nothing(system, mutate, expected):
    kube, _ = system
    body = promise_body("first")
    mutate(body)
    try:
        kube.create(r.PROMISES, body)
    except k.KubeError as error:  # the CRD schema may already refuse it: an API error naming the field
        assert error.status == 422
        return
    promise = wait_for(
        lambda: (p := kube.get(r.PROMISES, "redis")) and condition(p, "Available") and p,
        what="a condition on the bad Promise",
    )
    available = condition(promise, "Available")
    assert available["status"] == "False" and expected in available["message"]
    assert kube.get(k.CRDS, f"redises.{GROUP}") is None


def test_two_promises_cannot_provide_the_same_kind(system):
    kube, _ = system
    install(kube, promise_body("first"))
    other = copy.deepcopy(promise_body("first", name="redis-copy"))
    kube.create(r.PROMISES, other)
    promise = wait_for(
        lambda: (p := kube.get(r.PROMISES, "redis-copy")) and condition(p, "Available") and p,
        what="the conflict to be reported",
    )
    assert condition(promise, "Available")["reason"] == "APIConflict"
    assert "already provided by Promise redis" in condition(promise, "Available")["message"]


@pytest.mark.both_servers
def test_deleting_a_promise_deletes_its_requests_first_then_its_crd(system, recorder):
    kube, _ = system
    install(kube, promise_body("first", delete="teardown"))
    kube.create(REDIS, request_body())
    completed(kube)
    kube.delete(r.PROMISES, "redis")
    wait_for(lambda: kube.get(r.PROMISES, "redis") is None, what="the Promise to go")
    assert recorder.count("teardown") == 1, "the request's delete pipeline ran before the Promise went"
    assert kube.get(k.CRDS, f"redises.{GROUP}") is None
    assert kube.list(r.WORKS, None, labels={c.LABEL_PROMISE_NAME: "redis"}) == []
    assert kube.list(k.SERVICEACCOUNTS, None, labels={c.LABEL_PROMISE_NAME: "redis"}) == []


@pytest.mark.both_servers
def test_the_operator_grants_itself_access_to_each_request_kind_and_drops_it_with_the_promise(system):
    kube, _ = system
    install(kube, promise_body("first"))
    role = kube.get(k.CLUSTERROLES, "redis-promise-controller")
    assert role["metadata"]["labels"][c.LABEL_AGGREGATE_TO_CONTROLLER] == "true"
    assert role["rules"][0]["apiGroups"] == [GROUP]
    assert role["rules"][0]["resources"] == ["redises", "redises/status", "redises/finalizers"]
    kube.delete(r.PROMISES, "redis")
    wait_for(lambda: kube.get(r.PROMISES, "redis") is None, what="the Promise to go")
    assert kube.get(k.CLUSTERROLES, "redis-promise-controller") is None


def test_a_promise_update_reruns_every_request_and_keeps_them(system, recorder):
    kube, _ = system
    install(kube, promise_body("first"))
    for name in ("one", "two"):
        kube.create(REDIS, request_body(name))
    for name in ("one", "two"):
        completed(kube, name)
    assert recorder.count("first") == 2

    # A new API field and a second pipeline: the CRD is updated in place, both requests rerun both.
    updated = promise_body("first", "second")
    version = updated["spec"]["api"]["spec"]["versions"][0]
    version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["replicas"] = {
        "type": "integer",
        "default": 1,
    }
    current = kube.get(r.PROMISES, "redis")
    kube.patch(r.PROMISES, "redis", {"spec": updated["spec"]}, None)
    wait_for(lambda: recorder.count("second") == 2, what="both requests to run the new pipeline")
    for name in ("one", "two"):
        obj = completed(kube, name)
        assert obj["status"]["workflows"] == 2
    assert recorder.count("first") == 4, "each request ran each pipeline once more, not twice"
    assert kube.get(r.PROMISES, "redis")["metadata"]["generation"] > current["metadata"]["generation"]
    kube.create(REDIS, {**request_body("three"), "spec": {"size": "small", "replicas": 3}})
    assert kube.get(REDIS, "three", "default")["spec"]["replicas"] == 3, "the new field is served"


def test_an_operator_restart_mid_workflow_neither_loses_nor_repeats_a_pipeline(platform_factory, recorder):
    import threading

    release = threading.Event()

    def slow(ctx: Any, obj: dict[str, Any]) -> None:
        release.wait(20)
        (ctx.path("/kratix/output") / "slow.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n")

    platform = platform_factory(
        pods="fast",
        steps={
            "test/first:v1": recorder.step("first", slow),
            "test/second:v1": recorder.step("second", second),
        },
    )
    kube = k.Kube(platform.api_client())
    operator = RunningOperator(
        settings_for(str(platform.kubeconfig), pipeline_adapter_image=ADAPTER_IMAGE)
    ).start()
    try:
        install(kube, promise_body("first", "second"))
        kube.create(REDIS, request_body())
        wait_for(lambda: recorder.count("first") == 1, what="the first pipeline to start")
        operator.stop()  # the operator goes away while the pipeline's Job is running
        release.set()
        operator = RunningOperator(operator.settings).start()
        obj = completed(kube)
    finally:
        operator.stop()
    assert recorder.count("first") == 1 and recorder.count("second") == 1
    assert obj["status"]["workflowsSucceeded"] == 2


@pytest.mark.both_servers
def test_requests_wait_for_required_promises(system, recorder):
    kube, _ = system
    body = promise_body("first")
    body["spec"]["requiredPromises"] = [{"name": "database", "version": "v1"}]
    kube.create(r.PROMISES, body)
    promise = wait_for(
        lambda: (p := kube.get(r.PROMISES, "redis")) and condition(p, "RequirementsFulfilled") and p,
        what="the requirement to be reported",
    )
    assert condition(promise, "RequirementsFulfilled")["status"] == "False"
    assert "database at version v1" in condition(promise, "RequirementsFulfilled")["message"]
    assert promise["status"]["requiredPromises"] == [
        {"name": "database", "version": "v1", "state": "Requirement not installed"}
    ]
    kube.create(REDIS, request_body())
    waiting = wait_for(
        lambda: (o := kube.get(REDIS, "my-redis", "default")) and condition(o, "PromiseAvailable") and o,
        what="the request to say it waits",
    )
    assert condition(waiting, "PromiseAvailable")["status"] == "False"
    assert recorder.count("first") == 0

    database = promise_body(name="database")
    database["metadata"]["labels"] = {c.LABEL_PROMISE_VERSION: "v1"}
    del database["spec"]["api"]
    del database["spec"]["workflows"]
    kube.create(r.PROMISES, database)
    completed(kube)  # the requirement is met: the request goes ahead
    assert recorder.count("first") == 1


BAD_OUTPUTS = {
    "invalid YAML": (("output", "broken.yaml", "kind: [unclosed\n"), "broken.yaml"),
    "a path escaping the output": (("symlink", "escape.yaml", "/etc/hostname"), "escape.yaml"),
    "invalid destination selectors": (
        ("metadata", "destination-selectors.yaml", "- directory: a/b\n  matchLabels: {x: y}\n"),
        "destination-selectors.yaml",
    ),
    "a kratix key in status.yaml": (("metadata", "status.yaml", "kratix: {mine: true}\n"), "status.yaml"),
}


@pytest.mark.parametrize("problem", list(BAD_OUTPUTS))
def test_broken_pipeline_output_fails_the_run_naming_the_file_and_keeps_the_previous_work(
    platform_factory, recorder, problem
):
    (where, name, content), named = BAD_OUTPUTS[problem]
    broken = {"on": False}

    def pipeline(ctx: Any, obj: dict[str, Any]) -> None:
        (ctx.path("/kratix/output") / "good.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nsize: {obj['spec']['size']}\n"
        )
        if not broken["on"]:
            return
        if where == "output":
            (ctx.path("/kratix/output") / name).write_text(content)
        elif where == "symlink":
            (ctx.path("/kratix/output") / name).symlink_to(content)
        else:
            (ctx.path("/kratix/metadata") / name).write_text(content)

    platform = platform_factory(pods="fast", steps={"test/first:v1": recorder.step("first", pipeline)})
    kube = k.Kube(platform.api_client())
    with RunningOperator(settings_for(str(platform.kubeconfig), pipeline_adapter_image=ADAPTER_IMAGE)):
        install(kube, promise_body("first"))
        kube.create(REDIS, request_body())
        completed(kube)
        before = kube.list(r.WORKS, "default", labels={c.LABEL_RESOURCE_NAME: "my-redis"})
        assert len(before) == 1

        broken["on"] = True
        kube.patch(REDIS, "my-redis", {"spec": {"size": "large"}}, "default")
        failed = wait_for(
            lambda: (
                (o := kube.get(REDIS, "my-redis", "default"))
                and (cd := condition(o, "ConfigureWorkflowCompleted"))
                and cd["reason"] == "ConfigureWorkflowFailed"
                and o
            ),
            what="the broken output to fail the run",
        )
        message = condition(failed, "ConfigureWorkflowCompleted")["message"]
        assert named in message, message
        after = kube.list(r.WORKS, "default", labels={c.LABEL_RESOURCE_NAME: "my-redis"})
        assert [w["spec"] for w in after] == [w["spec"] for w in before], "the previous good Work stays"


def test_a_quiet_reconcile_writes_nothing_and_records_no_event(system, recorder):
    kube, operator = system
    install(kube, promise_body("first", "second"))
    kube.create(REDIS, request_body())
    completed(kube)
    wait_for(lambda: operator.operator.queue.idle(), what="the queue to settle")
    before = kube.get(REDIS, "my-redis", "default")
    events_before = len(kube.list(k.EVENTS, "default"))

    operator.restart()  # every object is reconciled again from scratch
    wait_for(
        lambda: operator.operator.queue.reconciles >= 2 and operator.operator.queue.idle(),
        what="the Promise and the request to be reconciled after the restart",
    )
    after = kube.get(REDIS, "my-redis", "default")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert [cd["type"] for cd in after["status"]["conditions"]] == [
        cd["type"] for cd in before["status"]["conditions"]
    ]
    assert len(kube.list(k.EVENTS, "default")) == events_before
    assert recorder.count("first") == 1


def test_a_permission_removed_from_a_pipeline_is_revoked_before_its_next_run(system, recorder):
    kube, _ = system
    body = promise_body("first")
    pipeline = body["spec"]["workflows"]["resource"]["configure"][0]
    pipeline["spec"]["rbac"] = {
        "permissions": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]
    }
    install(kube, body)
    kube.create(REDIS, request_body())
    completed(kube)
    selector = {
        c.LABEL_PROMISE_NAME: "redis",
        c.LABEL_PIPELINE_NAME: "first",
        c.LABEL_WORKFLOW_ACTION: "configure",
    }
    granted = [role["rules"] for role in kube.list(k.ROLES, "default", labels=selector)]
    assert [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}] in granted

    del pipeline["spec"]["rbac"]
    kube.patch(r.PROMISES, "redis", {"spec": {"workflows": body["spec"]["workflows"]}}, None)
    wait_for(lambda: recorder.count("first") == 2, what="the rerun after the Promise change")
    remaining = [role["rules"] for role in kube.list(k.ROLES, "default", labels=selector)]
    assert [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}] not in remaining


def test_the_operator_process_serves_metrics_and_health(platform_factory, tmp_path):
    import socket
    import subprocess
    import sys
    import urllib.request

    def free_port() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    platform = platform_factory()
    kube = k.Kube(platform.api_client())
    metrics_port, health_port = free_port(), free_port()
    log = (tmp_path / "operator.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kratix_py",
            "operator",
            "--kubeconfig",
            str(platform.kubeconfig),
            "--metrics-port",
            str(metrics_port),
            "--health-port",
            str(health_port),
            "--log-format",
            "json",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:

        def get(port: int, path: str) -> str:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
                    return response.read().decode()
            except OSError:
                return ""

        wait_for(lambda: get(health_port, "/healthz"), what="the liveness endpoint")
        kube.create(r.PROMISES, {**promise_body("first"), "spec": {"dependencies": []}})
        text = wait_for(
            lambda: (
                (t := get(metrics_port, "/metrics"))
                and 'kratix_py_reconciles_total{kind="promise",result="ok"}' in t
                and t
            ),
            what="a promise reconcile in the metrics",
        )
        assert "kratix_py_reconcile_duration_seconds_bucket" in text and "kratix_py_queue_depth" in text
        # The names Kratix users scrape (controller-runtime's), next to kratix-py's first ones.
        assert 'controller_runtime_reconcile_total{controller="promise",result="success"}' in text
        assert 'controller_runtime_reconcile_time_seconds_bucket{controller="promise"' in text
        assert 'workqueue_depth{name="kratix-py"}' in text and "workqueue_retries_total" in text
    finally:
        process.terminate()
        assert process.wait(20) == 0, "the operator stops cleanly on SIGTERM"
        log.close()
    lines = [line for line in (tmp_path / "operator.log").read_text().splitlines() if line.strip()]
    assert lines and all(line.startswith("{") for line in lines), "--log-format json logs JSON lines"
