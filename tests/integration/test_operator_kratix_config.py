"""The ``kratix`` ConfigMap reaches the running operator (modelled on Kratix's kratix-config system test).

Kratix's suite installs a ConfigMap with workflow defaults and checks the pipeline Jobs it then
creates; these tests do the same against the API emulator with in-process pipeline steps.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

import yaml

from kratix_py import cli
from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.core import conditions as cond
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.testing.fixtures import ADAPTER_IMAGE, wait_for
from tests.integration.test_operator_fast import (
    REDIS,
    Recorder,
    completed,
    first,
    install,
    promise_body,
    request_body,
)
from tests.integration.test_operator_statestores import destination, git_store
from tests.integration.test_operator_statestores import git_server as git_server
from tests.integration.test_operator_statestores import repo as repo


def _config_map(config: dict | str) -> dict:
    text = config if isinstance(config, str) else yaml.safe_dump(config)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": c.CONFIG_MAP_NAME, "namespace": c.SYSTEM_NAMESPACE},
        "data": {c.CONFIG_MAP_KEY: text},
    }


def _start(
    platform_factory, config: dict | str, step: Callable[..., int] | None = None
) -> tuple[k.Kube, RunningOperator]:
    step = step or Recorder().step("first", first)
    platform = platform_factory(pods="fast", steps={"test/first:v1": step})
    kube = k.Kube(platform.api_client())
    kube.create(
        k.NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": c.SYSTEM_NAMESPACE}}
    )
    kube.create(k.CONFIGMAPS, _config_map(config))
    settings = settings_for(str(platform.kubeconfig), pipeline_adapter_image=ADAPTER_IMAGE)
    return kube, RunningOperator(settings, kratix_config=True)


def test_workflow_defaults_from_the_configmap_shape_the_pipeline_jobs(platform_factory):
    kube, running = _start(
        platform_factory,
        {
            "numberOfJobsToKeep": 2,
            "reconciliationInterval": "45m",
            "stateStoreReconciliationInterval": "20m",
            "workflows": {
                "defaultImagePullPolicy": "IfNotPresent",
                "defaultContainerSecurityContext": {"runAsNonRoot": True, "readOnlyRootFilesystem": True},
                "jobOptions": {"defaultBackoffLimit": 3},
            },
        },
    )
    with running as operator:
        assert operator.operator is not None
        settings = operator.operator.settings
        assert (settings.jobs_to_keep, str(settings.reconcile_interval)) == (2, "0:45:00")
        assert str(settings.state_store_reconciliation_interval) == "0:20:00"
        install(kube, promise_body("first"))
        kube.create(REDIS, request_body())
        completed(kube)
        jobs = kube.list(k.JOBS, labels={c.LABEL_RESOURCE_NAME: "my-redis"})
        assert len(jobs) == 1
        spec = jobs[0]["spec"]
        assert spec["backoffLimit"] == 3
        (user,) = [ct for ct in spec["template"]["spec"]["containers"] if ct["image"] == "test/first:v1"] or [
            ct for ct in spec["template"]["spec"].get("initContainers", []) if ct["image"] == "test/first:v1"
        ]
        assert user["imagePullPolicy"] == "IfNotPresent"
        assert user["securityContext"] == {"runAsNonRoot": True, "readOnlyRootFilesystem": True}


def test_a_wrong_value_is_logged_with_its_field_and_the_operator_runs_on_defaults(platform_factory, caplog):
    kube, running = _start(
        platform_factory, "numberOfJobsToKeep: lots\nworkflows: {jobOptions: {defaultBackoffLimit: 2}}\n"
    )
    with caplog.at_level(logging.INFO, logger="kratix_py.operator.kratix_config"), running as operator:
        assert operator.operator is not None
        assert operator.operator.settings.jobs_to_keep == 5  # Kratix's default
        assert operator.operator.settings.default_backoff_limit == 2  # the good value still counts
        install(kube, promise_body("first"))
        kube.create(REDIS, request_body())
        wait_for(lambda: completed(kube), what="the request to complete with the defaults")
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("numberOfJobsToKeep expected a whole number, got 'lots'" in e for e in errors), errors


def _pipeline_pods(kube: k.Kube, job: dict) -> list[dict]:
    return kube.list(k.PODS, job["metadata"]["namespace"], labels={"job-name": job["metadata"]["name"]})


def _reconciled(kube: k.Kube) -> dict | None:
    request = kube.get(REDIS, "my-redis", "default")
    found = cond.find((request or {}).get("status", {}).get("conditions"), "Reconciled")
    return request if found and found.get("status") == "True" else None


def _destination(kube: k.Kube, server, repo: str) -> None:
    """Somewhere for the request's Works to go, so that it can become Reconciled."""
    git_store(kube, server, repo)
    destination(kube, "worker", {"team": "observability"})


