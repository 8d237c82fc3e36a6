"""``kratix-py local-platform`` end to end, as a new user follows the README: start it, apply a
Promise and a request of one's own with kubectl, watch the request become Reconciled, clone the
state store with the printed URL, stop it with Ctrl-C, and find nothing left behind."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from kratix_py.local_platform.podman import run_podman
from kratix_py.testing.fixtures import wait_for
from kratix_py.testing.fixtures_podman import require

from .local_platform_process import KRATIX_PY, PlatformProcess, kubectl, port_of, wait_kubectl

GREETING = Path(__file__).parent / "data" / "greeting"
GREETING_IMAGE = "localhost/kratix-py-test-greeting:v1"
FREE_PORTS = ["--api-port", "0", "--git-port", "0", "--s3-port", "0"]  # other test sessions share the machine


@pytest.fixture(scope="module")
def tools() -> None:
    for tool in ("kubectl", "git"):
        require(None if shutil.which(tool) else f"{tool} is not on PATH")


def refuses_connections(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", port)) != 0


def runner_containers(runner_id: str) -> list[str]:
    listed = run_podman(
        ["ps", "-a", "--filter", f"label=io.kratix-py.runner={runner_id}", "--format", "{{.Names}}"]
    )
    return listed.stdout.split()


@pytest.mark.containers
@pytest.mark.slow
def test_a_new_user_runs_a_promise_of_their_own_and_stops_the_platform_with_ctrl_c(
    tools: None, kratix_image: str, tmp_path: Path
) -> None:
    # Their pipeline image, built with the project's tooling.
    built = subprocess.run(
        [KRATIX_PY, "build-pipeline", str(GREETING / "pipeline"), GREETING_IMAGE],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr

    platform = PlatformProcess(["--api-port", "0", "--git-port", "0"], cwd=tmp_path)
    runner_id = ""
    try:
        platform.wait_until_up(timeout=240)
        env = platform.env()
        runner_id = platform.printed(r"label=io\.kratix-py\.runner=(\w+)")
        directory = platform.directory
        assert directory.is_dir() and Path(platform.kubeconfig).parent == directory

        assert "default" in kubectl(env, "get", "gitstatestores")
        wait_kubectl(
            env, ["get", "destination", "worker-1", "-o", "jsonpath={.metadata.labels.environment}"], "dev"
        )

        kubectl(env, "apply", "-f", str(GREETING / "promise.yaml"))
        wait_kubectl(env, ["get", "promise", "greeting", "-o", "jsonpath={.status.status}"], "Available")
        kubectl(env, "apply", "-f", str(GREETING / "request.yaml"))
        reconciled = [
            "get",
            "greeting",
            "hello",
            "-o",
            'jsonpath={.status.conditions[?(@.type=="Reconciled")].status}',
        ]
        wait_kubectl(env, reconciled, "True", timeout=120)
        assert "said hello to kratix" in kubectl(
            env, "get", "greeting", "hello", "-o", "jsonpath={.status.message}"
        )
        # What a cluster prints for the finished pipeline pod and its Job.
        pods = kubectl(env, "get", "pods")
        assert "Completed" in pods and "Succeeded" not in pods, pods
        assert "Complete" in kubectl(env, "get", "jobs")

        clone = tmp_path / "clone"
        cloned = subprocess.run(
            ["git", "clone", "--quiet", platform.printed(r"git clone (\S+)"), str(clone)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cloned.returncode == 0, cloned.stderr
        (landed,) = sorted(clone.glob("worker-1/resources/**/greeting.yaml"))
        assert landed.relative_to(clone).as_posix().startswith("worker-1/resources/default/greeting/hello/")
        assert "hello kratix" in landed.read_text()

        # A pipeline still running when the platform stops must not outlive it.
        kubectl(env, "apply", "-f", str(GREETING / "held-request.yaml"))
        wait_for(
            lambda: any(
                "greeting-held-" in name and "_greet_" in name for name in runner_containers(runner_id)
            ),
            timeout=120,
            what="the held request's pipeline container to run",
        )
        started = platform.descendants()
        assert started, "the held pipeline's podman process should be the platform's child"

        assert platform.stop(signal.SIGINT) == 0, platform.output
        assert platform.lines[-1] == "Stopped.", platform.output
        assert not directory.exists(), "the temporary directory outlived the platform"
        assert runner_containers(runner_id) == [], "pipeline containers outlived the platform"
        assert not any(Path(f"/proc/{pid}").exists() for pid in started), (
            "child processes outlived the platform"
        )
        api_url = platform.printed(r"^Kubernetes API\s+(\S+)")
        git_port = port_of(platform.printed(r"git clone (\S+)"))
        assert refuses_connections(port_of(api_url)) and refuses_connections(git_port)
    finally:
        platform.kill()
        if runner_id:  # a failed test must not leave its containers behind either
            names = runner_containers(runner_id)
            if names:
                run_podman(["rm", "--force", "--time", "0", *names], check=False)


def test_a_bucket_store_and_labelled_destinations_and_keep_leaves_the_directory(
    tools: None, tmp_path: Path
) -> None:
    directory = tmp_path / "platform"
    platform = PlatformProcess(
        [
            *FREE_PORTS,
            "--pods",
            "none",
            "--store",
            "bucket",
            "--destinations",
            "2",
            "--label",
            "worker-2:environment=prod",
            "--label",
            "team=platform",
            "--dir",
            str(directory),
            "--keep",
        ],
        cwd=tmp_path,
    )
    try:
        platform.wait_until_up(timeout=120)
        env = platform.env()
        destinations = json.loads(kubectl(env, "get", "destinations", "-o", "json"))["items"]
        assert {d["metadata"]["name"]: d["metadata"]["labels"] for d in destinations} == {
            "worker-1": {"environment": "dev", "team": "platform"},
            "worker-2": {"environment": "prod", "team": "platform"},
        }
        assert {d["spec"]["stateStoreRef"]["kind"] for d in destinations} == {"BucketStateStore"}
        store = json.loads(kubectl(env, "get", "bucketstatestore", "default", "-o", "json"))
        assert store["spec"]["bucketName"] == "kratix"
        assert [c["status"] for c in store["status"]["conditions"] if c["type"] == "Ready"] == ["True"]

        # The Destinations are Ready because their canaries were written to the printed S3 server.
        s3_url = platform.printed(r"^S3 server\s+(\S+)")
        s3 = boto3.client(
            "s3",
            endpoint_url=s3_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}),
        )
        keys = {item["Key"] for item in s3.list_objects_v2(Bucket="kratix").get("Contents", [])}
        assert {
            "worker-1/dependencies/kratix-canary-namespace.yaml",
            "worker-2/dependencies/kratix-canary-namespace.yaml",
        } <= keys

        assert platform.stop(signal.SIGTERM) == 0, platform.output
        assert platform.lines[-1] == f"Stopped; {directory} kept.", platform.output
        assert {p.name for p in directory.iterdir()} >= {"kubeconfig", "operator.log", "platform.yaml"}
        assert refuses_connections(port_of(s3_url))
    finally:
        platform.kill()


def test_a_directory_of_ones_own_keeps_its_files_and_loses_the_platforms_even_from_a_script(
    tools: None, tmp_path: Path
) -> None:
    directory = tmp_path / "mine"
    directory.mkdir()
    (directory / "notes.txt").write_text("mine\n")
    (directory / "kubeconfig").write_text("stale, from an earlier --keep run\n")
    platform = PlatformProcess(
        [*FREE_PORTS, "--pods", "none", "--dir", str(directory)], cwd=tmp_path, as_background_job=True
    )
    try:
        platform.wait_until_up(timeout=120)
        assert "kratix-py-local" in Path(platform.kubeconfig).read_text()
        second = subprocess.run(
            [KRATIX_PY, "local-platform", *FREE_PORTS, "--pods", "none", "--dir", str(directory)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 1 and f"another local platform runs in {directory}" in second.stderr
        assert Path(platform.kubeconfig).is_file(), "a second platform removed the first one's files"
        assert platform.stop(signal.SIGINT) == 0, platform.output
        assert [p.name for p in directory.iterdir()] == ["notes.txt"]
    finally:
        platform.kill()


def test_a_port_in_use_is_named_and_nothing_is_left_behind(tools: None, tmp_path: Path) -> None:
    directory = tmp_path / "platform"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                KRATIX_PY,
                "local-platform",
                "--pods",
                "none",
                "--api-port",
                "0",
                "--git-port",
                str(port),
                "--dir",
                str(directory),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1
    assert f"(is port {port} in use? --git-port 0 picks a free one)" in done.stderr
    assert "Traceback" not in done.stderr
    assert not directory.exists()
