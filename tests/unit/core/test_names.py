"""Names and namespaces of the objects created for a pipeline run (kratix-behaviour.md §2.1, §2.6)."""

from __future__ import annotations

import hashlib

import pytest

from kratix_py.api.promise import Promise
from kratix_py.contract import SYSTEM_NAMESPACE, WorkflowAction, WorkflowType
from kratix_py.core.names import (
    deterministic_name,
    job_name,
    job_name_base,
    job_suffix,
    pipeline_namespace,
    scheduling_config_map_name,
    shorten_name,
    uses_pipeline_namespace,
)


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def promise(pipeline_namespace: str | None = None) -> Promise:
    workflows = {"config": {"pipelineNamespace": pipeline_namespace}} if pipeline_namespace else {}
    return Promise.model_validate({"metadata": {"name": "redis"}, "spec": {"workflows": workflows}})


def test_names_up_to_57_characters_are_kept_whole():
    name = "a" * 57
    assert shorten_name(name) == name


def test_longer_names_are_cut_to_56_characters_like_kratix():
    assert shorten_name("b" * 58) == "b" * 56
    assert shorten_name("c" * 100) == "c" * 56


def test_a_cut_name_ends_with_a_letter_or_digit():
    name = "x" * 54 + "--" + "tail"  # the cut falls right after the two dashes
    assert shorten_name(name) == "x" * 54


def test_a_name_without_letters_or_digits_is_refused():
    with pytest.raises(ValueError, match="no letters or digits"):
        shorten_name("---")


def test_deterministic_names_hash_the_full_name_as_kratix_does():
    assert deterministic_name("redis-resource-configure-main") == (
        f"redis-resource-configure-main-{md5('redis-resource-configure-main')[:5]}"
    )
    long = "p" * 70
    assert deterministic_name(long) == f"{'p' * 56}-{md5(long)[:5]}"
    assert len(deterministic_name(long)) == 62


def test_a_long_rbac_name_matches_kratix_byte_for_byte():
    # The all-namespaces ClusterRole of Kratix's own RBAC system test (rbac-promise, pipeline
    # rbac-pro): 61 characters, cut to 56, and suffixed with md5 of the *uncut* name.
    name = "rbac-promise-promise-configure-rbac-pro-kratix-all-namespaces"
    assert deterministic_name(name) == "rbac-promise-promise-configure-rbac-pro-kratix-all-names-b74fd"


def test_long_names_sharing_their_first_56_characters_get_different_names():
    common = "x" * 56
    assert deterministic_name(common + "-team-a") != deterministic_name(common + "-team-b")


def test_trailing_separators_are_dropped_but_still_hashed():
    assert deterministic_name("kratix-promise-1.-") == f"kratix-promise-1-{md5('kratix-promise-1.-')[:5]}"


def test_job_name_base_for_promise_request_and_pipeline_namespace():
    assert job_name_base("redis", "setup") == "kratix-redis-setup"
    assert job_name_base("redis", "main", request_name="cache") == "kratix-redis-cache-main"
    assert (
        job_name_base("redis", "main", request_name="cache", request_namespace="team-a")
        == "kratix-redis-cache-team-a-main"
    )


def test_job_suffix_is_md5_of_uid_action_run_index_attempt():
    assert job_suffix("uid-1", WorkflowAction.CONFIGURE, 3, 1, 2) == md5("uid-1/configure/3/1/2")[:5]


@pytest.mark.parametrize(
    "changed",
    [
        ("uid-2", WorkflowAction.CONFIGURE, 1, 0, 1),
        ("uid-1", WorkflowAction.DELETE, 1, 0, 1),
        ("uid-1", WorkflowAction.CONFIGURE, 2, 0, 1),
        ("uid-1", WorkflowAction.CONFIGURE, 1, 1, 1),
        ("uid-1", WorkflowAction.CONFIGURE, 1, 0, 2),
    ],
)
def test_every_part_of_the_key_changes_the_suffix(changed):
    assert job_suffix(*changed) != job_suffix("uid-1", WorkflowAction.CONFIGURE, 1, 0, 1)


def test_job_suffix_needs_the_object_uid():
    with pytest.raises(ValueError, match="uid"):
        job_suffix("", WorkflowAction.CONFIGURE, 1, 0, 1)


def test_job_name_is_at_most_63_characters():
    base = job_name_base("a-very-long-promise-name", "a-long-pipeline", request_name="r" * 40)
    name = job_name(base, "abcde")
    assert len(name) == 62
    assert name == f"{base[:56]}-abcde"


def test_scheduling_config_map_name():
    assert scheduling_config_map_name("redis") == "destination-selectors-redis"


def test_promise_workflows_run_in_the_platform_namespace():
    assert pipeline_namespace(promise(), WorkflowType.PROMISE) == SYSTEM_NAMESPACE


def test_resource_workflows_run_in_the_request_namespace():
    assert pipeline_namespace(promise(), WorkflowType.RESOURCE, "team-a") == "team-a"
    with pytest.raises(ValueError, match="namespace"):
        pipeline_namespace(promise(), WorkflowType.RESOURCE)


def test_pipeline_namespace_overrides_both():
    configured = promise("pipelines")
    assert uses_pipeline_namespace(configured) and not uses_pipeline_namespace(promise())
    assert pipeline_namespace(configured, WorkflowType.PROMISE) == "pipelines"
    assert pipeline_namespace(configured, WorkflowType.RESOURCE, "team-a") == "pipelines"
