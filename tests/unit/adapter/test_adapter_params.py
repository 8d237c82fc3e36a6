"""Reading the pipeline pod's environment."""

from __future__ import annotations

import pytest

from kratix_py.adapter.params import ParameterError, object_ref_from_env, params_from_env

REQUEST_ENV = {
    "KRATIX_WORKFLOW_ACTION": "configure",
    "KRATIX_WORKFLOW_TYPE": "resource",
    "KRATIX_PROMISE_NAME": "redis",
    "KRATIX_PIPELINE_NAME": "instance",
    "KRATIX_OBJECT_KIND": "Redis",
    "KRATIX_OBJECT_GROUP": "marketplace.kratix.io",
    "KRATIX_OBJECT_VERSION": "v1alpha1",
    "KRATIX_OBJECT_NAME": "cache",
    "KRATIX_OBJECT_NAMESPACE": "team-a",
    "KRATIX_CRD_PLURAL": "redises",
    "KRATIX_CLUSTER_SCOPED": "false",
}


def test_request_parameters() -> None:
    params = params_from_env({**REQUEST_ENV, "IS_LAST_PIPELINE": "true"})
    assert params.object.describe() == "Redis team-a/cache"
    assert params.object.api_version == "marketplace.kratix.io/v1alpha1"
    assert (params.workflow_type, params.pipeline_name, params.is_last_pipeline) == (
        "resource",
        "instance",
        True,
    )
    assert (params.input_dir, params.output_dir) == ("/kratix/input", "/kratix/output")
    assert not params.dry_run


def test_an_empty_namespace_means_default_unless_cluster_scoped() -> None:
    assert object_ref_from_env({**REQUEST_ENV, "KRATIX_OBJECT_NAMESPACE": ""}).namespace == "default"
    promise = object_ref_from_env(
        {
            **REQUEST_ENV,
            "KRATIX_OBJECT_NAMESPACE": "",
            "KRATIX_CLUSTER_SCOPED": "true",
            "KRATIX_CRD_PLURAL": "promises",
        }
    )
    assert promise.namespace is None


def test_directory_overrides() -> None:
    params = params_from_env({**REQUEST_ENV, "INPUT_DIR": "/in", "OUTPUT_DIR": "/out"})
    assert (params.input_dir, params.output_dir) == ("/in", "/out")


@pytest.mark.parametrize(
    "missing", ["KRATIX_OBJECT_NAME", "KRATIX_CRD_PLURAL", "KRATIX_OBJECT_VERSION", "KRATIX_PIPELINE_NAME"]
)
def test_missing_variables_are_named(missing: str) -> None:
    env = {key: value for key, value in REQUEST_ENV.items() if key != missing}
    with pytest.raises(ParameterError, match=f"^{missing} is not set"):
        params_from_env(env)


def test_the_workflow_type_must_be_known() -> None:
    with pytest.raises(ParameterError, match="KRATIX_WORKFLOW_TYPE must be 'promise' or 'resource'"):
        params_from_env({**REQUEST_ENV, "KRATIX_WORKFLOW_TYPE": "other"})
