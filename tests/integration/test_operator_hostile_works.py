"""Works that try to act for someone else, and placements that share files (issue 13 items 1, 2).

The real operator on the local platform (fast pods), a real Git server with basic auth: a forged
Work carrying another request's labels is refused and never touches that request's files; on a
``filepath.mode: none`` Destination two placements claiming one path both report the clash, the
bookkeeping in ``.kratix/`` cannot be written by pipeline output, and no deletion removes a file
another placement still claims. Also the warning conditions: a Git store reached with credentials
over plain http://, and a Promise whose pipelines are broader or more broken than they should be.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.core.ownership import FORGED_IDENTITY_REASON
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.operator import resources as r
from kratix_py.testing.fixtures import ADAPTER_IMAGE, wait_for

from .test_operator_fast import REDIS, install, promise_body, request_body
from .test_operator_statestores import (
    PASSWORD,
    condition,
    destination,
    git_store,
    group,
    placements,
    ready,
    tree,
    work,
)
from .test_operator_statestores import git_server as git_server
from .test_operator_statestores import repo as repo

REQUEST_FILE = "dev/resources/default/redis/my-redis/first/5058f/redis.yaml"


def _write_redis(ctx: Any, obj: dict[str, Any]) -> None:
    (ctx.path("/kratix/output") / "redis.yaml").write_text(
        yaml.safe_dump(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": obj["metadata"]["name"]}}
        )
    )


@pytest.fixture
def system(platform_factory: Callable[..., Any]) -> Iterator[tuple[k.Kube, RunningOperator]]:
    def first(ctx: Any) -> int:
        obj = yaml.safe_load((ctx.path("/kratix/input") / "object.yaml").read_text())
        _write_redis(ctx, obj)
        return 0

    platform = platform_factory(pods="fast", steps={"test/first:v1": first})
    kube = k.Kube(platform.api_client())
    settings = settings_for(str(platform.kubeconfig), pipeline_adapter_image=ADAPTER_IMAGE)
    with RunningOperator(settings) as operator:
        yield kube, operator


def _events(kube: k.Kube, name: str, namespace: str | None = "default") -> list[dict[str, Any]]:
    return [e for e in kube.list(k.EVENTS, namespace) if (e.get("involvedObject") or {}).get("name") == name]


# -- item 1: forged Works ---------------------------------------------------------------------------------


def test_a_work_claiming_another_request_is_refused_and_never_touches_its_files(system, git_server, repo):
    kube, _ = system
    git_store(kube, git_server, repo)
    destination(kube, "dev")
    install(kube, promise_body("first"))
    kube.create(REDIS, request_body())
    request = wait_for(
        lambda: (
            (o := kube.get(REDIS, "my-redis", "default"))
            and condition(o, "Reconciled").get("status") == "True"
            and o
        ),
        timeout=60,
        what="the request to be reconciled",
    )
    real = wait_for(
        lambda: kube.list(r.WORKS, "default", labels={c.LABEL_RESOURCE_NAME: "my-redis"}),
        what="the request's Work",
    )
    assert len(real) == 1
    assert real[0]["metadata"]["ownerReferences"] == [
        {
            "apiVersion": REDIS.api_version,
            "kind": "Redis",
            "name": "my-redis",
            "uid": request["metadata"]["uid"],
            "controller": True,
        }
    ]
    original = wait_for(lambda: tree(git_server, repo).get(REQUEST_FILE), what="the request's file in Git")

    # What a pipeline's service account could do: a Work with the victim's labels and names.
    forged = copy.deepcopy(real[0]["metadata"]["labels"])
    kube.create(
        r.WORKS,
        {
            "apiVersion": c.API_VERSION,
            "kind": "Work",
            "metadata": {"name": "forged", "namespace": "default", "labels": forged},
            "spec": {
                "promiseName": "redis",
                "resourceName": "my-redis",
                "workloadGroups": [group({"redis.yaml": "forged: true\n"})],
            },
        },
    )
    refused = wait_for(
        lambda: (
            (o := kube.get(r.WORKS, "forged", "default"))
            and condition(o, "Ready").get("reason") == FORGED_IDENTITY_REASON
            and o
        ),
        what="the forged Work to be refused",
    )
    ready_condition = condition(refused, "Ready")
    assert ready_condition["status"] == "False"
    assert (
        "claims request default/my-redis of Promise redis but has no owner reference"
        in ready_condition["message"]
    )
    assert request["metadata"]["uid"] in ready_condition["message"]
    assert c.FINALIZER_WORK_CLEANUP not in (refused["metadata"].get("finalizers") or [])
    warnings = [e for e in _events(kube, "forged") if e["reason"] == FORGED_IDENTITY_REASON]
    assert len(warnings) == 1 and warnings[0]["type"] == "Warning"
    assert placements(kube, "forged") == []

    # An owner reference that is not the request's uid does not help either.
    attacker = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "x",
        "uid": "uid-attacker",
        "controller": True,
    }
    kube.patch(r.WORKS, "forged", {"metadata": {"ownerReferences": [attacker]}}, "default")
    wait_for(
        lambda: (
            "is owned by uid uid-attacker"
            in condition(kube.get(r.WORKS, "forged", "default"), "Ready")["message"]
        ),
        what="the re-owned forged Work to be refused again",
    )
    assert placements(kube, "forged") == []

    # The victim is untouched: its file, its status, and its reruns (one Work of its own, not two).
    assert tree(git_server, repo)[REQUEST_FILE] == original
    victim = kube.get(REDIS, "my-redis", "default")
    assert condition(victim, "WorksSucceeded")["status"] == "True"
    assert condition(victim, "Reconciled")["status"] == "True"
    kube.patch(
        REDIS, "my-redis", {"metadata": {"labels": {c.LABEL_MANUAL_RECONCILIATION: "true"}}}, "default"
    )
    forged_generation = kube.get(r.WORKS, "forged", "default")["metadata"]["generation"]

    def succeeded_runs() -> int:
        jobs = kube.list(k.JOBS, "default", labels={c.LABEL_RESOURCE_NAME: "my-redis"})
        return sum(1 for job in jobs if (job.get("status") or {}).get("succeeded"))

    # The rerun's output is the same, so its Work may keep its generation (the run can fall in the
    # same second as the first, and lastExecutionTimestamp has seconds): count the runs instead.
    wait_for(lambda: succeeded_runs() == 2, timeout=120, what="the victim's rerun to succeed")
    wait_for(
        lambda: (
            (o := kube.get(REDIS, "my-redis", "default"))
            and c.LABEL_MANUAL_RECONCILIATION not in (o["metadata"].get("labels") or {})
            and condition(o, "Reconciled").get("status") == "True"
            and condition(o, "ConfigureWorkflowCompleted").get("status") == "True"
        ),
        what="the victim to be reconciled after its rerun",
    )
    # The rerun wrote its own Work, never the forged one next to it.
    mine = kube.list(r.WORKS, "default", labels={c.LABEL_RESOURCE_NAME: "my-redis"})
    assert sorted(w["metadata"]["name"] for w in mine) == sorted([real[0]["metadata"]["name"], "forged"])
    assert kube.get(r.WORKS, "forged", "default")["metadata"]["generation"] == forged_generation
    assert placements(kube, "forged") == []

    # Deleting the forged Work removes nothing of the victim's.
    kube.delete(r.WORKS, "forged", "default")
    wait_for(lambda: kube.get(r.WORKS, "forged", "default") is None, what="the forged Work to go")
    assert tree(git_server, repo)[REQUEST_FILE] == original
    assert condition(kube.get(REDIS, "my-redis", "default"), "Reconciled")["status"] == "True"


# -- item 2: filepath.mode none ---------------------------------------------------------------------------


def test_flat_placements_sharing_a_path_both_report_it_and_never_delete_each_others_files(
    system, git_server, repo
):
    kube, _ = system
    git_store(kube, git_server, repo)
    destination(kube, "flat", {"layout": "flat"}, filepath={"mode": "none"})
    ready(kube, r.DESTINATIONS, "flat")
    work(kube, "a-work", group({"shared.yaml": "a: 1", "a.yaml": "a: 2"}, {"layout": "flat"}), resource="a")
    ready(kube, r.WORKS, "a-work", "default", message="Ready")
    assert tree(git_server, repo)["flat/shared.yaml"] == "a: 1"

    work(kube, "b-work", group({"shared.yaml": "b: 1"}, {"layout": "flat"}), resource="b")

    def clash_reported(work_name: str, other: str) -> dict[str, Any] | None:
        found = placements(kube, work_name)
        written = condition(found[0], "WriteSucceeded") if found else {}
        return found[0] if written.get("status") == "False" and other in written.get("message", "") else None

    b = wait_for(lambda: clash_reported("b-work", "a-work"), what="b's placement to report the clash")
    a = wait_for(lambda: clash_reported("a-work", "b-work"), what="a's placement to report it too")
    message = condition(b, "WriteSucceeded")["message"]
    assert (
        "nothing written: flat/shared.yaml is also claimed by WorkPlacement default/a-work.flat-5058f"
        in message
    )
    assert "(request default/a)" in message
    assert "(request default/b)" in condition(a, "WriteSucceeded")["message"]
    assert any(e["reason"] == "FailedWriteToDestination" for e in _events(kube, b["metadata"]["name"]))
    ready(kube, r.WORKS, "b-work", "default", message="Failing")
    files = tree(git_server, repo)
    assert files["flat/shared.yaml"] == "a: 1", "the clash overwrote nothing"

    # Pipeline output may not write the bookkeeping of another placement.
    record = "flat/.kratix/default-a-work.flat-5058f.yaml"
    work(
        kube,
        "c-work",
        group({".kratix/default-a-work.flat-5058f.yaml": "files: []"}, {"layout": "flat"}),
        resource="c",
    )
    c_placement = wait_for(
        lambda: (
            (found := placements(kube, "c-work"))
            and condition(found[0], "WriteSucceeded").get("status") == "False"
            and found[0]
        ),
        what="the bookkeeping write to be refused",
    )
    assert (
        "is in .kratix/, where kratix-py keeps the Destination's bookkeeping"
        in (condition(c_placement, "WriteSucceeded")["message"])
    )
    assert yaml.safe_load(tree(git_server, repo)[record]) == {"files": ["flat/a.yaml", "flat/shared.yaml"]}

    # a goes while b still claims shared.yaml: a's own file goes, the shared one stays, then b writes it.
    kube.delete(r.WORKS, "a-work", "default")
    files = wait_for(
        lambda: (t := tree(git_server, repo)) and "flat/a.yaml" not in t and t,
        what="a's files removed",
    )
    assert "flat/shared.yaml" in files, "a file another placement claims is never deleted"
    assert record not in files
    ready(kube, r.WORKS, "b-work", "default", message="Ready", timeout=90)
    assert tree(git_server, repo)["flat/shared.yaml"] == "b: 1"


def test_a_git_store_sending_credentials_over_plain_http_warns_without_the_password(system, git_server, repo):
    kube, _ = system
    git_store(kube, git_server, repo)  # http:// with basic auth
    store = wait_for(
        lambda: (
            (o := kube.get(r.GIT_STATE_STORES, "git")) and condition(o, c.CONDITION_TRANSPORT_SECURE) and o
        ),
        what="the transport warning",
    )
    warning = condition(store, c.CONDITION_TRANSPORT_SECURE)
    assert warning["status"] == "False" and warning["reason"] == "CredentialsOverPlainHTTP"
    assert "sent in clear text over http://" in warning["message"]
    assert condition(store, "Ready")["status"] == "True", "a warning, not a failure"
    events = wait_for(
        lambda: [e for e in _events(kube, "git", None) if e["reason"] == "CredentialsOverPlainHTTP"],
        what="the Warning Event (it follows the status write)",
    )
    assert all(e["type"] == "Warning" for e in events)
    assert PASSWORD not in str([store, events])


# -- wiring: the Promise's pipeline warnings ---------------------------------------------------------------


def test_a_promise_reports_broad_permissions_and_jobs_the_api_server_would_refuse(system):
    kube, _ = system
    body = promise_body("first")
    pipeline = body["spec"]["workflows"]["resource"]["configure"][0]["spec"]
    pipeline["containers"][0]["env"] = [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db"}}}]
    pipeline["rbac"] = {
        "permissions": [
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNamespace": "*"}
        ]
    }
    promise = install(kube, body)
    jobs = condition(promise, c.CONDITION_PIPELINE_JOBS_VALID)
    assert jobs["status"] == "False" and jobs["reason"] == "InvalidPipelineJob"
    assert (
        "spec.workflows.resource.configure[0].spec.containers[0].env[0].valueFrom.secretKeyRef.key"
        in jobs["message"]
    )
    permissions = condition(promise, c.CONDITION_PIPELINE_PERMISSIONS)
    assert permissions["status"] == "False" and permissions["reason"] == "BroadPipelinePermissions"
    assert "grants access to Secrets in every namespace" in permissions["message"]
    # Events follow the status write that set the conditions.
    wait_for(
        lambda: (
            {"InvalidPipelineJob", "BroadPipelinePermissions"}
            <= {e["reason"] for e in _events(kube, "redis", None) if e["type"] == "Warning"}
        ),
        what="a Warning Event for each warning condition",
    )

    # Fixed, the warnings go: a healthy Promise's status has only Kratix's conditions.
    kube.patch(
        r.PROMISES,
        "redis",
        {
            "spec": {
                "workflows": {
                    "resource": {
                        "configure": [promise_body("first")["spec"]["workflows"]["resource"]["configure"][0]]
                    }
                }
            }
        },
    )
    wait_for(
        lambda: (
            (o := kube.get(r.PROMISES, "redis"))
            and o["status"].get("observedGeneration") == o["metadata"]["generation"]
            and not condition(o, c.CONDITION_PIPELINE_JOBS_VALID)
            and not condition(o, c.CONDITION_PIPELINE_PERMISSIONS)
        ),
        what="the warnings to be cleared",
    )
