"""A Destination whose ``spec.path`` changes moves its files: written under the new path, removed
from the old one, remembered across operator restarts; a move into another Destination's
directory is refused. Against the real Git server and a moto S3 bucket."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.operator import resources as r
from kratix_py.testing.fixtures import wait_for

from .test_operator_statestores import (
    condition,
    destination,
    git_store,
    group,
    keys,
    placements,
    ready,
    secret,
    tree,
    work,
)
from .test_operator_statestores import git_server as git_server
from .test_operator_statestores import repo as repo
from .test_operator_statestores import s3_server as s3_server


@pytest.fixture
def cluster(platform_factory: Callable[..., Any]) -> Iterator[tuple[k.Kube, Callable[[], RunningOperator]]]:
    """The platform without the operator: tests start (and restart) it themselves."""
    platform = platform_factory()
    kube = k.Kube(platform.api_client())
    yield kube, lambda: RunningOperator(settings_for(str(platform.kubeconfig)))


def _under(paths: set[str] | dict[str, Any], prefix: str) -> list[str]:
    return sorted(path for path in paths if path.startswith(prefix + "/"))


def _commits(server: Any, repo: str) -> int:
    found = subprocess.run(
        ["git", "--git-dir", str(server.repo_path(repo)), "rev-list", "--count", "HEAD"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(found.stdout)


def _moved_event(kube: k.Kube, name: str) -> str | None:
    for event in kube.list(k.EVENTS):
        if event.get("reason") == "PathMoved" and (event.get("involvedObject") or {}).get("name") == name:
            return str(event.get("message"))
    return None


def _move(kube: k.Kube, name: str, path: str) -> None:
    kube.patch(r.DESTINATIONS, name, {"spec": {"path": path}})


def _written_everywhere(kube: k.Kube, *works: str) -> None:
    for name in works:
        ready(kube, r.WORKS, name, "default", message="Ready")


@pytest.mark.both_servers
def test_every_layout_moves_to_the_new_path_and_stays_moved_after_a_restart(cluster, git_server, repo):
    kube, operator = cluster
    git_store(kube, git_server, repo)
    destination(kube, "nested", {"layout": "nested"}, path="old-nested")
    destination(kube, "agg", {"layout": "agg"}, path="old-agg", filepath={"mode": "aggregatedYAML"})
    destination(kube, "flat", {"layout": "flat"}, path="old-flat", filepath={"mode": "none"})
    with operator():
        work(kube, "n-work", group({"db.yaml": "n: 1"}, {"layout": "nested"}), resource="n")
        work(kube, "a-work", group({"one.yaml": "a: 1"}, {"layout": "agg"}), resource="a")
        work(
            kube,
            "f-work",
            group({"cm.yaml": "f: 1", "deep/x.yaml": "f: 2"}, {"layout": "flat"}),
            resource="f",
        )
        _written_everywhere(kube, "n-work", "a-work", "f-work")
        before = wait_for(
            lambda: (
                (t := tree(git_server, repo)) and "old-flat/.kratix/default-f-work.flat-5058f.yaml" in t and t
            ),
            what="the files under the old paths",
        )
        assert "old-nested/resources/default/db/n/configure/5058f/db.yaml" in before
        assert before["old-agg/aggregated.yaml"] == "a: 1"
        assert {"old-flat/cm.yaml", "old-flat/deep/x.yaml", "old-flat/kratix-canary-namespace.yaml"} <= set(
            before
        )

        commits = _commits(git_server, repo)
        for name, path in (("nested", "new/nested"), ("agg", "new-agg"), ("flat", "new-flat")):
            _move(kube, name, path)
        moved = wait_for(
            lambda: (
                (t := tree(git_server, repo))
                and not _under(t, "old-nested")
                and not _under(t, "old-agg")
                and not _under(t, "old-flat")
                and "new-flat/.kratix/default-f-work.flat-5058f.yaml" in t
                and "new-agg/aggregated.yaml" in t
                and t
            ),
            what="every file under its new path and none under the old ones",
        )
        # Removals ride with the canaries, and those with the rewrites: one commit here (2 allowed
        # for a batch window split on a busy machine), never one per file or Destination.
        assert _commits(git_server, repo) - commits <= 2, _commits(git_server, repo) - commits
        assert moved["new/nested/resources/default/db/n/configure/5058f/db.yaml"] == "n: 1"
        assert "new/nested/dependencies/kratix-canary-namespace.yaml" in moved
        assert moved["new-agg/aggregated.yaml"] == "a: 1"
        assert moved["new-flat/cm.yaml"] == "f: 1" and moved["new-flat/deep/x.yaml"] == "f: 2"
        message = wait_for(lambda: _moved_event(kube, "flat"), what="the PathMoved Event")
        assert "'old-flat'" in message and "'new-flat'" in message
        recorded = kube.get(r.DESTINATIONS, "nested")["metadata"]["annotations"]
        assert '"path": "new/nested"' in recorded[c.ANNOTATION_DESTINATION_WRITTEN_TO]
        _written_everywhere(kube, "n-work", "a-work", "f-work")

    # A new operator process writes every placement again (its write outcomes were in memory):
    # only under the new paths.
    with operator() as restarted:
        assert restarted.operator is not None
        queue = restarted.operator.queue
        wait_for(lambda: queue.reconciles > 10 and queue.idle(), what="the restarted operator to settle")
        time.sleep(1.0)  # a batch window and more
        after = tree(git_server, repo)
        assert (
            not _under(after, "old-nested") and not _under(after, "old-agg") and not _under(after, "old-flat")
        )
        assert after["new-flat/cm.yaml"] == "f: 1"
        for name in ("nested", "agg", "flat"):
            assert condition(kube.get(r.DESTINATIONS, name), "Ready").get("status") == "True"


def test_a_bucket_store_destination_moves_its_objects(cluster, s3_server):
    kube, operator = cluster
    bucket = "kratix-moves"
    s3_server.create_bucket(bucket)
    secret(kube, "s3-creds", s3_server.secret_data)
    spec = {
        "endpoint": s3_server.endpoint,
        "bucketName": bucket,
        "path": "kratix",
        "insecure": True,
        "secretRef": {"name": "s3-creds", "namespace": "default"},
    }
    kube.create(
        r.BUCKET_STATE_STORES,
        {"apiVersion": c.API_VERSION, "kind": "BucketStateStore", "metadata": {"name": "s3"}, "spec": spec},
    )
    destination(kube, "dev", store="s3", kind="BucketStateStore", path="before")
    with operator():
        work(kube, "db-my-db-configure", group({"db.yaml": "kind: DB\n"}), resource="my-db")
        _written_everywhere(kube, "db-my-db-configure")
        assert "kratix/before/resources/default/db/my-db/configure/5058f/db.yaml" in keys(s3_server, bucket)
        _move(kube, "dev", "after")
        wait_for(
            lambda: (
                not _under(keys(s3_server, bucket), "kratix/before")
                and "kratix/after/resources/default/db/my-db/configure/5058f/db.yaml"
                in keys(s3_server, bucket)
            ),
            what="the objects under the new path only",
        )
        assert "kratix/after/dependencies/kratix-canary-namespace.yaml" in keys(s3_server, bucket)
        wait_for(lambda: _moved_event(kube, "dev"), what="the PathMoved Event")
    with operator() as restarted:
        assert restarted.operator is not None
        queue = restarted.operator.queue
        wait_for(lambda: queue.reconciles > 4 and queue.idle(), what="the restarted operator to settle")
        time.sleep(1.0)
        assert not _under(keys(s3_server, bucket), "kratix/before")
        assert placements(kube, "db-my-db-configure")[0]["status"]["versionID"]


def test_moving_into_another_destinations_path_is_refused_and_leaves_both_as_they_were(
    cluster, git_server, repo
):
    kube, operator = cluster
    git_store(kube, git_server, repo)
    destination(kube, "first", {"env": "first"}, path="first")  # the older one: it moves
    with operator():
        ready(kube, r.DESTINATIONS, "first")
        destination(kube, "second", {"env": "second"}, path="second")
        work(kube, "one", group({"a.yaml": "one: 1"}, {"env": "first"}), resource="one")
        work(kube, "two", group({"b.yaml": "two: 2"}, {"env": "second"}), resource="two")
        _written_everywhere(kube, "one", "two")
        before = tree(git_server, repo)

        _move(kube, "first", "second/")
        refused = wait_for(
            lambda: (
                (found := condition(kube.get(r.DESTINATIONS, "first"), "Ready")).get("reason")
                == "PathConflict"
                and found
            ),
            what="the move to be refused",
        )
        assert "Destination second already writes to path 'second/'" in refused["message"]
        assert condition(kube.get(r.DESTINATIONS, "second"), "Ready").get("status") == "True"
        time.sleep(1.0)
        after = tree(git_server, repo)
        assert _under(after, "first") == _under(before, "first"), "nothing moved out of the old path"
        assert {p: after[p] for p in _under(after, "second")} == {
            p: before[p] for p in _under(before, "second")
        }

        _move(kube, "first", "../outside")  # out of the store: refused the same way, nothing moves
        unsafe = wait_for(
            lambda: (
                (found := condition(kube.get(r.DESTINATIONS, "first"), "Ready")).get("status") == "False"
                and "outside" in found.get("message", "")
                and found
            ),
            what="the unsafe path to be refused",
        )
        assert "'../outside' contains '..'" in unsafe["message"], unsafe
        time.sleep(1.0)
        assert _under(tree(git_server, repo), "first") == _under(before, "first")

        _move(kube, "first", "elsewhere")  # a free path: the move goes ahead
        wait_for(
            lambda: (t := tree(git_server, repo)) and not _under(t, "first") and _under(t, "elsewhere"),
            what="the move to a free path",
        )
        assert ready(kube, r.DESTINATIONS, "first")


def test_two_destinations_swapping_paths_keep_each_others_files(cluster, git_server, repo):
    kube, operator = cluster
    git_store(kube, git_server, repo)
    destination(kube, "a", {"env": "a", "shared": "yes"}, path="one")
    destination(kube, "b", {"env": "b", "shared": "yes"}, path="two")
    with operator():
        work(kube, "only-a", group({"a.yaml": "a: 1"}, {"env": "a"}), resource="only-a")
        work(kube, "only-b", group({"b.yaml": "b: 1"}, {"env": "b"}), resource="only-b")
        # Promise output (no request) goes to every matching Destination: the same directory on both.
        work(kube, "both", group({"s.yaml": "s: 1"}, {"shared": "yes"}))
        _written_everywhere(kube, "only-a", "only-b", "both")
        wait_for(lambda: len(placements(kube, "both")) == 2, what="the shared Work on both Destinations")
        _move(kube, "a", "two")  # refused until b has moved out
        wait_for(
            lambda: condition(kube.get(r.DESTINATIONS, "a"), "Ready").get("reason") == "PathConflict",
            what="a's move to be refused while b is there",
        )
        _move(kube, "b", "one")
        prefix = "resources/default/db"
        swapped = wait_for(
            lambda: (
                (t := tree(git_server, repo))
                and f"one/{prefix}/only-b/configure/5058f/b.yaml" in t
                and f"two/{prefix}/only-a/configure/5058f/a.yaml" in t
                and not _under(t, f"one/{prefix}/only-a")
                and not _under(t, f"two/{prefix}/only-b")
                and t
            ),
            timeout=40,
            what="each Destination's own files under its new path, the other's gone",
        )
        # The Promise's Work is under both paths still: neither move removed what the other writes.
        assert "one/dependencies/db/configure/5058f/s.yaml" in swapped
        assert "two/dependencies/db/configure/5058f/s.yaml" in swapped
        assert "one/dependencies/kratix-canary-namespace.yaml" in swapped
        assert "two/dependencies/kratix-canary-namespace.yaml" in swapped
        ready(kube, r.DESTINATIONS, "a")
        ready(kube, r.DESTINATIONS, "b")
