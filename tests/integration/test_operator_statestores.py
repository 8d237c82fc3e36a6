"""Works -> WorkPlacements -> Git and S3, with the real operator, a real Git server and moto S3.

Works are created directly here (the work-writer's output is tested elsewhere), except in the
request test, which runs a Promise's pipeline as in test_operator_fast.py.
"""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.api.work import Workload
from kratix_py.core import conditions as cond
from kratix_py.local_platform.gitserver import GitServer
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.local_platform.s3server import S3Server
from kratix_py.operator import resources as r
from kratix_py.testing.fixtures import wait_for

PASSWORD = "s3cret-Pa55word"
DEFAULT = c.DEFAULT_WORKLOAD_GROUP_ID
_names = itertools.count()


# -- servers and the platform ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def git_server() -> Iterator[GitServer]:
    with GitServer(username="kratix", password=PASSWORD, https=False) as server:
        yield server


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


@pytest.fixture
def repo(git_server: GitServer) -> str:
    name = f"state-{next(_names)}"
    git_server.create_repo(name)
    return name


@pytest.fixture
def system(platform_factory: Callable[..., Any]) -> Iterator[tuple[k.Kube, RunningOperator]]:
    platform = platform_factory()
    kube = k.Kube(platform.api_client())
    with RunningOperator(settings_for(str(platform.kubeconfig))) as operator:
        yield kube, operator


# -- objects ---------------------------------------------------------------------------------------


def secret(kube: k.Kube, name: str, data: dict[str, str], namespace: str = "default") -> None:
    kube.create(
        k.SECRETS,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "stringData": data,
        },
    )


def git_store(
    kube: k.Kube,
    server: GitServer,
    repo: str,
    name: str = "git",
    *,
    path: str | None = None,
    password: str = PASSWORD,
) -> None:
    secret(kube, f"{name}-creds", {"username": "kratix", "password": password})
    spec: dict[str, Any] = {
        "url": server.http_url(repo),
        "secretRef": {"name": f"{name}-creds", "namespace": "default"},
    }
    if path:
        spec["path"] = path
    kube.create(
        r.GIT_STATE_STORES,
        {"apiVersion": c.API_VERSION, "kind": "GitStateStore", "metadata": {"name": name}, "spec": spec},
    )


def destination(
    kube: k.Kube,
    name: str,
    labels: dict[str, str] | None = None,
    *,
    store: str = "git",
    kind: str = "GitStateStore",
    path: str | None = None,
    **spec: Any,
) -> None:
    body = {
        "apiVersion": c.API_VERSION,
        "kind": "Destination",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"path": path or name, "stateStoreRef": {"kind": kind, "name": store}, **spec},
    }
    kube.create(r.DESTINATIONS, body)


def group(
    files: dict[str, str],
    selectors: dict[str, str] | None = None,
    *,
    directory: str = ".",
    group_id: str = DEFAULT,
    source: str = "promise",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": group_id,
        "directory": directory,
        "workloads": [Workload.from_file(path, text).to_dict() for path, text in files.items()],
    }
    if selectors:
        body["destinationSelectors"] = [{"matchLabels": selectors, "source": source}]
    return body


def work(
    kube: k.Kube,
    name: str,
    *groups: dict[str, Any],
    resource: str | None = None,
    pipeline: str | None = "configure",
    namespace: str = "default",
    promise: str = "db",
) -> None:
    labels = {c.LABEL_PROMISE_NAME: promise}
    if pipeline:
        labels[c.LABEL_PIPELINE_NAME] = pipeline
    spec: dict[str, Any] = {"promiseName": promise, "workloadGroups": list(groups)}
    if resource:
        spec["resourceName"] = resource
        labels[c.LABEL_RESOURCE_NAME] = resource
        labels[c.LABEL_WORK_TYPE] = "resource"
    else:
        labels[c.LABEL_WORK_TYPE] = "promise" if pipeline else "static-dependency"
    body = {
        "apiVersion": c.API_VERSION,
        "kind": "Work",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": spec,
    }
    kube.create(r.WORKS, body)


