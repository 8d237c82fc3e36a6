"""The ``kratix`` ConfigMap reaches the running operator (modelled on Kratix's kratix-config system test).

Kratix's suite installs a ConfigMap with workflow defaults and checks the pipeline Jobs it then
creates; these tests do the same against the API emulator with in-process pipeline steps.
"""

from __future__ import annotations

import logging

import yaml

from kratix_py import contract as c
from kratix_py import kube as k
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


def _config_map(config: dict | str) -> dict:
    text = config if isinstance(config, str) else yaml.safe_dump(config)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": c.CONFIG_MAP_NAME, "namespace": c.SYSTEM_NAMESPACE},
        "data": {c.CONFIG_MAP_KEY: text},
    }


def _start(platform_factory, config: dict | str) -> tuple[k.Kube, RunningOperator]:
    recorder = Recorder()
    platform = platform_factory(pods="fast", steps={"test/first:v1": recorder.step("first", first)})
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
