"""The Jobs a Promise would create are checked as the API server would check them."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from kratix_py.api import Promise
from kratix_py.core.pipeline_checks import JobProblem, pipeline_job_problems
from kratix_py.core.pipelines import PipelineSettings
from kratix_py.core.pod_validation import parse_quantity, pod_spec_problems

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "promises"
REDIS = yaml.safe_load((EXAMPLES / "redis" / "promise.yaml").read_text())
BASE = "spec.workflows.resource.configure[0].spec"


def _with(edit: Any) -> Promise:
    body = copy.deepcopy(REDIS)
    edit(body["spec"]["workflows"]["resource"]["configure"][0]["spec"])
    return Promise.model_validate(body)


def _errors(promise: Promise) -> list[str]:
    return [problem.text() for problem in pipeline_job_problems(promise) if problem.severity == "error"]


@pytest.mark.parametrize("example", ["redis", "postgresql"])
def test_the_example_promises_make_valid_jobs(example: str) -> None:
    body = yaml.safe_load((EXAMPLES / example / "promise.yaml").read_text())
    assert pipeline_job_problems(Promise.model_validate(body)) == []


def test_a_secret_key_ref_without_key_is_found_at_its_field() -> None:
    def edit(spec: dict[str, Any]) -> None:
        spec["containers"][0]["env"] = [
            {"name": "OK", "value": "1"},
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db"}}},
        ]

    assert pipeline_job_problems(_with(edit)) == [
        JobProblem(
            f"{BASE}.containers[0].env[1].valueFrom.secretKeyRef.key",
            "Required value: the key of the Secret to read",
        )
    ]


def test_env_mounts_volumes_and_resources_are_checked() -> None:
    def edit(spec: dict[str, Any]) -> None:
        container = spec["containers"][0]
        container["env"] = [
            {"name": "A=B", "value": "x"},
            {"name": "BOTH", "value": "v", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "FIELD", "valueFrom": {"fieldRef": {"fieldPath": "spec.nothing"}}},
            {"name": "TWO", "valueFrom": {"secretKeyRef": {"name": "a", "key": "b"}, "configMapKeyRef": {}}},
            {"name": "KEY", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "no/slash"}}},
        ]
        container["envFrom"] = [{"secretRef": {}}, {"prefix": "P_"}]
        container["volumeMounts"] = [
            {"name": "missing", "mountPath": "/data"},
            {"name": "cache", "mountPath": "/kratix/output"},
            {"name": "cache", "mountPath": "/cache", "subPath": "../up"},
        ]
        container["resources"] = {"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi", "cpu": "fast"}}
        spec["volumes"] = [{"name": "cache", "emptyDir": {}}, {"name": "creds", "secret": {}}, {"name": "x"}]

    container = f"{BASE}.containers[0]"
    assert _errors(_with(edit)) == [
        f"{BASE}.volumes[1].secret.secretName: Required value",
        f"{BASE}.volumes[2]: must specify a volume type (emptyDir, configMap, secret ...)",
        f"{container}.env[0].name: invalid variable name 'A=B': printable ASCII without '=' only",
        f"{container}.env[1].valueFrom: may not be specified when `value` is not empty",
        f"{container}.env[2].valueFrom.fieldRef.fieldPath: Unsupported value: 'spec.nothing'",
        f"{container}.env[3].valueFrom: may not have more than one field specified at a time",
        f"{container}.env[4].valueFrom.configMapKeyRef.key: invalid key 'no/slash': letters, digits, '-', '_' and '.'",
        f"{container}.envFrom[0].secretRef.name: Required value",
        f"{container}.envFrom[1]: must specify exactly one of `configMapRef` and `secretRef`",
        f"{container}.volumeMounts[0].name: Not found: 'missing': no volume of the pod has that name",
        f"{container}.volumeMounts[1].mountPath: Invalid value: '/kratix/output': must be unique",
        f"{container}.volumeMounts[2].subPath: Invalid value: '../up': must be a relative path without '..'",
        f"{container}.resources.limits.cpu: Invalid value: 'fast': not a quantity",
        f"{container}.resources.requests.memory: Invalid value: '2Gi': must be less than or equal to "
        "memory limit of '1Gi'",
    ]


def test_names_older_clusters_refuse_are_warnings() -> None:
    def edit(spec: dict[str, Any]) -> None:
        spec["containers"][0]["env"] = [{"name": "1ST", "value": "x"}]

    [problem] = pipeline_job_problems(_with(edit))
    assert problem.severity == "warning" and "before Kubernetes 1.32" in problem.message


def test_tolerations_pull_secrets_and_security_contexts() -> None:
    def edit(spec: dict[str, Any]) -> None:
        spec["tolerations"] = [{"key": "gpu", "operator": "Exists", "value": "yes"}, {"effect": "Sometimes"}]
        spec["containers"][0]["securityContext"] = {"privileged": True, "allowPrivilegeEscalation": False}

    assert _errors(_with(edit)) == [
        f"{BASE}.containers[0].securityContext: cannot set `allowPrivilegeEscalation` to false and "
        "`privileged` to true",
        f"{BASE}.tolerations[0].value: must be empty when `operator` is 'Exists'",
        f"{BASE}.tolerations[1].operator: must be 'Exists' when `key` is empty",
        f"{BASE}.tolerations[1].effect: Unsupported value: 'Sometimes'",
    ]
    with_pull_secret = PipelineSettings(adapter_image="img", adapter_pull_secret="Not_Valid")
    [problem] = pipeline_job_problems(Promise.model_validate(REDIS), with_pull_secret)
    assert problem.path == "spec.workflows.resource.configure[0]"
    assert problem.message.startswith("Job field spec.template.spec.imagePullSecrets[0].name:")


def test_promise_workflows_are_checked_without_a_request_kind() -> None:
    body = copy.deepcopy(REDIS)
    body["spec"].pop("api")
    pipeline = copy.deepcopy(REDIS["spec"]["workflows"]["resource"]["configure"][0])
    pipeline["spec"]["containers"][0]["envFrom"] = [{"configMapRef": {}}]
    body["spec"]["workflows"] = {
        "promise": {"configure": [pipeline]},
        "resource": REDIS["spec"]["workflows"]["resource"],
    }
    [problem] = pipeline_job_problems(Promise.model_validate(body))
    assert (
        problem.path == "spec.workflows.promise.configure[0].spec.containers[0].envFrom[0].configMapRef.name"
    )


def test_duplicate_and_invalid_names_in_a_pod_spec() -> None:
    spec = {
        "initContainers": [{"name": "a", "image": "x"}, {"name": "Bad_Name", "image": " y"}],
        "containers": [{"name": "a", "image": ""}],
        "volumes": [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}, "configMap": {"name": "c"}}],
    }
    assert [(problem.path, problem.message.split(":")[0]) for problem in pod_spec_problems(spec)] == [
        ("volumes[1].name", "Duplicate value"),
        ("volumes[1]", "may not specify more than 1 volume type (got emptyDir, configMap)"),
        ("initContainers[1].name", "'Bad_Name' is not a valid name"),
        ("initContainers[1].image", "must not have leading or trailing whitespace"),
        ("containers[0].image", "Required value"),
        ("containers[0].name", "Duplicate value"),
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100m", Decimal("0.1")),
        ("1Gi", Decimal(1024**3)),
        ("2e3", Decimal(2000)),
        (4, Decimal(4)),
        ("1.5", Decimal("1.5")),
    ],
)
def test_quantities_parse_as_kubernetes_reads_them(text: Any, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "1 Gi", "Gi", "1GB", True, None, "1..2"])
def test_invalid_quantities(text: Any) -> None:
    assert parse_quantity(text) is None
