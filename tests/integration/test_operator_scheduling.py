"""Scheduling edge cases end to end, and a request's files following the request through its life.

The operator runs on the local platform against a real Git server; see
test_operator_statestores.py for the state-store side.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.operator import resources as r
from kratix_py.testing.fixtures import ADAPTER_IMAGE, wait_for

from .test_operator_statestores import (
    condition,
    destination,
    git_store,
    group,
    placements,
    ready,
    tree,
    work,
)

# The servers, the platform and the operator are shared with test_operator_statestores.py;
# importing the fixtures registers them for this module.
from .test_operator_statestores import git_server as git_server
from .test_operator_statestores import repo as repo
from .test_operator_statestores import system as system

MONITORING = "a" * 32


@pytest.mark.both_servers
def test_no_match_is_pending_until_a_late_destination_appears(system, git_server, repo):
    kube, _ = system
    git_store(kube, git_server, repo)
    destination(kube, "dev", {"env": "dev"})
    work(kube, "w", group({"a.yaml": "a"}, {"env": "prod"}), resource="r")
    pending = ready(kube, r.WORKS, "w", "default", message="Pending")
    scheduled = condition(pending, "ScheduleSucceeded")
    assert scheduled["status"] == "False" and scheduled["reason"] == "UnscheduledWorkloads"
    assert (
        scheduled["message"]
        == f"No matching destination found for workloadGroups: [{c.DEFAULT_WORKLOAD_GROUP_ID}]"
    )
    assert pending["status"]["workPlacements"] == 0 and placements(kube, "w") == []
    events = [e for e in kube.list(k.EVENTS, "default") if e["involvedObject"]["name"] == "w"]
    assert [e["reason"] for e in events].count("NoMatchingDestination") == 1
    assert "{'env': 'prod'}" in next(e["message"] for e in events if e["reason"] == "NoMatchingDestination")

    destination(kube, "prod", {"env": "prod"})
    ready(kube, r.WORKS, "w", "default", message="Ready")
    assert "prod/resources/default/db/r/configure/5058f/a.yaml" in tree(git_server, repo)
    assert [p["spec"]["targetDestinationName"] for p in placements(kube, "w")] == ["prod"]


@pytest.mark.both_servers
def test_strict_destinations_and_per_directory_groups(system, git_server, repo):
    kube, _ = system
    git_store(kube, git_server, repo)
    destination(kube, "strict", {"env": "dev"}, strictMatchLabels=True)
    destination(kube, "observe", {"team": "observability"})
    work(
        kube,
        "w",
        group({"app.yaml": "app"}),
        group(
            {"monitoring/dash.yaml": "dash"},
            {"team": "observability"},
            directory="monitoring",
            group_id=MONITORING,
            source="resource-workflow",
        ),
        resource="r",
    )
    ready(kube, r.WORKS, "w", "default", message="Ready")
    by_group = {p["metadata"]["labels"][c.LABEL_WORKLOAD_GROUP_ID]: p for p in placements(kube, "w")}
    # The selector-less default group may not go to the strict Destination, only to "observe".
    assert by_group[c.DEFAULT_WORKLOAD_GROUP_ID]["spec"]["targetDestinationName"] == "observe"
    assert by_group[MONITORING]["spec"]["targetDestinationName"] == "observe"
    files = tree(git_server, repo)
    assert "observe/resources/default/db/r/configure/5058f/app.yaml" in files
    assert "observe/resources/default/db/r/configure/aaaaa/monitoring/dash.yaml" in files

    # A Work asking for the strict Destination's labels gets it.
    work(kube, "w2", group({"x.yaml": "x"}, {"env": "dev"}), resource="r2")
    ready(kube, r.WORKS, "w2", "default", message="Ready")
    assert [p["spec"]["targetDestinationName"] for p in placements(kube, "w2")] == ["strict"]


@pytest.mark.both_servers
def test_dependencies_go_everywhere_and_a_destination_that_stops_matching_is_reported(
    system, git_server, repo
):
    kube, _ = system
    git_store(kube, git_server, repo)
    destination(kube, "a", {"env": "dev"})
    work(kube, "deps", group({"crd.yaml": "crd"}, {"env": "dev"}), namespace=c.SYSTEM_NAMESPACE)
    ready(kube, r.WORKS, "deps", c.SYSTEM_NAMESPACE, message="Ready")
    destination(kube, "b", {"env": "dev"})
    wait_for(
        lambda: len(placements(kube, "deps", c.SYSTEM_NAMESPACE)) == 2,
        what="a placement on the new Destination",
    )
    # The Work was Ready before b came, so its Ready says nothing of b yet: wait for b's files.
    wait_for(
        lambda: (
            {
                "a/dependencies/db/configure/5058f/crd.yaml",
                "b/dependencies/db/configure/5058f/crd.yaml",
            }
            <= set(tree(git_server, repo))
        ),
        what="the dependencies on both Destinations",
    )
    ready(kube, r.WORKS, "deps", c.SYSTEM_NAMESPACE, message="Ready")

    kube.patch(r.DESTINATIONS, "a", {"metadata": {"labels": {"env": "prod"}}})
    misplaced = ready(kube, r.WORKS, "deps", c.SYSTEM_NAMESPACE, message="Misplaced")
    assert condition(misplaced, "Ready")["reason"] == "Misplaced"
    wp = next(
        p for p in placements(kube, "deps", c.SYSTEM_NAMESPACE) if p["spec"]["targetDestinationName"] == "a"
    )
    assert wp["metadata"]["labels"][c.LABEL_MISPLACED] == "true"
    wp = wait_for(
        lambda: (
            (p := kube.get(r.WORKPLACEMENTS, wp["metadata"]["name"], c.SYSTEM_NAMESPACE))
            and condition(p, "ScheduleSucceeded").get("reason") == "DestinationSelectorMismatch"
            and p
        ),
        what="the placement to report the mismatch",
    )
    assert condition(wp, "Ready")["message"] == "Misplaced"
    assert "a/dependencies/db/configure/5058f/crd.yaml" in tree(git_server, repo), (
        "misplaced files are not removed"
    )

    # Matching again clears it.
    kube.patch(r.DESTINATIONS, "a", {"metadata": {"labels": {"env": "dev"}}})
    ready(kube, r.WORKS, "deps", c.SYSTEM_NAMESPACE, message="Ready")
    assert (
        c.LABEL_MISPLACED
        not in kube.get(r.WORKPLACEMENTS, wp["metadata"]["name"], c.SYSTEM_NAMESPACE)["metadata"]["labels"]
    )


# -- a request through its life -----------------------------------------------------------------------

GROUP = "test.kratix.io"
CACHES = k.Resource(GROUP, "v1alpha1", "caches", True, "Cache")


def cache_promise() -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"size": {"type": "string"}}}},
    }
    return {
        "apiVersion": c.API_VERSION,
        "kind": "Promise",
        "metadata": {"name": "cache"},
        "spec": {
            "destinationSelectors": [{"matchLabels": {"env": "dev"}}],
            "api": {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": f"caches.{GROUP}"},
                "spec": {
                    "group": GROUP,
                    "names": {"kind": "Cache", "plural": "caches", "singular": "cache"},
                    "scope": "Namespaced",
                    "versions": [
                        {
                            "name": "v1alpha1",
                            "served": True,
                            "storage": True,
                            "schema": {"openAPIV3Schema": schema},
                        }
                    ],
                },
            },
            "workflows": {
                "resource": {
                    "configure": [
                        {
                            "apiVersion": c.API_VERSION,
                            "kind": "Pipeline",
                            "metadata": {"name": "instance"},
                            "spec": {"containers": [{"name": "main", "image": "test/cache:v1"}]},
                        }
                    ]
                }
            },
        },
    }


def make_cache(ctx: Any) -> int:
    request = yaml.safe_load((ctx.path("/kratix/input") / "object.yaml").read_text())
    document = {
        "apiVersion": "v1",
        "kind": "Cache",
        "name": request["metadata"]["name"],
        "size": request["spec"]["size"],
    }
    (ctx.path("/kratix/output") / "cache.yaml").write_text(yaml.safe_dump(document))
    return 0


@pytest.fixture
def pipelines(platform_factory: Callable[..., Any]) -> Iterator[k.Kube]:
    platform = platform_factory(pods="fast", steps={"test/cache:v1": make_cache})
    kube = k.Kube(platform.api_client())
    settings = settings_for(str(platform.kubeconfig), pipeline_adapter_image=ADAPTER_IMAGE)
    with RunningOperator(settings):
        yield kube


def test_a_requests_files_appear_change_and_disappear_with_it(pipelines, git_server, repo):
    kube = pipelines
    git_store(kube, git_server, repo)
    destination(kube, "dev", {"env": "dev"})
    destination(kube, "prod", {"env": "prod"})
    kube.create(r.PROMISES, cache_promise())
    wait_for(
        lambda: (kube.get(r.PROMISES, "cache") or {}).get("status", {}).get("status") == "Available",
        what="the Promise",
    )
    path = "dev/resources/default/cache/my-cache/instance/5058f/cache.yaml"

    kube.create(
        CACHES,
        {
            "apiVersion": f"{GROUP}/v1alpha1",
            "kind": "Cache",
            "metadata": {"name": "my-cache", "namespace": "default"},
            "spec": {"size": "small"},
        },
    )
    wait_for(
        lambda: condition(kube.get(CACHES, "my-cache", "default"), "Reconciled").get("status") == "True",
        what="Reconciled, which needs the Work written",
    )
    assert yaml.safe_load(tree(git_server, repo)[path])["size"] == "small", "Reconciled means written"
    assert not any(p.startswith("prod/resources/default") for p in tree(git_server, repo)), (
        "the Promise's selector"
    )

    kube.patch(CACHES, "my-cache", {"spec": {"size": "large"}}, "default")
    wait_for(lambda: "large" in tree(git_server, repo).get(path, ""), what="the file to follow the new spec")

    kube.delete(CACHES, "my-cache", "default")
    wait_for(lambda: kube.get(CACHES, "my-cache", "default") is None, what="the request to go")
    assert not any("my-cache" in p for p in tree(git_server, repo))


def test_a_destination_on_an_already_used_directory_is_refused_and_gets_nothing(system, git_server, repo):
    kube, _ = system
    git_store(kube, git_server, repo)
    destination(kube, "dev", {"env": "dev"}, path="clusters/dev")
    wait_for(lambda: condition(kube.get(r.DESTINATIONS, "dev"), "Ready").get("status") == "True", what="dev")
    destination(kube, "copy", {"env": "dev"}, path="clusters/dev/")
    refused = wait_for(
        lambda: (
            (cd := condition(kube.get(r.DESTINATIONS, "copy"), "Ready")).get("reason") == "PathConflict"
            and cd
        ),
        what="the conflict to be reported",
    )
    assert "Destination dev already writes to path" in refused["message"]
    work(kube, "w", group({"a.yaml": "a"}, {"env": "dev"}))
    ready(kube, r.WORKS, "w", "default", message="Ready")
    assert [p["spec"]["targetDestinationName"] for p in placements(kube, "w")] == ["dev"]

    kube.delete(r.DESTINATIONS, "copy")  # leaving does not take the other's canaries with it
    wait_for(lambda: kube.get(r.DESTINATIONS, "copy") is None, what="the copy to go")
    assert "clusters/dev/dependencies/kratix-canary-namespace.yaml" in tree(git_server, repo)
