"""The operator killed with SIGKILL at random moments, and a foreign pusher on the store (issue 11)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kratix_py import kube as k
from kratix_py.local_platform.gitserver import GitServerError
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.testing.fixtures import ADAPTER_IMAGE
from tests.faults.conftest import _repos
from tests.faults.harness import FIGURES, FaultSystem, log_lines

KILLS = 20


class OperatorProcess:
    """``kratix-py operator`` as its own process, so it can be killed without warning."""

    def __init__(self, kubeconfig: Path, log: Path) -> None:
        self.kubeconfig, self.log_path = kubeconfig, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "kratix_py", "operator",
                    "--kubeconfig", str(self.kubeconfig),
                    "--leader-election", "false",
                    "--metrics-port", "0", "--health-port", "0",
                    "--pipeline-adapter-image", ADAPTER_IMAGE,
                ],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        FIGURES["kills"] += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture
def killable(platform_and_runs, git_server, tmp_path: Path) -> Iterator[tuple[FaultSystem, OperatorProcess]]:
    platform, runs = platform_and_runs
    repo = f"faults-{next(_repos)}"
    git_server.create_repo(repo)
    operator = OperatorProcess(platform.kubeconfig, tmp_path / "operator.log")
    operator.start()
    try:
        yield FaultSystem(k.Kube(platform.api_client()), git_server, repo, runs), operator
    finally:
        operator.stop()


def test_kill_9_at_random_moments_loses_nothing_and_runs_nothing_twice(killable):
    system, operator = killable
    rng = random.Random(int(os.environ.get("FAULTS_SEED", "11")))
    system.install()

    def kill_soon() -> None:
        time.sleep(rng.uniform(0.1, 1.2))
        operator.kill()
        operator.start()

    # Requests arrive and change while the operator keeps dying (14 kills) ...
    for index in range(8):
        system.request(f"kill-{index}")
        if index % 2:
            kill_soon()
    for index in range(0, 8, 3):
        system.request(f"kill-{index}", "large")
        kill_soon()
    while FIGURES["kills"] < KILLS - 6:
        kill_soon()
    system.check_converged(timeout=180)
    # ... and they are deleted while it keeps dying (6 more).
    for name in system.requests:
        system.kube.delete(
            k.Resource("test.kratix.io", "v1alpha1", "redises", True, "Redis"), name, "default"
        )
    while FIGURES["kills"] < KILLS:
        kill_soon()
    system.check_gone(timeout=180)
    system.check_no_credentials(operator.log_path.read_text(errors="replace").splitlines())
    assert FIGURES["kills"] >= KILLS


def test_a_concurrent_pusher_on_the_state_store_branch(platform_and_runs, git_server, caplog):
    platform, runs = platform_and_runs
    repo = f"faults-{next(_repos)}"
    git_server.create_repo(repo)
    system = FaultSystem(k.Kube(platform.api_client()), git_server, repo, runs)
    stop = threading.Event()
    pushes = 0

    def push_forever() -> None:
        nonlocal pushes
        while not stop.is_set():
            try:
                git_server.push_as_someone_else(
                    repo, {f"someone-else/{pushes}.txt": b"theirs"}, f"theirs {pushes}"
                )
                pushes += 1
            except GitServerError:
                pass  # the operator's push won this race: push again on its tip
            time.sleep(0.2)

    pusher = threading.Thread(target=push_forever, daemon=True)
    settings = settings_for(str(platform.kubeconfig), pipeline_adapter_image=ADAPTER_IMAGE)
    with RunningOperator(settings):
        system.install()
        pusher.start()
        try:
            for index in range(8):
                system.request(f"race-{index}")
            system.check_converged(timeout=120)
            system.delete_all()
        finally:
            stop.set()
            pusher.join(10)
    FIGURES["faults injected"] += pushes
    assert pushes >= 5, "the pusher kept pushing while the operator wrote"
    tree = system.tree()
    assert sum(1 for path in tree if path.startswith("someone-else/")) == pushes, "their files all stayed"
    system.check_no_credentials(log_lines(caplog.records))