def test_with_a_pod_ttl_the_pods_of_a_finished_job_go_and_the_job_stays(platform_factory, git_server, repo):
    kube, running = _start(platform_factory, {"workflows": {"jobOptions": {"podTTLSecondsAfterFinished": 2}}})
    _destination(kube, git_server, repo)
    with running as operator:
        assert operator.operator is not None
        assert operator.operator.settings.pod_ttl_seconds_after_finished.total_seconds() == 2
        install(kube, promise_body("first"))
        kube.create(REDIS, request_body())
        completed(kube)
        (job,) = kube.list(k.JOBS, labels={c.LABEL_RESOURCE_NAME: "my-redis"})
        assert _pipeline_pods(kube, job), "the pod is there right after the Job finished"
        wait_for(lambda: not _pipeline_pods(kube, job), timeout=15, what="the pipeline pods to be deleted")
        (kept,) = kube.list(k.JOBS, labels={c.LABEL_RESOURCE_NAME: "my-redis"})
        assert kept["metadata"]["uid"] == job["metadata"]["uid"]
        assert c.ANNOTATION_PODS_REMOVED_AT in kept["metadata"]["annotations"]
        wait_for(lambda: _reconciled(kube), what="the request to stay Reconciled")


def test_without_a_pod_ttl_the_pods_of_a_finished_job_stay(platform_factory, git_server, repo):
    kube, running = _start(platform_factory, {"numberOfJobsToKeep": 2})
    _destination(kube, git_server, repo)
    with running:
        install(kube, promise_body("first"))
        kube.create(REDIS, request_body())
        completed(kube)
        (job,) = kube.list(k.JOBS, labels={c.LABEL_RESOURCE_NAME: "my-redis"})
        wait_for(lambda: _reconciled(kube), what="the request to be Reconciled")
        time.sleep(3)  # longer than the TTL of the test above
        assert len(_pipeline_pods(kube, job)) == 1
        (kept,) = kube.list(k.JOBS, labels={c.LABEL_RESOURCE_NAME: "my-redis"})
        assert c.ANNOTATION_PODS_REMOVED_AT not in (kept["metadata"].get("annotations") or {})


def test_a_failed_pipeline_keeps_its_log_detail_and_trace_says_the_pod_was_removed(platform_factory, capsys):
    def broken(ctx) -> int:  # every run fails the same way, retries too
        ctx.log("first: database quota exceeded")
        return 3

    kube, running = _start(
        platform_factory,
        {"workflows": {"jobOptions": {"podTTLSecondsAfterFinished": "1s", "defaultBackoffLimit": 0}}},
        broken,
    )
    with running as operator:
        install(kube, promise_body("first"))
        kube.create(REDIS, request_body())

        def failed() -> dict | None:
            request = kube.get(REDIS, "my-redis", "default")
            found = cond.find(
                (request or {}).get("status", {}).get("conditions"), "ConfigureWorkflowCompleted"
            )
            return found if found and found.get("reason") == "ConfigureWorkflowFailed" else None

        before = wait_for(failed, what="the pipeline to fail")
        assert "database quota exceeded" in before["message"]
        job = kube.get(k.JOBS, before["message"].split("(Job ")[1].split(")")[0], "default")
        assert job is not None
        wait_for(lambda: not _pipeline_pods(kube, job), timeout=15, what="the failed pod to be deleted")
        wait_for(
            lambda: (
                c.ANNOTATION_PODS_REMOVED_AT
                in kube.get(k.JOBS, job["metadata"]["name"], "default")["metadata"].get("annotations", {})
            ),
            what="the Job to be marked",
        )
        # Reconcile the request once more now that the pod is gone (the first retry is 10s away).
        queue = operator.operator.queue
        reconciles = queue.reconciles
        kube.patch(REDIS, "my-redis", {"metadata": {"annotations": {"test/poke": "1"}}}, "default")
        wait_for(
            lambda: queue.reconciles > reconciles and queue.idle(), what="a reconcile after the pod went"
        )
        assert failed() == before, "the failure message keeps what the pod's log said"
        assert (
            cli.main(
                [
                    "trace",
                    "redis/my-redis",
                    "-o",
                    "json",
                    "--kubeconfig",
                    str(operator.operator.settings.kubeconfig),
                ]
            )
            != 0
        )
        out = capsys.readouterr().out
        logs = [node.get("log") for node in _nodes(json.loads(out)) if node.get("kind") == "Job"]
        # The pod is gone; what it said is still shown (the operator kept it on the Job), and why.
        assert logs == [["first: database quota exceeded", f"(pod removed after {c.POD_TTL_FIELD})"]], out


def _nodes(node: dict) -> list[dict]:
    return [node, *(found for child in node.get("children", []) for found in _nodes(child))]
