"""The pipeline adapter's limits: defaults under the API server's object size, settable by variable."""

from __future__ import annotations

import pytest

from kratix_py.core.limits import (
    ENV_MAX_OUTPUT_FILES,
    ENV_MAX_WORK_BYTES,
    ENV_NON_KUBERNETES_YAML,
    LimitsError,
    NonKubernetesYaml,
    PipelineLimits,
    largest,
    parse_size,
)

API_SERVER_OBJECT_LIMIT = 1_572_864  # etcd's default request limit, 1.5 MiB


def test_the_defaults_keep_every_object_under_the_api_servers_limit() -> None:
    limits = PipelineLimits()
    assert limits.max_work_bytes < API_SERVER_OBJECT_LIMIT
    assert limits.max_status_bytes < API_SERVER_OBJECT_LIMIT / 4  # the request's spec needs room too
    assert limits.max_output_file_bytes <= limits.max_output_bytes <= 64 * 1024 * 1024  # under 256 Mi
    assert limits.non_kubernetes_yaml is NonKubernetesYaml.REFUSE


def test_variables_override_the_defaults() -> None:
    limits = PipelineLimits.from_env(
        {
            ENV_MAX_OUTPUT_FILES: "20",
            ENV_MAX_WORK_BYTES: "512Ki",
            ENV_NON_KUBERNETES_YAML: "Warn",
            "OTHER": "x",
        }
    )
    assert (limits.max_output_files, limits.max_work_bytes) == (20, 512 * 1024)
    assert limits.non_kubernetes_yaml is NonKubernetesYaml.WARN
    assert limits.max_status_bytes == PipelineLimits().max_status_bytes
    assert PipelineLimits.from_env({ENV_MAX_OUTPUT_FILES: " "}) == PipelineLimits()


@pytest.mark.parametrize(
    ("text", "expected"), [("1048576", 1048576), ("2Mi", 2 * 1024 * 1024), ("1k", 1000), ("1Gi", 1024**3)]
)
def test_sizes_are_bytes_or_quantities(text: str, expected: int) -> None:
    assert parse_size(text, "X") == expected


@pytest.mark.parametrize("text", ["-1", "0", "1.5Mi", "1MB", "lots"])
def test_bad_values_name_the_variable(text: str) -> None:
    with pytest.raises(LimitsError, match=rf"^{ENV_MAX_WORK_BYTES} must be"):
        PipelineLimits.from_env({ENV_MAX_WORK_BYTES: text})


def test_a_bad_policy_names_the_choices() -> None:
    with pytest.raises(LimitsError, match="'refuse' or 'warn'"):
        PipelineLimits.from_env({ENV_NON_KUBERNETES_YAML: "ignore"})


def test_largest_names_the_biggest_first_and_only_a_few() -> None:
    sizes = {"a": 10, "b": 3 * 1024 * 1024, "c": 2048, "d": 2048}
    assert largest(sizes) == "b (3.0 MiB), c (2.0 KiB), d (2.0 KiB)"
