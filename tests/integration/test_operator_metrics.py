"""The operator's metrics under the names Kratix users scrape, after a real request on the local platform.

The registry is the process's own (the operator runs in this process), so each test reads how much
each series grew while it ran.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import REGISTRY

from kratix_py import kube as k
from kratix_py.operator import metrics
from kratix_py.testing.fixtures import wait_for

from .test_operator_statestores import condition, destination, git_store
from .test_operator_statestores import git_server as git_server
from .test_operator_statestores import repo as repo
from .test_trace import CACHES, cache_request, install, promise, reconciled
from .test_trace import platform as platform


def sample(metric: str, /, **labels: str) -> float:
    return metrics.sample_value(metric, labels) or 0.0


def grew(metric: str, before: float, /, **labels: str) -> Callable[[], bool]:
    return lambda: sample(metric, **labels) > before


def reconciles() -> float:
    """Every controller's finished reconciles, summed."""
    return sum(
        s.value
        for family in REGISTRY.collect()
        if family.name == "controller_runtime_reconcile"
        for s in family.samples
        if s.name == "controller_runtime_reconcile_total"
    )


def test_controller_runtime_and_kratix_names_count_a_request(platform, git_server, repo):
    _, kube = platform
    placement = {"promise": "cache", "resource": "my-cache", "destination": "dev", "pipeline": "instance"}
    outcome = {"promise": "cache", "resource": "my-cache", "namespace": "default", "destination": "dev"}
    run = {"workflow_type": "resource", "action": "configure", "pipeline": "instance"}
    before = {
        "works": sample("controller_runtime_reconcile_total", controller="work", result="success"),
        "writes": sample("kratix_workplacement_writes_total", result="success", **placement),
        "scheduled": sample("kratix_workplacement_outcomes_total", result="scheduled", **outcome),
        "runs": sample("kratix_py_pipeline_runs_total", outcome="succeeded", **run),
        "seconds": sample("kratix_py_pipeline_run_duration_seconds_count", outcome="succeeded", **run),
        "failed": sample("kratix_py_pipeline_runs_total", outcome="failed", **run),
        "adds": sample("workqueue_adds_total", name="kratix-py"),
        "gets": sample("rest_client_requests_total", verb="get", code="200"),
        "old": sample("kratix_py_reconciles_total", kind="work", result="ok"),
    }
    git_store(kube, git_server, repo)
    destination(kube, "dev", {"env": "dev"})
    install(kube, promise("Cache", "caches", "test/cache:v1", {"env": "dev"}))
    kube.create(CACHES, cache_request("my-cache"))
    reconciled(kube, CACHES, "my-cache")

    wait_for(grew("kratix_workplacement_writes_total", before["writes"], result="success", **placement),
             what="the write to be counted")  # fmt: skip
    assert sample("kratix_workplacement_outcomes_total", result="scheduled", **outcome) > before["scheduled"]
    assert sample("controller_runtime_reconcile_total", controller="work", result="success") > before["works"]
    assert sample("kratix_py_reconciles_total", kind="work", result="ok") > before["old"], (
        "the old name stays"
    )
    assert sample("kratix_py_pipeline_runs_total", outcome="succeeded", **run) == before["runs"] + 1
    assert (
        sample("kratix_py_pipeline_run_duration_seconds_count", outcome="succeeded", **run)
        == before["seconds"] + 1
    )
    assert sample("kratix_py_pipeline_run_duration_seconds_sum", outcome="succeeded", **run) >= 0
    assert sample("workqueue_adds_total", name="kratix-py") > before["adds"]
    assert sample("rest_client_requests_total", verb="get", code="200") > before["gets"]
    assert REGISTRY.get_sample_value("workqueue_depth", {"name": "kratix-py"}) is not None

    # A run that fails counts as failed once, however often its request is reconciled afterwards.
    kube.create(CACHES, cache_request("bad-cache", broken=True))
    wait_for(
        lambda: (
            condition(kube.get(CACHES, "bad-cache", "default"), "ConfigureWorkflowCompleted").get("reason")
            == "ConfigureWorkflowFailed"
        ),
        what="the pipeline to fail",
    )
    wait_for(
        grew("kratix_py_pipeline_runs_total", before["failed"], outcome="failed", **run), what="the failure"
    )
    settled = reconciles()
    kube.patch(CACHES, "bad-cache", {"metadata": {"labels": {"team": "a"}}}, "default")
    kube.patch(CACHES, "my-cache", {"metadata": {"labels": {"team": "a"}}}, "default")
    wait_for(lambda: reconciles() >= settled + 2, what="both requests to be reconciled again")
    assert sample("kratix_py_pipeline_runs_total", outcome="failed", **run) == before["failed"] + 1
    assert sample("kratix_py_pipeline_runs_total", outcome="succeeded", **run) == before["runs"] + 1


def test_a_deleted_requests_series_go_with_it_and_a_same_named_one_elsewhere_keeps_its_own(
    platform, git_server, repo
):
    _, kube = platform
    git_store(kube, git_server, repo)
    destination(kube, "dev", {"env": "dev"})
    install(kube, promise("Cache", "caches", "test/cache:v1", {"env": "dev"}))
    kube.create(k.NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-b"}})
    kube.create(CACHES, cache_request("short-lived"))
    elsewhere = cache_request("short-lived")
    elsewhere["metadata"]["namespace"] = "team-b"
    kube.create(CACHES, elsewhere)
    writes = {"result": "success", "promise": "cache", "resource": "short-lived", "destination": "dev",
              "pipeline": "instance"}  # fmt: skip
    scheduled = {"result": "scheduled", "promise": "cache", "resource": "short-lived", "destination": "dev"}
    for namespace in ("default", "team-b"):
        wait_for(lambda namespace=namespace: sample("kratix_workplacement_outcomes_total",
                                                    namespace=namespace, **scheduled) > 0,
                 what=f"the request in {namespace} to be scheduled")  # fmt: skip
    wait_for(lambda: sample("kratix_workplacement_writes_total", **writes) > 0, what="the writes")
    held = metrics.per_request_series()

    kube.delete(CACHES, "short-lived", "default")
    wait_for(lambda: kube.get(CACHES, "short-lived", "default") is None, what="the request to go")
    wait_for(
        lambda: (
            metrics.sample_value("kratix_workplacement_outcomes_total", {"namespace": "default", **scheduled})
            is None
        ),
        what="the deleted request's series to go",
    )
    assert metrics.per_request_series() < held
    # The other namespace's request of the same name keeps its series, and the writes series
    # they share (it has no namespace label) stays while one of them holds it.
    assert sample("kratix_workplacement_outcomes_total", namespace="team-b", **scheduled) > 0
    assert sample("kratix_workplacement_writes_total", **writes) > 0

    kube.delete(CACHES, "short-lived", "team-b")
    wait_for(
        lambda: metrics.sample_value("kratix_workplacement_writes_total", writes) is None,
        what="the shared series to go with its last request",
    )