def condition(obj: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    return dict(cond.find(((obj or {}).get("status") or {}).get("conditions"), kind) or {})


def ready(
    kube: k.Kube,
    resource: k.Resource,
    name: str,
    namespace: str | None = None,
    *,
    message: str | None = None,
    timeout: float = 20,
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        obj = kube.get(resource, name, namespace)
        found = condition(obj, "Ready")
        if message is not None:
            return obj if found.get("message") == message else None
        return obj if found.get("status") == "True" else None

    return wait_for(
        check, timeout=timeout, what=f"{resource.kind} {name} Ready" + (f" {message}" if message else "")
    )


def placements(kube: k.Kube, work_name: str, namespace: str = "default") -> list[dict[str, Any]]:
    return sorted(
        kube.list(r.WORKPLACEMENTS, namespace, labels={c.LABEL_WORK: work_name}),
        key=lambda p: p["metadata"]["name"],
    )


def is_commit(server: GitServer, repo: str, sha: str) -> bool:
    found = subprocess.run(
        ["git", "--git-dir", str(server.repo_path(repo)), "cat-file", "-t", sha],
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout.strip() == "commit"


def keys(server: S3Server, bucket: str) -> set[str]:
    """Object keys only: listing contents races with deletes."""
    return {item["Key"] for item in server.client().list_objects_v2(Bucket=bucket).get("Contents", [])}


def tree(server: GitServer, repo: str) -> dict[str, str]:
    return {path: content.decode() for path, content in server.read_tree(repo).items()}


# -- tests -----------------------------------------------------------------------------------------


@pytest.mark.both_servers
def test_nested_layout_for_promise_output_static_dependencies_and_resources(system, git_server, repo):
    kube, _ = system
    git_store(kube, git_server, repo, path="platform")
    destination(kube, "dev", {"env": "dev"}, path="clusters/dev")
    ready(kube, r.DESTINATIONS, "dev")
    canaries = tree(git_server, repo)
    assert set(canaries) == {
        "platform/clusters/dev/dependencies/kratix-canary-namespace.yaml",
        "platform/clusters/dev/resources/kratix-canary-configmap.yaml",
    }

    work(kube, "db-promise", group({"crd.yaml": "kind: CRD\n"}), namespace=c.SYSTEM_NAMESPACE)
    work(
        kube,
        "db-static",
        group({"static/db-dependencies.yaml": "kind: Static\n"}),
        pipeline=None,
        namespace=c.SYSTEM_NAMESPACE,
    )
    work(kube, "db-my-db-configure", group({"db.yaml": "kind: DB\n", "sub/x.yaml": "x\n"}), resource="my-db")
    for name, namespace in [
        ("db-promise", c.SYSTEM_NAMESPACE),
        ("db-static", c.SYSTEM_NAMESPACE),
        ("db-my-db-configure", "default"),
    ]:
        ready(kube, r.WORKS, name, namespace, message="Ready")
    files = tree(git_server, repo)
    base = "platform/clusters/dev"
    assert files == {
        **canaries,
        f"{base}/dependencies/db/configure/5058f/crd.yaml": "kind: CRD\n",
        f"{base}/dependencies/db/5058f/static/db-dependencies.yaml": "kind: Static\n",
        f"{base}/resources/default/db/my-db/configure/5058f/db.yaml": "kind: DB\n",
        f"{base}/resources/default/db/my-db/configure/5058f/sub/x.yaml": "x\n",
    }
    wp = placements(kube, "db-my-db-configure")[0]
    assert wp["metadata"]["name"] == "db-my-db-configure.dev-5058f"
    assert condition(wp, "WriteSucceeded")["reason"] == "WorkloadsWrittenToStateStore"
    assert is_commit(git_server, repo, wp["status"]["versionID"])


def test_aggregated_yaml_and_flat_files_follow_their_works(system, git_server, repo):
    kube, _ = system
    git_store(kube, git_server, repo)
    destination(kube, "agg", {"layout": "agg"}, filepath={"mode": "aggregatedYAML"})
    destination(kube, "flat", {"layout": "flat"}, path=".", filepath={"mode": "none"})
    ready(kube, r.DESTINATIONS, "agg")
    ready(kube, r.DESTINATIONS, "flat")
    work(kube, "b-work", group({"one.yaml": "b: 1"}, {"layout": "agg"}), resource="b")
    work(kube, "a-work", group({"one.yaml": "a: 1", "two.yaml": "a: 2"}, {"layout": "agg"}), resource="a")
    work(kube, "c-work", group({"cm.yaml": "c: 1", "deep/x.yaml": "c: 2"}, {"layout": "flat"}), resource="c")
    for name in ("a-work", "b-work", "c-work"):
        ready(kube, r.WORKS, name, "default", message="Ready")
    files = wait_for(
        lambda: (
            (t := tree(git_server, repo)).get("agg/aggregated.yaml") == "a: 1\n---\na: 2\n---\nb: 1" and t
        ),
        what="both Works in the aggregated file, sorted by placement name",
    )
    record = ".kratix/default-c-work.flat-5058f.yaml"
    assert files["cm.yaml"] == "c: 1" and files["deep/x.yaml"] == "c: 2"
    assert yaml.safe_load(files[record]) == {"files": ["cm.yaml", "deep/x.yaml"]}
    assert {"agg/kratix-canary-namespace.yaml", "kratix-canary-configmap.yaml"} <= set(files)
    flat = placements(kube, "c-work")[0]
    assert set(flat["metadata"]["finalizers"]) == {
        c.FINALIZER_WORKPLACEMENT_REPO_CLEANUP,
        c.FINALIZER_WORKPLACEMENT_DOT_FILES_CLEANUP,
    }

    # A file dropped from the output disappears; a Work that goes is cut out of the aggregate.
    kube.patch(
        r.WORKS,
        "c-work",
        {"spec": {"workloadGroups": [group({"cm.yaml": "c: 3"}, {"layout": "flat"})]}},
        "default",
    )
    kube.delete(r.WORKS, "a-work", "default")
    files = wait_for(
        lambda: (
            (t := tree(git_server, repo)).get("cm.yaml") == "c: 3"
            and "deep/x.yaml" not in t
            and t.get("agg/aggregated.yaml") == "b: 1"
            and t
        ),
        what="the dropped file removed and a-work cut out of the aggregate",
    )
    assert yaml.safe_load(files[record]) == {"files": ["cm.yaml"]}

    kube.delete(r.WORKS, "b-work", "default")
    kube.delete(r.WORKS, "c-work", "default")
    files = wait_for(
        lambda: (t := tree(git_server, repo)) and "agg/aggregated.yaml" not in t and "cm.yaml" not in t and t,
        what="the last Works' files removed",
    )
    assert record not in files
    assert "kratix-canary-namespace.yaml" in files, "the canaries stay"


@pytest.mark.both_servers
def test_wrong_credentials_give_a_clear_condition_without_the_password_and_recover(
    system, git_server, repo, caplog
):
    kube, _ = system
    wrong = "wrong-Pa55word-xyz"
    git_store(kube, git_server, repo, password=wrong)
    destination(kube, "dev")
    work(kube, "deps", group({"a.yaml": "a: 1\n"}), namespace=c.SYSTEM_NAMESPACE)
    store = wait_for(
        lambda: (
            (o := kube.get(r.GIT_STATE_STORES, "git"))
            and condition(o, "Ready").get("status") == "False"
            and o
        ),
        what="the store to report the bad credentials",
    )
    store_ready = condition(store, "Ready")
    assert store_ready["reason"] == "ErrorValidatingPermissions"
    assert "AuthenticationFailed" in store_ready["message"] and "username/password" in store_ready["message"]
    assert store["status"]["status"] == "NotReady"
    dest = wait_for(
        lambda: (
            (o := kube.get(r.DESTINATIONS, "dev"))
            and condition(o, "Ready").get("reason") == "StateStoreNotReady"
            and o
        ),
        what="the Destination to say its store is not ready",
    )
    assert "GitStateStore/git: not ready" in condition(dest, "Ready")["message"]
    assert "Authentication failed" in store_ready["message"]
    failing = ready(kube, r.WORKS, "deps", c.SYSTEM_NAMESPACE, message="Failing")
    assert condition(failing, "Ready")["reason"] == "WorkplacementsFailing"
    wp = placements(kube, "deps", c.SYSTEM_NAMESPACE)[0]
    assert condition(wp, "WriteSucceeded")["status"] == "False"
    assert "not ready" in condition(wp, "WriteSucceeded")["message"]

    kube.patch(
        k.SECRETS,
        "git-creds",
        {"data": {"password": base64.b64encode(PASSWORD.encode()).decode()}},
        "default",
    )
    ready(kube, r.GIT_STATE_STORES, "git")
    ready(kube, r.DESTINATIONS, "dev")
    ready(kube, r.WORKS, "deps", c.SYSTEM_NAMESPACE, message="Ready")
    assert tree(git_server, repo)["dev/dependencies/db/configure/5058f/a.yaml"] == "a: 1\n"

    everything = json.dumps(
        [
            kube.get(r.GIT_STATE_STORES, "git"),
            kube.get(r.DESTINATIONS, "dev"),
            *placements(kube, "deps", c.SYSTEM_NAMESPACE),
            *kube.list(k.EVENTS),
        ]
    )
    assert wrong not in everything and PASSWORD not in everything
    assert wrong not in caplog.text and PASSWORD not in caplog.text
    reasons = {e["reason"] for e in kube.list(k.EVENTS)}
    assert {
        "ErrorValidatingPermissions",
        "FailedWriteToDestination",
        "WorkloadsWrittenToStateStore",
    } <= reasons


def test_a_missing_secret_is_named_and_creating_it_makes_the_store_ready(system, git_server, repo):
    kube, _ = system
    spec = {"url": git_server.http_url(repo), "secretRef": {"name": "later", "namespace": "default"}}
    kube.create(
        r.GIT_STATE_STORES,
        {"apiVersion": c.API_VERSION, "kind": "GitStateStore", "metadata": {"name": "git"}, "spec": spec},
    )
    store = wait_for(
        lambda: (
            (o := kube.get(r.GIT_STATE_STORES, "git"))
            and condition(o, "Ready").get("reason") == "SecretNotFound"
            and o
        ),
        what="SecretNotFound",
    )
    assert "default/later" in condition(store, "Ready")["message"]
    secret(kube, "later", {"username": "kratix", "password": PASSWORD})
    ready(kube, r.GIT_STATE_STORES, "git", timeout=10)


def test_ssh_store(system, git_server, repo):
    kube, _ = system
    secret(
        kube, "ssh-creds", {"sshPrivateKey": git_server.ssh_private_key, "knownHosts": git_server.known_hosts}
    )
    spec = {
        "url": git_server.ssh_url(repo),
        "authMethod": "ssh",
        "secretRef": {"name": "ssh-creds", "namespace": "default"},
    }
    kube.create(
        r.GIT_STATE_STORES,
        {"apiVersion": c.API_VERSION, "kind": "GitStateStore", "metadata": {"name": "git"}, "spec": spec},
    )
    destination(kube, "dev", path=".")
    work(kube, "db-my-db-configure", group({"db.yaml": "kind: DB\n"}), resource="my-db")
    ready(kube, r.WORKS, "db-my-db-configure", "default", message="Ready")
    files = tree(git_server, repo)
    assert files["resources/default/db/my-db/configure/5058f/db.yaml"] == "kind: DB\n"
    assert "dependencies/kratix-canary-namespace.yaml" in files


@pytest.mark.both_servers
def test_bucket_store_writes_and_prunes_objects(system, s3_server):
    kube, _ = system
    bucket = f"kratix-{next(_names)}"
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
    destination(kube, "dev", store="s3", kind="BucketStateStore")
    ready(kube, r.BUCKET_STATE_STORES, "s3")
    work(kube, "db-my-db-configure", group({"db.yaml": "kind: DB\n", "old.yaml": "x"}), resource="my-db")
    ready(kube, r.WORKS, "db-my-db-configure", "default", message="Ready")
    prefix = "kratix/dev/resources/default/db/my-db/configure/5058f"
    objects = s3_server.list_objects(bucket)
    assert objects[f"{prefix}/db.yaml"] == b"kind: DB\n" and f"{prefix}/old.yaml" in objects
    assert "kratix/dev/dependencies/kratix-canary-namespace.yaml" in objects
    version = placements(kube, "db-my-db-configure")[0]["status"]["versionID"]
    assert len(version) == 64

    kube.patch(
        r.WORKS,
        "db-my-db-configure",
        {"spec": {"workloadGroups": [group({"db.yaml": "kind: DB2\n"})]}},
        "default",
    )
    wait_for(
        lambda: f"{prefix}/old.yaml" not in keys(s3_server, bucket), what="the dropped object to be pruned"
    )
    assert s3_server.list_objects(bucket)[f"{prefix}/db.yaml"] == b"kind: DB2\n"
    kube.delete(r.WORKS, "db-my-db-configure", "default")
    wait_for(lambda: kube.get(r.WORKS, "db-my-db-configure", "default") is None, what="the Work to go")
    assert not any(key.startswith(prefix) for key in keys(s3_server, bucket))


def test_deleting_a_work_whose_destination_is_gone_does_not_get_stuck(system, git_server, repo):
    """No Destination: nobody knows where its files went, so there is nothing to clean."""
    kube, _ = system
    git_store(kube, git_server, repo)
    destination(kube, "dev")
    work(kube, "w", group({"a.yaml": "a"}), resource="r")
    ready(kube, r.WORKS, "w", "default", message="Ready")
    kube.delete(r.DESTINATIONS, "dev")
    kube.delete(r.WORKS, "w", "default")
    wait_for(lambda: kube.get(r.WORKS, "w", "default") is None, timeout=10, what="the Work to go")
    assert placements(kube, "w") == []


def _blocked(kube: k.Kube) -> dict[str, Any]:
    """The placement and its Work say why the deletion waits, naming what is missing."""

    def check() -> dict[str, Any] | None:
        wps = placements(kube, "w")
        written = condition(wps[0], "WriteSucceeded") if wps else {}
        work_ready = condition(kube.get(r.WORKS, "w", "default"), "Ready")
        if written.get("status") == "False" and work_ready.get("reason") == "CleanupBlocked":
            return {"placement": wps[0], "written": written, "work": work_ready}
        return None

    return wait_for(check, timeout=20, what="the blocked cleanup to be reported")


def test_a_secret_missing_during_a_deletion_keeps_the_files_owned_until_it_is_back(system, git_server, repo):
    """Secret rotation by delete and re-create: the placement keeps its finalizer, says which
    Secret is missing, and removes the files once the Secret is back."""
    kube, _ = system
    git_store(kube, git_server, repo)
    destination(kube, "dev")
    work(kube, "w", group({"a.yaml": "a"}), resource="r")
    ready(kube, r.WORKS, "w", "default", message="Ready")
    path = "dev/resources/default/db/r/configure/5058f/a.yaml"
    assert path in tree(git_server, repo)
    kube.delete(k.SECRETS, "git-creds", "default")
    kube.delete(r.WORKS, "w", "default")
    blocked = _blocked(kube)
    assert "git-creds" in blocked["written"]["message"] and "not found" in blocked["written"]["message"]
    assert c.ANNOTATION_ABANDON_CLEANUP in blocked["written"]["message"], "the way out is named"
    assert c.FINALIZER_WORKPLACEMENT_REPO_CLEANUP in blocked["placement"]["metadata"]["finalizers"]
    warnings = [
        e for e in kube.list(k.EVENTS, "default")
        if e["type"] == "Warning" and e["involvedObject"]["name"] == blocked["placement"]["metadata"]["name"]
    ]  # fmt: skip
    assert warnings, "a Warning Event on the placement"
    assert path in tree(git_server, repo), "the files are still owned, not forgotten"

    secret(kube, "git-creds", {"username": "kratix", "password": PASSWORD})  # rotated back in
    wait_for(lambda: kube.get(r.WORKS, "w", "default") is None, timeout=90, what="the Work to go")
    assert path not in tree(git_server, repo), "the files were removed once the Secret was back"


def test_a_deleted_store_blocks_cleanup_until_it_is_abandoned_explicitly(system, git_server, repo):
    kube, _ = system
    git_store(kube, git_server, repo)
    destination(kube, "dev")
    work(kube, "w", group({"a.yaml": "a"}), resource="r")
    ready(kube, r.WORKS, "w", "default", message="Ready")
    kube.delete(r.GIT_STATE_STORES, "git")
    kube.delete(r.WORKS, "w", "default")
    blocked = _blocked(kube)
    assert "GitStateStore/git: not found" in blocked["written"]["message"]
    kube.patch(r.WORKS, "w", {"metadata": {"annotations": {c.ANNOTATION_ABANDON_CLEANUP: "true"}}}, "default")
    wait_for(lambda: kube.get(r.WORKS, "w", "default") is None, timeout=60, what="the abandoned Work to go")
    reasons = {e["reason"] for e in kube.list(k.EVENTS, "default") if e["type"] == "Warning"}
    assert "CleanupAbandoned" in reasons, "leaving the files behind is announced"
    assert "dev/resources/default/db/r/configure/5058f/a.yaml" in tree(git_server, repo), "left, as asked"


def test_placements_created_together_are_written_in_few_commits(system, git_server, repo):
    kube, operator = system
    count = 12
    git_store(kube, git_server, repo)
    for index in range(count):
        destination(kube, f"cluster-{index}")
    for index in range(count):
        ready(kube, r.DESTINATIONS, f"cluster-{index}")
    canary_commits = len(git_server.commits(repo))
    assert canary_commits <= 4, f"{count} Destinations' canaries took {canary_commits} commits"

    work(
        kube,
        "deps",
        group({"crd.yaml": "kind: CRD\n", "rbac.yaml": "kind: Role\n"}),
        namespace=c.SYSTEM_NAMESPACE,
    )
    ready(kube, r.WORKS, "deps", c.SYSTEM_NAMESPACE, message="Ready")
    assert len(placements(kube, "deps", c.SYSTEM_NAMESPACE)) == count
    commits = git_server.commits(repo)[: len(git_server.commits(repo)) - canary_commits]
    assert 1 <= len(commits) <= 3, f"{count} placements took {len(commits)} commits: {commits}"
    assert "deps.cluster-" in commits[0]
    files = tree(git_server, repo)
    assert all(f"cluster-{i}/dependencies/db/configure/5058f/crd.yaml" in files for i in range(count))

    # A restart writes every placement again (drift repair); unchanged files make no commit.
    before = git_server.commits(repo)
    operator.restart()
    names = [p["metadata"]["name"] for p in placements(kube, "deps", c.SYSTEM_NAMESPACE)]
    stores = operator.operator.stores
    wait_for(
        lambda: all(
            (o := stores.outcome(("workplacement", c.SYSTEM_NAMESPACE, n))) is not None and o.ok
            for n in names
        ),
        what="every placement written again after the restart",
    )
    assert git_server.commits(repo) == before


def test_a_workload_path_leaving_its_directory_fails_that_placement_only(system, git_server, repo):
    kube, _ = system
    git_store(kube, git_server, repo)
    destination(kube, "dev")
    ready(kube, r.DESTINATIONS, "dev")
    work(kube, "bad", group({"../../escape.yaml": "x"}), resource="bad")
    work(kube, "good", group({"ok.yaml": "ok"}), resource="good")
    ready(kube, r.WORKS, "good", "default", message="Ready")
    ready(kube, r.WORKS, "bad", "default", message="Failing")
    written = condition(placements(kube, "bad")[0], "WriteSucceeded")
    assert (
        written["status"] == "False"
        and "'../../escape.yaml'" in written["message"]
        and "'..'" in written["message"]
    )
    assert not any("escape" in path for path in tree(git_server, repo))


def test_destination_cleanup_all_removes_its_files_and_requests_move_on(system, git_server, repo):
    kube, _ = system
    git_store(kube, git_server, repo)
    destination(kube, "old", {"env": "dev"}, cleanup="all")
    work(kube, "w", group({"a.yaml": "a"}, {"env": "dev"}), resource="r")
    ready(kube, r.WORKS, "w", "default", message="Ready")
    assert "old/resources/default/db/r/configure/5058f/a.yaml" in tree(git_server, repo)
    assert c.FINALIZER_DESTINATION_CLEANUP in kube.get(r.DESTINATIONS, "old")["metadata"]["finalizers"]

    destination(kube, "new", {"env": "dev"})
    kube.delete(r.DESTINATIONS, "old")
    wait_for(lambda: kube.get(r.DESTINATIONS, "old") is None, what="the Destination to go")
    files = wait_for(
        lambda: (
            (t := tree(git_server, repo)) and "new/resources/default/db/r/configure/5058f/a.yaml" in t and t
        ),
        what="the request's group rescheduled on the remaining Destination",
    )
    assert not any(path.startswith("old/") for path in files), (
        "files and canaries of the deleted Destination removed"
    )
    assert [p["spec"]["targetDestinationName"] for p in placements(kube, "w")] == ["new"]


def test_disabling_init_workloads_removes_the_canaries(system, git_server, repo):
    kube, _ = system
    git_store(kube, git_server, repo)
    destination(kube, "dev")
    assert condition(ready(kube, r.DESTINATIONS, "dev"), "Ready")["reason"] == "TestDocumentsWritten"
    assert len(tree(git_server, repo)) == 2
    kube.patch(r.DESTINATIONS, "dev", {"spec": {"initWorkloads": {"enabled": False}}})
    wait_for(
        lambda: condition(kube.get(r.DESTINATIONS, "dev"), "Ready").get("reason") == "DestinationReady",
        what="Ready DestinationReady",
    )
    assert tree(git_server, repo) == {}


def test_a_failed_write_marks_the_store_and_its_destinations_not_ready_at_once(system, git_server, repo):
    # Issue 11, item 5: they stayed Ready until the next periodic check, up to 10 minutes later.
    kube, _ = system
    git_store(kube, git_server, repo)
    destination(kube, "dev")
    work(kube, "deps", group({"a.yaml": "a: 1\n"}), namespace=c.SYSTEM_NAMESPACE)
    ready(kube, r.WORKS, "deps", c.SYSTEM_NAMESPACE, message="Ready")
    ready(kube, r.GIT_STATE_STORES, "git")
    ready(kube, r.DESTINATIONS, "dev")
    git_server.rotate_password("rotated-Pa55word")
    try:
        kube.patch(
            r.WORKS,
            "deps",
            {"spec": {"workloadGroups": [group({"a.yaml": "a: 2\n"})]}},
            c.SYSTEM_NAMESPACE,
        )
        store = wait_for(
            lambda: (
                (o := kube.get(r.GIT_STATE_STORES, "git"))
                and condition(o, "Ready").get("status") == "False"
                and o
            ),
            timeout=15,
            what="the store to turn not Ready after its write failed",
        )
        assert "AuthenticationFailed" in condition(store, "Ready")["message"]
        wait_for(
            lambda: condition(kube.get(r.DESTINATIONS, "dev"), "Ready").get("reason") == "StateStoreNotReady",
            timeout=15,
            what="the Destination to follow its store",
        )
    finally:
        git_server.rotate_password(PASSWORD)
    ready(kube, r.GIT_STATE_STORES, "git", timeout=90)
    ready(kube, r.WORKS, "deps", c.SYSTEM_NAMESPACE, message="Ready", timeout=90)
    assert tree(git_server, repo)["dev/dependencies/db/configure/5058f/a.yaml"] == "a: 2\n"
