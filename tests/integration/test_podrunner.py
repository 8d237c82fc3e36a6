"""The pod runner against the real API emulator: in-process steps, and real podman containers.

Tests marked ``containers`` need podman and the base image (the ``base_image`` fixture of
kratix_py.testing.fixtures_podman, loaded by tests/conftest.py); the others run anywhere in well
under a second each.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from kratix_py.local_platform.emulator import Emulator
from kratix_py.local_platform.images import build_image
from kratix_py.local_platform.podman import run_podman
from kratix_py.local_platform.podrunner import PodRunner, StepContext, generate_pod_name, pod_for_job
from kratix_py.local_platform.podrunner_exec import podman_run_args
from kratix_py.local_platform.podrunner_spec import CONTAINER_KUBECONFIG_PATH, ContainerSpec, Mount, expand
from kratix_py.local_platform.podrunner_status import JobStatusTracker

NS = "default"
Json = dict[str, Any]


# --- fixtures and helpers -----------------------------------------------------------------------


@pytest.fixture
def api_server() -> Iterator[Emulator]:
    emulator = Emulator().start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def client(api_server: Emulator) -> Iterator[kubernetes.client.ApiClient]:
    configuration = kubernetes.client.Configuration()
    configuration.host = api_server.url
    with kubernetes.client.ApiClient(configuration) as api_client:
        yield api_client


# Typed as Any: the tests pass plain dicts as bodies, which the client accepts but its stubs do not.
def batch(client: kubernetes.client.ApiClient) -> Any:
    return kubernetes.client.BatchV1Api(client)


def core(client: kubernetes.client.ApiClient) -> Any:
    return kubernetes.client.CoreV1Api(client)


def job_manifest(
    name: str,
    containers: list[Json],
    *,
    init: list[Json] | None = None,
    volumes: list[Json] | None = None,
    restart_policy: str = "Never",
    backoff_limit: int = 0,
    **spec: Any,
) -> Json:
    pod_spec: Json = {"restartPolicy": restart_policy, "containers": containers}
    if init:
        pod_spec["initContainers"] = init
    if volumes:
        pod_spec["volumes"] = volumes
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "backoffLimit": backoff_limit,
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec},
            **spec,
        },
    }


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def raw_job(client: kubernetes.client.ApiClient, name: str) -> Json:
    response = batch(client).read_namespaced_job(name, NS, _preload_content=False)
    return json.loads(response.data)


def finished_job(client: kubernetes.client.ApiClient, name: str, timeout: float = 30.0) -> Json:
    """The Job once it has a Complete or Failed condition."""

    def probe() -> Json | None:
        job = raw_job(client, name)
        for condition in (job.get("status") or {}).get("conditions") or []:
            if condition["type"] in ("Complete", "Failed") and condition["status"] == "True":
                return job
        return None

    return wait_for(f"Job {name} to finish", probe, timeout)


def condition(job: Json, kind: str) -> Json | None:
    return next((c for c in job["status"].get("conditions") or [] if c["type"] == kind), None)


def must_condition(job: Json, kind: str) -> Json:
    found = condition(job, kind)
    assert found is not None, f"no {kind} condition in {job['status']}"
    return found


def job_pods(client: kubernetes.client.ApiClient, name: str) -> list[Json]:
    response = core(client).list_namespaced_pod(NS, label_selector=f"job-name={name}", _preload_content=False)
    pods = json.loads(response.data)["items"]
    return sorted(pods, key=lambda pod: pod["metadata"]["creationTimestamp"] + pod["metadata"]["name"])


def statuses(pod: Json) -> dict[str, Json]:
    status = pod["status"]
    return {c["name"]: c for c in (status.get("initContainerStatuses") or []) + status["containerStatuses"]}


def pod_log(client: kubernetes.client.ApiClient, pod: Json, container: str) -> str:
    return str(core(client).read_namespaced_pod_log(pod["metadata"]["name"], NS, container=container))


def emptydir(name: str) -> Json:
    return {"name": name, "emptyDir": {}}


def mount(name: str, path: str, read_only: bool = False) -> Json:
    return {"name": name, "mountPath": path, **({"readOnly": True} if read_only else {})}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


# --- pure parts: Kubernetes semantics -------------------------------------------------------------


def test_variable_expansion_follows_kubernetes() -> None:
    env = {"A": "1", "B": "two"}
    assert expand("$(A)-$(B)", env) == "1-two"
    assert expand("$(MISSING) stays", env) == "$(MISSING) stays"
    assert (
        expand("$$(A) is escaped, $$ is a dollar, $ alone stays", env)
        == "$(A) is escaped, $ is a dollar, $ alone stays"
    )


def _spec(**overrides: Any) -> ContainerSpec:
    values: dict[str, Any] = {
        "name": "c",
        "image": "localhost/x:1",
        "init": False,
        "command": None,
        "args": None,
        "env": {},
        "working_dir": None,
        "mounts": [],
        "user": None,
        "run_as_non_root": False,
        "cap_add": [],
        "cap_drop": [],
        "no_new_privileges": False,
        "read_only_rootfs": False,
        "privileged": False,
        "termination_message_path": "/dev/termination-log",
        "termination_message_policy": "File",
        "raw": {},
    }
    values.update(overrides)
    return ContainerSpec(**values)


def _run_args(spec: ContainerSpec) -> list[str]:
    return podman_run_args(
        spec,
        name="n",
        hostname="pod",
        network=True,
        cidfile=Path("/w/cid"),
        termination_file=Path("/w/term"),
        labels={},
    )


def test_command_replaces_entrypoint_and_args_replace_cmd() -> None:
    both = _run_args(_spec(command=["sh", "-c"], args=["echo hi"]))
    assert both[both.index("--entrypoint") + 1] == '["sh", "-c"]'
    assert both[-2:] == ["localhost/x:1", "echo hi"]

    args_only = _run_args(_spec(args=["--flag", "v"]))
    assert "--entrypoint" not in args_only
    assert args_only[-3:] == ["localhost/x:1", "--flag", "v"]

    command_only = _run_args(_spec(command=["/bin/tool"]))
    assert command_only[-1] == "localhost/x:1"  # nothing after the image: the image's CMD is dropped

    neither = _run_args(_spec())
    assert "--entrypoint" not in neither and neither[-1] == "localhost/x:1"


def test_run_arguments_carry_mounts_env_user_and_security() -> None:
    spec = _spec(
        env={"A": "1", "B": "x=y"},
        working_dir="/work",
        mounts=[Mount(Path("/h/in"), "/kratix/input", True), Mount(Path("/h/out"), "/kratix/output", False)],
        user="1000:1000",
        cap_drop=["ALL"],
        no_new_privileges=True,
        read_only_rootfs=True,
    )
    args = _run_args(spec)
    joined = " ".join(args)
    assert "--mount type=bind,src=/h/in,dst=/kratix/input,ro=true" in joined
    assert "--mount type=bind,src=/h/out,dst=/kratix/output " in joined + " "
    assert "--mount type=bind,src=/w/term,dst=/dev/termination-log" in joined
    assert args[args.index("A=1") - 1 : args.index("A=1") + 1] == ["--env", "A=1"]
    assert "B=x=y" in args
    assert args[args.index("--workdir") + 1] == "/work"
    assert args[args.index("--user") + 1] == "1000:1000"
    assert args[args.index("--cap-drop") + 1] == "ALL"
    assert "no-new-privileges" in args and "--read-only" in args and "--read-only-tmpfs=false" in args
    assert args[args.index("--pull") + 1] == "never"
    assert args[args.index("--network") + 1] == "host"


def test_pod_names_look_like_generate_name() -> None:
    name = generate_pod_name("kratix-redis-cache-instance-configure-5d7f1")
    assert (
        name.startswith("kratix-redis-cache-instance-configure-5d7f1-") and len(name.rsplit("-", 1)[1]) == 5
    )
    long = generate_pod_name("x" * 63)
    assert len(long) == 63 and long.startswith("x" * 58)


def test_pod_manifest_links_to_its_job() -> None:
    job = job_manifest("j", [{"name": "c", "image": "i"}])
    job["metadata"]["uid"] = "u-1"
    pod = pod_for_job(job, "j-abcde")
    labels = pod["metadata"]["labels"]
    assert labels["job-name"] == "j" and labels["batch.kubernetes.io/job-name"] == "j"
    assert labels["controller-uid"] == "u-1" and labels["app"] == "j"
    owner = pod["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == ("Job", "j", "u-1", True)


def test_job_status_tracker_keeps_kubernetes_semantics() -> None:
    tracker = JobStatusTracker({})
    tracker.resume("2030-01-01T00:00:00Z")
    tracker.pod_created()
    assert tracker.status["active"] == 1 and tracker.status["startTime"] == "2030-01-01T00:00:00Z"
    tracker.pod_failed()
    tracker.fail(
        "BackoffLimitExceeded", "Job has reached the specified backoff limit", "2030-01-01T00:00:09Z"
    )
    assert tracker.status["failed"] == 1 and tracker.status["active"] == 0
    assert [c["type"] for c in tracker.status["conditions"]] == ["FailureTarget", "Failed"]
    assert "completionTime" not in tracker.status  # only successful Jobs complete

    suspended = JobStatusTracker({})
    suspended.suspend("2030-01-01T00:00:00Z")
    suspended.resume("2030-01-01T00:01:00Z")
    resumed = suspended.status["conditions"][0]
    assert (resumed["status"], resumed["reason"]) == ("False", "JobResumed")
    assert resumed["lastTransitionTime"] == "2030-01-01T00:01:00Z"


def test_step_context_maps_container_paths_to_the_deepest_mount(tmp_path: Path) -> None:
    ctx = StepContext(
        namespace=NS,
        pod_name="p",
        container_name="c",
        image="i",
        env={},
        command=[],
        args=[],
        working_dir=None,
        api_url="http://127.0.0.1:1",
        mounts={"/kratix": tmp_path / "a", "/kratix/output": tmp_path / "b"},
    )
    assert ctx.path("/kratix/output/x/y.yaml") == tmp_path / "b" / "x" / "y.yaml"
    assert ctx.path("/kratix/input") == tmp_path / "a" / "input"
    assert ctx.path("/kratix/output") == tmp_path / "b"
    with pytest.raises(ValueError, match="not inside a volume mount"):
        ctx.path("/etc/passwd")


# --- fast mode: Python callables instead of containers ---------------------------------------------


def test_callable_pipeline_runs_init_containers_in_order_and_shares_volumes(
    api_server: Emulator, client: kubernetes.client.ApiClient
) -> None:
    core(client).create_namespaced_config_map(
        NS, {"metadata": {"name": "settings"}, "data": {"colour": "blue", "size": "3"}}
    )
    core(client).create_namespaced_secret(
        NS, {"metadata": {"name": "creds"}, "stringData": {"token": "s3cret"}}
    )
    seen: dict[str, Any] = {}

    def writer(ctx: StepContext) -> int:
        (ctx.path("/kratix/output") / "object.yaml").write_text("first\n")
        ctx.log("writer wrote object.yaml")
        return 0

    def appender(ctx: StepContext) -> None:
        with (ctx.path("/kratix/output") / "object.yaml").open("a") as handle:
            handle.write("second\n")
        print("appended", file=ctx.stdout)

    def reader(ctx: StepContext) -> int:
        seen["content"] = (ctx.path("/kratix/output") / "object.yaml").read_text()
        seen["env"] = dict(ctx.env)
        seen["config"] = (ctx.path("/etc/settings") / "colour").read_text()
        seen["argv"] = ctx.argv
        seen["kubeconfig"] = Path(ctx.env["KUBECONFIG"]).read_text()
        ctx.log(seen["content"].strip().replace("\n", ","))
        return 0

    volumes = [emptydir("out"), {"name": "settings", "configMap": {"name": "settings"}}]
    out = [mount("out", "/kratix/output")]
    main = {
        "name": "reader",
        "image": "example.com/reader:v2",
        "command": ["read"],
        "args": ["--colour=$(COLOUR)"],
        "volumeMounts": [*out, mount("settings", "/etc/settings")],
        "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}],
        "env": [
            {"name": "COLOUR", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "colour"}}},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "POD_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "GREETING", "value": "hello $(COLOUR)"},
        ],
    }
    init = [
        {"name": "writer", "image": "example.com/writer", "volumeMounts": out},
        {"name": "appender", "image": "example.com/appender:v1", "volumeMounts": out},
    ]
    steps = {"example.com/writer": writer, "example.com/appender": appender, "example.com/reader": reader}
    with PodRunner(api_server.url, steps=steps, use_podman=False):
        batch(client).create_namespaced_job(NS, job_manifest("pipeline", [main], init=init, volumes=volumes))
        job = finished_job(client, "pipeline")

    assert must_condition(job, "Complete")["status"] == "True"
    assert job["status"]["succeeded"] == 1 and job["status"]["active"] == 0
    assert job["status"]["completionTime"] >= job["status"]["startTime"]
    [pod] = job_pods(client, "pipeline")
    assert pod["status"]["phase"] == "Succeeded"
    assert {name: s["state"]["terminated"]["exitCode"] for name, s in statuses(pod).items()} == {
        "writer": 0,
        "appender": 0,
        "reader": 0,
    }
    assert seen["content"] == "first\nsecond\n"
    env = seen["env"]
    assert (env["COLOUR"], env["TOKEN"], env["POD"], env["POD_NS"]) == (
        "blue",
        "s3cret",
        pod["metadata"]["name"],
        NS,
    )
    assert env["GREETING"] == "hello blue" and env["CFG_size"] == "3"
    assert seen["config"] == "blue"
    assert seen["argv"] == ["read", "--colour=blue"]
    assert api_server.url in seen["kubeconfig"]
    assert pod_log(client, pod, "writer") == "writer wrote object.yaml\n"
    assert pod_log(client, pod, "appender") == "appended\n"
    assert pod_log(client, pod, "reader") == "first,second\n"


def test_a_failing_step_fails_the_job_after_the_backoff_limit_with_its_traceback(
    api_server: Emulator, client: kubernetes.client.ApiClient
) -> None:
    def broken(ctx: StepContext) -> int:
        raise RuntimeError("the pipeline broke")

    with PodRunner(api_server.url, steps={"broken": broken}, use_podman=False):
        batch(client).create_namespaced_job(
            NS, job_manifest("broken", [{"name": "c", "image": "broken"}], backoff_limit=2)
        )
        job = finished_job(client, "broken")

    failed = must_condition(job, "Failed")
    assert (failed["status"], failed["reason"]) == ("True", "BackoffLimitExceeded")
    assert failed["message"] == "Job has reached the specified backoff limit"
    assert job["status"]["failed"] == 3 and "succeeded" not in job["status"]
    pods = job_pods(client, "broken")
    assert len(pods) == 3  # restartPolicy Never: a new pod per attempt
    assert all(p["status"]["phase"] == "Failed" for p in pods)
    terminated = statuses(pods[-1])["c"]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (1, "Error")
    log = pod_log(client, pods[-1], "c")
    assert "Traceback" in log and "RuntimeError: the pipeline broke" in log


def test_on_failure_restarts_the_container_in_the_same_pod(
    api_server: Emulator, client: kubernetes.client.ApiClient
) -> None:
    attempts: list[int] = []

    def flaky(ctx: StepContext) -> int:
        attempts.append(1)
        return 0 if len(attempts) == 3 else 4

    with PodRunner(api_server.url, steps={"flaky": flaky}, use_podman=False):
        manifest = job_manifest(
            "flaky", [{"name": "c", "image": "flaky"}], restart_policy="OnFailure", backoff_limit=4
        )
        batch(client).create_namespaced_job(NS, manifest)
        job = finished_job(client, "flaky")

    assert condition(job, "Complete") is not None and job["status"]["succeeded"] == 1
    [pod] = job_pods(client, "flaky")
    container = statuses(pod)["c"]
    assert container["restartCount"] == 2
    assert container["lastState"]["terminated"]["exitCode"] == 4
    assert container["state"]["terminated"]["exitCode"] == 0


def test_on_failure_gives_up_when_restarts_reach_the_backoff_limit(
    api_server: Emulator, client: kubernetes.client.ApiClient
) -> None:
    runs: list[int] = []

    def always_fails(ctx: StepContext) -> int:
        runs.append(1)
        return 2

    with PodRunner(api_server.url, steps={"bad": always_fails}, use_podman=False):
        manifest = job_manifest(
            "bad", [{"name": "c", "image": "bad"}], restart_policy="OnFailure", backoff_limit=2
        )
        batch(client).create_namespaced_job(NS, manifest)
        job = finished_job(client, "bad")

    assert must_condition(job, "Failed")["reason"] == "BackoffLimitExceeded"
    assert must_condition(job, "FailureTarget")["reason"] == "BackoffLimitExceeded"
    # As the real Job controller does, the pod it gave up on is deleted, and its logs with it.
    assert len(runs) == 2 and job_pods(client, "bad") == []
    assert job["status"]["failed"] == 1 and job["status"]["active"] == 0


def test_an_image_without_step_fails_clearly_when_podman_is_off(
    api_server: Emulator, client: kubernetes.client.ApiClient
) -> None:
    with PodRunner(api_server.url, steps={}, use_podman=False):
        batch(client).create_namespaced_job(
            NS, job_manifest("nostep", [{"name": "c", "image": "example.com/none:1"}])
        )
        job = finished_job(client, "nostep")

    failed = must_condition(job, "Failed")
    assert failed["reason"] == "ErrImageNeverPull"
    assert "example.com/none:1" in failed["message"] and "use_podman" in failed["message"]
    waiting = statuses(job_pods(client, "nostep")[0])["c"]["state"]["waiting"]
    assert waiting["reason"] == "ErrImageNeverPull"


def test_a_suspended_job_waits_and_runs_once_resumed(
    api_server: Emulator, client: kubernetes.client.ApiClient
) -> None:
    ran = threading.Event()

    def step(ctx: StepContext) -> int:
        ran.set()
        return 0

    with PodRunner(api_server.url, steps={"s": step}, use_podman=False):
        batch(client).create_namespaced_job(
            NS, job_manifest("later", [{"name": "c", "image": "s"}], suspend=True)
        )
        job = job_with_condition(client, "later", "Suspended")
        assert job["status"]["active"] == 0
        assert not ran.wait(0.3) and job_pods(client, "later") == []

        batch(client).patch_namespaced_job("later", NS, {"spec": {"suspend": False}})
        job = finished_job(client, "later")

    assert ran.is_set() and condition(job, "Complete") is not None
    resumed = must_condition(job, "Suspended")
    assert (resumed["status"], resumed["reason"]) == ("False", "JobResumed")


def job_with_condition(client: kubernetes.client.ApiClient, name: str, kind: str) -> Json:
    def probe() -> Json | None:
        job = raw_job(client, name)
        found = condition(job, kind) if job.get("status") else None
        return job if found and found["status"] == "True" else None

    return wait_for(f"Job {name} to be {kind}", probe)


def test_suspending_a_running_job_stops_its_pod(
    api_server: Emulator, client: kubernetes.client.ApiClient
) -> None:
    started = threading.Event()
    stopped = threading.Event()

    def long_step(ctx: StepContext) -> int:
        started.set()
        ctx.cancelled.wait(30)
        stopped.set()
        return 0

    with PodRunner(api_server.url, steps={"long": long_step}, use_podman=False):
        batch(client).create_namespaced_job(NS, job_manifest("pausable", [{"name": "c", "image": "long"}]))
        assert started.wait(10)
        batch(client).patch_namespaced_job("pausable", NS, {"spec": {"suspend": True}})
        assert stopped.wait(10)
        job = job_with_condition(client, "pausable", "Suspended")
        wait_for("the pod to be deleted", lambda: job_pods(client, "pausable") == [])

    assert job["status"]["active"] == 0 and "failed" not in job["status"]
    assert condition(job, "Complete") is None


def test_deleting_a_job_cancels_its_steps(api_server: Emulator, client: kubernetes.client.ApiClient) -> None:
    started = threading.Event()
    cancelled = threading.Event()

    def long_step(ctx: StepContext) -> int:
        started.set()
        if ctx.cancelled.wait(30):
            cancelled.set()
        return 0

    with PodRunner(api_server.url, steps={"long": long_step}, use_podman=False):
        batch(client).create_namespaced_job(NS, job_manifest("doomed", [{"name": "c", "image": "long"}]))
        assert started.wait(10)
        batch(client).delete_namespaced_job("doomed", NS)
        assert cancelled.wait(10)


def test_at_most_max_parallel_pods_run_at_once(
    api_server: Emulator, client: kubernetes.client.ApiClient
) -> None:
    lock = threading.Lock()
    running = [0]
    peak = [0]

    def step(ctx: StepContext) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.1)
        with lock:
            running[0] -= 1
        return 0

    with PodRunner(api_server.url, steps={"s": step}, use_podman=False, max_parallel=2):
        for index in range(6):
            batch(client).create_namespaced_job(NS, job_manifest(f"p{index}", [{"name": "c", "image": "s"}]))
        for index in range(6):
            finished_job(client, f"p{index}")

    assert peak[0] == 2


def test_active_deadline_fails_the_job(api_server: Emulator, client: kubernetes.client.ApiClient) -> None:
    def slow(ctx: StepContext) -> int:
        ctx.cancelled.wait(30)
        return 0

    with PodRunner(api_server.url, steps={"slow": slow}, use_podman=False):
        manifest = job_manifest("deadline", [{"name": "c", "image": "slow"}], activeDeadlineSeconds=1)
        batch(client).create_namespaced_job(NS, manifest)
        job = finished_job(client, "deadline")

    failed = must_condition(job, "Failed")
    assert (failed["reason"], failed["message"]) == (
        "DeadlineExceeded",
        "Job was active longer than specified deadline",
    )
    assert job_pods(client, "deadline")[0]["status"]["reason"] == "DeadlineExceeded"


def test_a_job_waits_for_a_configmap_created_after_it(
    api_server: Emulator, client: kubernetes.client.ApiClient
) -> None:
    seen: list[str] = []

    def step(ctx: StepContext) -> int:
        seen.append((ctx.path("/config") / "key").read_text())
        return 0

    volumes = [{"name": "cfg", "configMap": {"name": "late"}}]
    container = {"name": "c", "image": "s", "volumeMounts": [mount("cfg", "/config")]}
    with PodRunner(api_server.url, steps={"s": step}, use_podman=False):
        batch(client).create_namespaced_job(NS, job_manifest("waits", [container], volumes=volumes))
        time.sleep(0.3)
        core(client).create_namespaced_config_map(
            NS, {"metadata": {"name": "late"}, "data": {"key": "value"}}
        )
        job = finished_job(client, "waits")

    assert condition(job, "Complete") is not None and seen == ["value"]


def test_stop_returns_quickly_even_with_a_step_that_never_ends(
    api_server: Emulator, client: kubernetes.client.ApiClient
) -> None:
    started = threading.Event()

    def stubborn(ctx: StepContext) -> int:
        started.set()
        time.sleep(60)  # ignores ctx.cancelled on purpose
        return 0

    runner = PodRunner(api_server.url, steps={"stubborn": stubborn}, use_podman=False).start()
    batch(client).create_namespaced_job(NS, job_manifest("stubborn", [{"name": "c", "image": "stubborn"}]))
    assert started.wait(10)
    began = time.monotonic()
    runner.stop()
    assert time.monotonic() - began < 3


def test_jobs_that_exist_before_the_runner_starts_are_run(
    api_server: Emulator, client: kubernetes.client.ApiClient
) -> None:
    batch(client).create_namespaced_job(NS, job_manifest("early", [{"name": "c", "image": "ok"}]))
    with PodRunner(api_server.url, steps={"ok": lambda ctx: 0}, use_podman=False):
        job = finished_job(client, "early")
    assert job["status"]["succeeded"] == 1


# --- real containers -------------------------------------------------------------------------------

containers = pytest.mark.containers


@pytest.fixture
def podman_runner(api_server: Emulator, base_image: str) -> Iterator[PodRunner]:
    with PodRunner(api_server.url) as runner:
        yield runner


@containers
def test_init_containers_and_main_container_share_emptydirs(
    podman_runner: PodRunner,
    client: kubernetes.client.ApiClient,
    base_image: str,
) -> None:
    shared = [mount("shared", "/shared")]
    init = [
        {"name": "first", "image": base_image, "command": ["sh", "-c", "echo one > /shared/f; echo first wrote"], "volumeMounts": shared},
        {"name": "second", "image": base_image, "command": ["sh", "-c", "echo two >> /shared/f; echo second appended >&2"], "volumeMounts": shared},
    ]  # fmt: skip
    main = [{"name": "main", "image": base_image, "command": ["cat", "/shared/f"], "volumeMounts": shared}]
    batch(client).create_namespaced_job(
        NS, job_manifest("shared", main, init=init, volumes=[emptydir("shared")])
    )
    job = finished_job(client, "shared")

    assert must_condition(job, "Complete")["status"] == "True" and job["status"]["succeeded"] == 1
    [pod] = job_pods(client, "shared")
    assert pod["status"]["phase"] == "Succeeded"
    for name, status in statuses(pod).items():
        terminated = status["state"]["terminated"]
        assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed"), name
        assert status["containerID"].startswith("podman://")
    assert pod_log(client, pod, "first") == "first wrote\n"
    assert pod_log(client, pod, "second") == "second appended\n"
    assert pod_log(client, pod, "main") == "one\ntwo\n"


@containers
def test_a_failing_container_fails_the_job_and_keeps_its_log(
    podman_runner: PodRunner,
    client: kubernetes.client.ApiClient,
    base_image: str,
) -> None:
    main = [
        {
            "name": "fails",
            "image": base_image,
            "command": ["sh", "-c", "echo working; echo 'cannot reach the database' >&2; exit 3"],
            "terminationMessagePolicy": "FallbackToLogsOnError",
        }
    ]
    batch(client).create_namespaced_job(NS, job_manifest("fails", main))
    job = finished_job(client, "fails")

    assert must_condition(job, "Failed")["reason"] == "BackoffLimitExceeded" and job["status"]["failed"] == 1
    [pod] = job_pods(client, "fails")
    terminated = statuses(pod)["fails"]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (3, "Error")
    assert "cannot reach the database" in terminated["message"]
    assert pod_log(client, pod, "fails") == "working\ncannot reach the database\n"


@containers
def test_a_missing_image_fails_the_job_with_a_clear_reason(
    podman_runner: PodRunner, client: kubernetes.client.ApiClient
) -> None:
    image = f"localhost/kratix-py-test-missing:{uuid.uuid4().hex[:8]}"
    batch(client).create_namespaced_job(
        NS, job_manifest("missing", [{"name": "c", "image": image}], backoff_limit=3)
    )
    job = finished_job(client, "missing")

    failed = must_condition(job, "Failed")
    assert failed["reason"] == "ErrImageNeverPull"
    assert image in failed["message"] and "build it first" in failed["message"]
    [pod] = job_pods(client, "missing")  # no retries: waiting cannot make the image appear
    waiting = statuses(pod)["c"]["state"]["waiting"]
    assert (
        waiting["reason"] == "ErrImageNeverPull"
        and "not present with pull policy of Never" in waiting["message"]
    )


@containers
def test_command_args_env_working_dir_and_read_only_mounts_are_honoured(
    podman_runner: PodRunner,
    client: kubernetes.client.ApiClient,
    base_image: str,
    tmp_path: Path,
) -> None:
    (tmp_path / "Containerfile").write_text(
        'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nENTRYPOINT ["echo", "entrypoint"]\nCMD ["default-cmd"]\n'
    )
    image = build_image(tmp_path, "localhost/kratix-py-test-entrypoint:1")
    core(client).create_namespaced_config_map(
        NS, {"metadata": {"name": "cm"}, "data": {"k": "from-configmap"}}
    )
    script = (
        "pwd; echo $GREETING $FROM_CM $MY_POD; "
        "touch /in/denied 2>/dev/null && echo writable || echo read-only; "
        "echo ok > /out/allowed && echo wrote; ls /in"
    )
    main: list[Json] = [
        {
            "name": "all",
            "image": base_image,
            "command": ["sh", "-c"],
            "args": [script],
            "workingDir": "/tmp",
            "env": [
                {"name": "NAME", "value": "kratix"},
                {"name": "GREETING", "value": "hello-$(NAME)"},
                {"name": "FROM_CM", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}},
                {"name": "MY_POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            ],
            "volumeMounts": [mount("in", "/in", read_only=True), mount("out", "/out")],
        },
        {"name": "args-only", "image": image, "args": ["given", "args"]},
        {"name": "image-defaults", "image": image},
        {"name": "command-only", "image": image, "command": ["echo", "own-command"]},
    ]
    batch(client).create_namespaced_job(
        NS, job_manifest("semantics", main, volumes=[emptydir("in"), emptydir("out")])
    )
    job = finished_job(client, "semantics")

    assert condition(job, "Complete") is not None
    [pod] = job_pods(client, "semantics")
    name = pod["metadata"]["name"]
    assert pod_log(client, pod, "all") == f"/tmp\nhello-kratix from-configmap {name}\nread-only\nwrote\n"
    assert pod_log(client, pod, "args-only") == "entrypoint given args\n"
    assert pod_log(client, pod, "image-defaults") == "entrypoint default-cmd\n"
    assert pod_log(client, pod, "command-only") == "own-command\n"


@containers
def test_containers_reach_the_api_through_their_kubeconfig(
    podman_runner: PodRunner,
    client: kubernetes.client.ApiClient,
    base_image: str,
) -> None:
    program = (
        "import json, os, urllib.request, yaml\n"
        "config = yaml.safe_load(open(os.environ['KUBECONFIG']))\n"
        "server = config['clusters'][0]['cluster']['server']\n"
        "body = json.dumps({'metadata': {'name': 'from-a-container'}, 'data': {'pod': os.environ['HOSTNAME']}})\n"
        "request = urllib.request.Request(server + '/api/v1/namespaces/default/configmaps', body.encode(),\n"
        "    {'Content-Type': 'application/json'}, method='POST')\n"
        "print(urllib.request.urlopen(request).status)\n"
    )
    main = [{"name": "talks", "image": base_image, "command": ["python3", "-c", program]}]
    batch(client).create_namespaced_job(NS, job_manifest("talks", main))
    job = finished_job(client, "talks")

    [pod] = job_pods(client, "talks")
    assert condition(job, "Complete") is not None, pod_log(client, pod, "talks")
    assert pod_log(client, pod, "talks") == "201\n"
    created = core(client).read_namespaced_config_map("from-a-container", NS)
    assert created.data == {"pod": pod["metadata"]["name"]}
    assert statuses(pod)["talks"]["state"]["terminated"]["exitCode"] == 0
    assert CONTAINER_KUBECONFIG_PATH.startswith("/var/run/")


@containers
def test_deleting_a_running_job_kills_its_container(
    podman_runner: PodRunner,
    client: kubernetes.client.ApiClient,
    base_image: str,
) -> None:
    main = [{"name": "sleeper", "image": base_image, "command": ["sleep", "300"]}]
    batch(client).create_namespaced_job(NS, job_manifest("sleeper", main))

    def running_containers() -> list[str]:
        listed = run_podman(["ps", "--filter", "label=io.kratix-py.pod", "--format", "{{.Names}}"]).stdout
        return [line for line in listed.split() if "_sleeper-" in line]

    wait_for("the container to run", running_containers)
    wait_for(
        "the Job to report an active pod",
        lambda: (raw_job(client, "sleeper").get("status") or {}).get("active") == 1,
    )
    batch(client).delete_namespaced_job("sleeper", NS)
    wait_for("the container to be gone", lambda: not running_containers(), timeout=20)


@containers
def test_a_command_that_cannot_start_is_a_start_error(
    podman_runner: PodRunner, client: kubernetes.client.ApiClient, base_image: str
) -> None:
    main = [{"name": "typo", "image": base_image, "command": ["no-such-program"]}]
    batch(client).create_namespaced_job(NS, job_manifest("typo", main))
    job = finished_job(client, "typo")

    assert must_condition(job, "Failed")["reason"] == "BackoffLimitExceeded"
    terminated = statuses(job_pods(client, "typo")[0])["typo"]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (128, "StartError")
    assert "no-such-program" in terminated["message"] and "not found" in terminated["message"]


@containers
def test_run_as_non_root_is_enforced_like_the_kubelet(
    podman_runner: PodRunner, client: kubernetes.client.ApiClient, base_image: str
) -> None:
    main = [
        {"name": "root", "image": base_image, "command": ["true"], "securityContext": {"runAsNonRoot": True}}
    ]
    batch(client).create_namespaced_job(NS, job_manifest("nonroot", main))
    job = finished_job(client, "nonroot")

    failed = must_condition(job, "Failed")
    assert failed["reason"] == "CreateContainerConfigError"
    assert "container has runAsNonRoot and image will run as root" in failed["message"]

    allowed = [
        {
            "name": "user",
            "image": base_image,
            "command": ["id", "-u"],
            "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "allowPrivilegeEscalation": False},
        }
    ]
    batch(client).create_namespaced_job(NS, job_manifest("asuser", allowed))
    job = finished_job(client, "asuser")
    assert condition(job, "Complete") is not None
    assert pod_log(client, job_pods(client, "asuser")[0], "user") == "1000\n"


@containers
def test_images_labelled_as_offline_run_without_a_network(
    podman_runner: PodRunner, client: kubernetes.client.ApiClient, base_image: str, tmp_path: Path
) -> None:
    (tmp_path / "Containerfile").write_text(
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nLABEL io.kratix-py.network=none\n"
    )
    offline = build_image(tmp_path, "localhost/kratix-py-test-offline:1")
    interfaces = ["sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ' '"]
    main = [
        {"name": "offline", "image": offline, "command": interfaces},
        {"name": "online", "image": base_image, "command": interfaces},
    ]
    batch(client).create_namespaced_job(NS, job_manifest("networks", main))
    job = finished_job(client, "networks")

    [pod] = job_pods(client, "networks")
    assert condition(job, "Complete") is not None
    assert pod_log(client, pod, "offline") == "lo "
    assert pod_log(client, pod, "online") != "lo "  # the host's interfaces


@containers
def test_stop_kills_running_containers_and_returns_quickly(
    api_server: Emulator, client: kubernetes.client.ApiClient, base_image: str
) -> None:
    runner = PodRunner(api_server.url).start()
    label = f"io.kratix-py.runner={runner.runner_id}"

    def running() -> list[str]:
        return run_podman(["ps", "--filter", f"label={label}", "--format", "{{.Names}}"]).stdout.split()

    try:
        main = [{"name": "sleeper", "image": base_image, "command": ["sleep", "300"]}]
        batch(client).create_namespaced_job(NS, job_manifest("forever", main))
        wait_for("the container to run", running)
    finally:
        began = time.monotonic()
        runner.stop()
        stopped_in = time.monotonic() - began
    assert stopped_in < 5
    assert running() == []
