"""The ``kratix`` ConfigMap as Kratix reads it (config/samples/kratix-config.yaml), and precedence."""

from __future__ import annotations

import argparse
from datetime import timedelta

import pytest

from kratix_py.operator import kratix_config
from kratix_py.operator.app import pipeline_settings
from kratix_py.operator.settings import OperatorSettings

KRATIX_SAMPLE = """
numberOfJobsToKeep: 3
reconciliationInterval: 30m
stateStoreReconciliationInterval: 2h
selectiveCache: true
workflows:
  reconcileAfterFailure: false
  defaultImagePullPolicy: IfNotPresent
  defaultContainerSecurityContext:
    runAsNonRoot: false
  defaultContainerResources:
    requests: {cpu: 50m}
  jobOptions:
    defaultBackoffLimit: 4
    podTTLSecondsAfterFinished: 60
"""


def test_every_setting_kratix_reads_becomes_an_operator_setting():
    config = kratix_config.parse(KRATIX_SAMPLE)
    assert config.problems == ()
    assert config.settings == {
        "jobs_to_keep": 3,
        "reconcile_interval": timedelta(minutes=30),
        "state_store_reconciliation_interval": timedelta(hours=2),
        "reconcile_after_failure": False,
        "default_image_pull_policy": "IfNotPresent",
        "default_container_security_context": {"runAsNonRoot": False},
        "default_container_resources": {"requests": {"cpu": "50m"}},
        "default_backoff_limit": 4,
        "pod_ttl_seconds_after_finished": timedelta(seconds=60),
    }
    assert config.unused == ("selectiveCache",)
    settings = OperatorSettings.from_sources(environ={}, config=config.settings)
    pipelines = pipeline_settings(settings)
    assert pipelines.default_container_security_context == {"runAsNonRoot": False}
    assert pipelines.default_container_resources == {"requests": {"cpu": "50m"}}
    assert (pipelines.default_image_pull_policy, pipelines.default_backoff_limit) == ("IfNotPresent", 4)


def test_the_rewrite_interval_has_a_clearer_alias():
    config = kratix_config.parse("workPlacementRewriteInterval: 15m\n")
    assert config.settings == {"state_store_reconciliation_interval": timedelta(minutes=15)}


def test_flags_then_environment_then_configmap_then_defaults():
    config = kratix_config.parse(
        "numberOfJobsToKeep: 3\nreconciliationInterval: 30m\nworkflows: {jobOptions: {defaultBackoffLimit: 2}}\n"
    )
    parser = argparse.ArgumentParser()
    OperatorSettings.add_arguments(parser)
    args = parser.parse_args(["--jobs-to-keep", "9"])
    environ = {"KRATIX_PY_RECONCILE_INTERVAL": "2h"}
    settings = OperatorSettings.from_sources(args, environ, config=config.settings)
    assert settings.jobs_to_keep == 9  # flag
    assert settings.reconcile_interval == timedelta(hours=2)  # environment
    assert settings.default_backoff_limit == 2  # ConfigMap
    assert settings.state_store_reconciliation_interval == timedelta(hours=10)  # Kratix's default


@pytest.mark.parametrize(
    ("text", "field", "fix"),
    [
        ("numberOfJobsToKeep: five\n", "numberOfJobsToKeep", "expected a whole number"),
        ("numberOfJobsToKeep: 0\n", "numberOfJobsToKeep", "must be at least 1"),
        ("reconciliationInterval: 10\n", "reconciliationInterval", 'Go duration in quotes such as "10h"'),
        ("reconciliationInterval: 10s\n", "reconciliationInterval", "must be at least 1m"),
        ("workflows: {reconcileAfterFailure: maybe}\n", "workflows.reconcileAfterFailure", "true or false"),
        ("workflows: {defaultImagePullPolicy: always}\n", "workflows.defaultImagePullPolicy", "IfNotPresent"),
        (
            "workflows: {jobOptions: {defaultBackoffLimit: -1}}\n",
            "workflows.jobOptions.defaultBackoffLimit",
            "at least 0",
        ),
        (
            "workflows: {jobOptions: {podTTLSecondsAfterFinished: [60]}}\n",
            "workflows.jobOptions.podTTLSecondsAfterFinished",
            'expected seconds (3600) or a Go duration in quotes such as "1h"',
        ),
        (
            "workflows: {jobOptions: {podTTLSecondsAfterFinished: -5}}\n",
            "workflows.jobOptions.podTTLSecondsAfterFinished",
            "must not be negative",
        ),
        (
            "workflows: {defaultContainerResources: [cpu]}\n",
            "workflows.defaultContainerResources",
            "a mapping",
        ),
    ],
)
def test_a_wrong_value_names_the_field_and_the_fix_and_keeps_the_default(text, field, fix):
    config = kratix_config.parse(text + "numberOfJobsToKeep2: ignored\n")
    assert config.settings == {}
    (problem,) = config.problems
    assert f"kratix-platform-system/kratix key config: {field} " in problem
    assert fix in problem and "the default is used until it is fixed" in problem


def test_a_config_that_is_not_a_mapping_or_not_yaml_sets_nothing_and_says_so():
    assert "must be a mapping" in kratix_config.parse("- a\n- b\n").problems[0]
    assert "is not YAML" in kratix_config.parse("a: [\n").problems[0]
    assert kratix_config.parse("") == kratix_config.KratixConfig()


def test_the_binding_version_strategy_is_read_and_a_wrong_one_named():
    assert kratix_config.parse("resourceBindingVersionStrategy: pinned\n").settings == {
        "binding_version_strategy": "pinned"
    }
    config = kratix_config.parse("resourceBindingVersionStrategy: sticky\n")
    assert config.settings == {}
    assert "resourceBindingVersionStrategy" in config.problems[0] and "floating, pinned" in config.problems[0]
    settings = OperatorSettings.from_sources(
        environ={"KRATIX_PY_BINDING_VERSION_STRATEGY": "pinned"}, config={}
    )
    assert settings.binding_version_strategy == "pinned"


@pytest.mark.parametrize(
    ("value", "ttl"),
    [("3600", timedelta(hours=1)), ('"90s"', timedelta(seconds=90)), ("0", None), ('"0s"', None)],
)
def test_the_pod_ttl_is_seconds_or_a_go_duration_and_zero_keeps_the_pods(value, ttl):
    # Kratix's type is a Go duration; its sample config writes whole seconds. Both work here.
    config = kratix_config.parse(f"workflows: {{jobOptions: {{podTTLSecondsAfterFinished: {value}}}}}\n")
    assert config.problems == ()
    assert config.settings == {"pod_ttl_seconds_after_finished": ttl}
    assert (
        OperatorSettings.from_sources(environ={}, config=config.settings).pod_ttl_seconds_after_finished
        == ttl
    )


def test_the_pod_ttl_has_a_variable_that_wins_over_the_configmap():
    environ = {"KRATIX_PY_POD_TTL_SECONDS_AFTER_FINISHED": "5m"}
    config = {"pod_ttl_seconds_after_finished": timedelta(hours=1)}
    settings = OperatorSettings.from_sources(environ=environ, config=config)
    assert settings.pod_ttl_seconds_after_finished == timedelta(minutes=5)
    assert OperatorSettings.from_sources(environ={}).pod_ttl_seconds_after_finished is None
    with pytest.raises(ValueError, match="must not be negative"):
        OperatorSettings.from_sources(environ={"KRATIX_PY_POD_TTL_SECONDS_AFTER_FINISHED": "-1s"})
