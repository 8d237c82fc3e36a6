"""Drift repair (modelled on Kratix's git-recovery and state-store reconciliation system tests).

Files changed or deleted in the Git remote behind the operator's back are written again within the
state-store reconciliation interval, and a remote whose history was replaced (a force-push of an
unrelated history) is recovered without restarting the operator. Kratix's writer cannot do the
second: its shallow clone keeps failing to fast-forward while the WorkPlacement stays green.
"""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from kratix_py import kube as k
from kratix_py.local_platform.gitserver import GitServer
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.operator import resources as r
from kratix_py.testing.fixtures import wait_for
from tests.integration.test_operator_statestores import (
    PASSWORD,
    destination,
    git_store,
    group,
    is_commit,
    placements,
    ready,
    tree,
    work,
)

REWRITE = timedelta(seconds=2)
_repos = itertools.count()
FILES = "dev/resources/default/db/my-db/configure/5058f"


@pytest.fixture(scope="module")
def git_server() -> Iterator[GitServer]:
    with GitServer(username="kratix", password=PASSWORD, https=False) as server:
        yield server


@pytest.fixture
def repo(git_server: GitServer) -> str:
    name = f"drift-{next(_repos)}"
    git_server.create_repo(name)
    return name


@pytest.fixture
def kube(platform_factory: Callable[..., Any]) -> Iterator[k.Kube]:
    platform = platform_factory()
    client = k.Kube(platform.api_client())
    # The interval is far below the 1m minimum a person may set: tests should not wait minutes.
    settings = settings_for(str(platform.kubeconfig), state_store_reconciliation_interval=REWRITE)
    with RunningOperator(settings):
        yield client


def _written(kube: k.Kube, server: GitServer, repo: str) -> None:
    git_store(kube, server, repo)
    destination(kube, "dev", {"env": "dev"})
    ready(kube, r.DESTINATIONS, "dev")
    work(
        kube,
        "db-my-db-configure",
        group({"db.yaml": "kind: DB\n", "svc.yaml": "kind: Service\n"}),
        resource="my-db",
    )
    ready(kube, r.WORKS, "db-my-db-configure", "default", message="Ready")


def test_changed_and_deleted_files_are_written_again_within_the_interval(kube, git_server, repo):
    _written(kube, git_server, repo)
    git_server.push_as_someone_else(
        repo, {f"{FILES}/db.yaml": "kind: Tampered\n", f"{FILES}/svc.yaml": None}, "hand edit"
    )
    tampered = tree(git_server, repo)
    assert tampered[f"{FILES}/db.yaml"] == "kind: Tampered\n" and f"{FILES}/svc.yaml" not in tampered
    files = wait_for(
        lambda: (
            (t := tree(git_server, repo)).get(f"{FILES}/db.yaml") == "kind: DB\n"
            and t.get(f"{FILES}/svc.yaml") == "kind: Service\n"
            and t
        ),
        timeout=REWRITE.total_seconds() + 15,
        what="the drifted files to be written again",
    )
    assert "dev/resources/kratix-canary-configmap.yaml" in files


def test_a_force_pushed_unrelated_history_is_recovered_without_a_restart(kube, git_server, repo):
    _written(kube, git_server, repo)
    bare = str(git_server.repo_path(repo))
    old_head = git_server.head(repo)
    empty_tree = (
        subprocess.run(
            ["git", "--git-dir", bare, "hash-object", "-t", "tree", "-w", "--stdin"],
            input=b"",
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    orphan = (
        subprocess.run(
            [
                "git",
                "--git-dir",
                bare,
                "-c",
                "user.name=x",
                "-c",
                "user.email=x@x",
                "commit-tree",
                empty_tree,
                "-m",
                "rewrite history",
            ],
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    subprocess.run(["git", "--git-dir", bare, "update-ref", "refs/heads/main", orphan], check=True)
    assert tree(git_server, repo) == {}
    wait_for(
        lambda: tree(git_server, repo).get(f"{FILES}/db.yaml") == "kind: DB\n",
        timeout=REWRITE.total_seconds() + 20,
        what="the files to come back on the new history",
    )
    # Built on the new history (its root is the force-pushed commit), not on the old one.
    assert git_server.commits(repo)[-1] == "rewrite history"
    placement = wait_for(
        lambda: (
            (p := placements(kube, "db-my-db-configure")[0])
            and p.get("status", {}).get("versionID") == git_server.head(repo)
            and p
        ),
        what="the placement to report the new history's head",
    )
    assert placement["status"]["versionID"] != old_head
    assert is_commit(git_server, repo, placement["status"]["versionID"])
