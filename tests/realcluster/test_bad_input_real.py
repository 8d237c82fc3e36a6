"""Bad input and faults that only a real API server shows: RBAC denials and its size limits.

On the session's real control plane with the chart installed (see chart_platform): an operator
whose ClusterRole lacks a permission, a pipeline output too big for a Work, and a pipeline whose
Role does not grant the Secret it reads. Each must end in a condition a person can act on, not a
loop of tracebacks. Pipelines run as real containers through the kubelet stand-in.

A failed pipeline pod (restartPolicy OnFailure, Kratix's default) is deleted by the real Job
controller when its restarts reach the backoffLimit, before the Job's Failed condition: the
container and its log in the failure message are what the operator read from the pod while it
was there (kratix_py.operator.pod_failures).
"""

from __future__ import annotations

import copy
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kratix_py import cli
from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.core.denials import CHART_CLUSTER_ROLE, REASON_PERMISSION_DENIED
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.operator import resources as r
from kratix_py.operator.pod_failures import recorded_failure
from kratix_py.testing.fixtures import wait_for

from .chart_platform import GREETING, GREETING_IMAGE, NAMESPACE, SERVICE_ACCOUNT, Platform, condition, true

pytestmark = [pytest.mark.real_cluster, pytest.mark.containers, pytest.mark.slow, pytest.mark.timeout(900)]

GROUP = "badinput.example.com"


def _promise(name: str, containers: list[dict[str, Any]]) -> tuple[dict[str, Any], k.Resource]:
    """The Greeting Promise under another name and kind, with these pipeline containers."""
    promise = yaml.safe_load((GREETING / "promise.yaml").read_text())
    kind = "".join(part.capitalize() for part in name.split("-"))
    plural = name.replace("-", "") + "s"
    promise["metadata"]["name"] = name
    api = promise["spec"]["api"]
    api["metadata"]["name"] = f"{plural}.{GROUP}"
    api["spec"]["group"] = GROUP
    api["spec"]["names"] = {"kind": kind, "plural": plural, "singular": plural[:-1]}
    pipeline = promise["spec"]["workflows"]["resource"]["configure"][0]
    pipeline["spec"]["containers"] = containers
    return promise, k.Resource(GROUP, "v1alpha1", plural, True, kind)


def _request(resource: k.Resource, name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": resource.kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"to": "bad input"},
    }


def _available(platform: Platform, name: str) -> None:
    wait_for(
        lambda: (
            ((platform.admin.get(r.PROMISES, name) or {}).get("status") or {}).get("status") == "Available"
        ),
        timeout=120,
        what=f"the Promise {name} to be Available",
    )


def _failure(obj: dict[str, Any] | None) -> str:
    """Every False condition's message: where a failed pipeline is explained."""
    conditions = ((obj or {}).get("status") or {}).get("conditions") or []
    return " || ".join(str(x.get("message")) for x in conditions if x.get("status") == "False")


def _wait_for_failure(platform: Platform, resource: k.Resource, name: str, namespace: str, text: str) -> str:
    """The request's failure message once it contains ``text`` (the last one seen on a timeout)."""
    try:
        wait_for(lambda: text in _failure(platform.admin.get(resource, name, namespace)), timeout=240,
                 what=f"the request's failure to say {text!r}")  # fmt: skip
    except AssertionError as error:
        pods = [
            (p["metadata"]["name"], p["status"].get("phase"), p["status"].get("reason"), p["status"].get("message"),
             [(x["name"], x.get("state")) for x in p["status"].get("initContainerStatuses") or []])
            for p in platform.admin.list(k.PODS, namespace)
        ]  # fmt: skip
        raise AssertionError(
            f"{error}; its conditions say: {_failure(platform.admin.get(resource, name, namespace))}; pods: {pods}"
        ) from None
    return _failure(platform.admin.get(resource, name, namespace))


def _remove_promise(platform: Platform, name: str) -> None:
    platform.admin.delete(r.PROMISES, name)
    wait_for(
        lambda: platform.admin.get(r.PROMISES, name) is None, timeout=120, what=f"the Promise {name} gone"
    )


@pytest.fixture
def namespace(platform: Platform) -> Iterator[str]:
    name = f"rb-{uuid.uuid4().hex[:8]}"
    platform.admin.create(k.NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    wait_for(lambda: platform.admin.get(k.SERVICEACCOUNTS, "default", name) is not None, timeout=60,
             what="the namespace's default ServiceAccount")  # fmt: skip
    yield name
    platform.admin.delete(k.NAMESPACES, name)


# -- a. the operator's ServiceAccount lacks a permission --------------------------------------------------


def _service_account_like_the_charts(platform: Platform, name: str, rules: list[dict[str, Any]]) -> None:
    """``name`` in the chart's namespace, bound as the chart binds its own, but with ``rules``."""
    admin = platform.admin
    subject = {"kind": "ServiceAccount", "name": name, "namespace": NAMESPACE}
    admin.apply(k.SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                    "metadata": {"name": name, "namespace": NAMESPACE}})  # fmt: skip
    rbac = "rbac.authorization.k8s.io/v1"
    admin.apply(
        k.CLUSTERROLES,
        {"apiVersion": rbac, "kind": "ClusterRole", "metadata": {"name": name}, "rules": rules},
    )
    for binding in admin.list(k.CLUSTERROLEBINDINGS):
        subjects = binding.get("subjects") or []
        if not any(s.get("name") == SERVICE_ACCOUNT and s.get("namespace") == NAMESPACE for s in subjects):
            continue
        role = binding["roleRef"]["name"]
        copied = {
            "apiVersion": rbac,
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"{name}-{role}"},
            "roleRef": {**binding["roleRef"], "name": name if role == CHART_CLUSTER_ROLE else role},
            "subjects": [subject],
        }
        admin.apply(k.CLUSTERROLEBINDINGS, copied)


def _without(rules: list[dict[str, Any]], verb: str, resource: str) -> list[dict[str, Any]]:
    result = []
    for rule in copy.deepcopy(rules):
        if resource in (rule.get("resources") or []):
            rule["verbs"] = [v for v in rule["verbs"] if v != verb]
        result.append(rule)
    return result


def _remove_service_account(platform: Platform, name: str) -> None:
    for binding in platform.admin.list(k.CLUSTERROLEBINDINGS):
        if binding["metadata"]["name"].startswith(f"{name}-"):
            platform.admin.delete(k.CLUSTERROLEBINDINGS, binding["metadata"]["name"])
    platform.admin.delete(k.CLUSTERROLES, name)
    platform.admin.delete(k.SERVICEACCOUNTS, name, NAMESPACE)


def test_an_operator_refused_create_on_jobs_says_so_once_and_on_the_request(
    platform: Platform, namespace: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    account = "kratix-no-job-create"
    chart_rules = platform.admin.get(k.CLUSTERROLES, CHART_CLUSTER_ROLE)["rules"]  # type: ignore[index]
    _service_account_like_the_charts(platform, account, _without(chart_rules, "create", "jobs"))
    promise, resource = _promise("denied-greeting", [{"name": "greet", "image": GREETING_IMAGE}])
    token = platform.plane.token_kubeconfig(tmp_path / "operator.kubeconfig", NAMESPACE, account)
    try:
        with RunningOperator(settings_for(str(token), pipeline_adapter_image=platform.image)):
            platform.admin.apply(r.PROMISES, promise)
            _available(platform, promise["metadata"]["name"])
            platform.admin.apply(resource, _request(resource, "refused", namespace))

            def denied() -> dict[str, Any]:
                return condition(
                    platform.admin.get(resource, "refused", namespace), c.CONDITION_OPERATOR_PERMITTED
                )

            wait_for(lambda: denied().get("reason") == REASON_PERMISSION_DENIED, timeout=120,
                     what="the request's OperatorPermitted condition")  # fmt: skip
            message = denied()["message"]
            assert (
                f"ServiceAccount {NAMESPACE}/{account} may not create jobs.batch in namespace {namespace}"
                in message
            )
            assert CHART_CLUSTER_ROLE in message
            assert denied()["status"] == "False"

            # The permission comes back: the request carries on by itself and the condition goes.
            platform.admin.apply(k.CLUSTERROLES, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                                                  "metadata": {"name": account}, "rules": chart_rules})  # fmt: skip
            wait_for(lambda: true(platform.admin.get(resource, "refused", namespace), "Reconciled"), timeout=240,
                     what="the request Reconciled once the permission is back")  # fmt: skip
            assert denied() == {}
            _remove_promise(platform, promise["metadata"]["name"])
    finally:
        _remove_service_account(platform, account)
    refusals = [
        x for x in caplog.records if "cannot reconcile" in x.getMessage() and "refused" in x.getMessage()
    ]
    assert len(refusals) == 1, [x.getMessage() for x in refusals]
    assert refusals[0].levelno == logging.ERROR and "create jobs.batch" in refusals[0].getMessage()
    tracebacks = [x.getMessage() for x in caplog.records if x.exc_info and x.name.startswith("kratix_py")]
    assert not tracebacks, tracebacks


# -- c and d: pipelines that fail against the real API server ---------------------------------------------


@pytest.fixture(scope="module")
def chart_operator(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The operator with the chart's own ServiceAccount (after test a: never two operators at once)."""
    token = platform.plane.token_kubeconfig(
        tmp_path_factory.mktemp("chart-operator") / "operator.kubeconfig", NAMESPACE, SERVICE_ACCOUNT
    )
    with RunningOperator(settings_for(str(token), pipeline_adapter_image=platform.image)):
        yield


# Random, so that compression cannot shrink it under the Work limit.
_BIG_OUTPUT = """
import base64, os
data = base64.b64encode(os.urandom(1_700_000)).decode()
with open("/kratix/output/big.yaml", "w") as out:
    out.write("apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: big\\ndata:\\n  blob: " + data + "\\n")
"""


def test_an_output_too_big_for_a_work_is_named_with_its_sizes(
    platform: Platform, chart_operator: None, namespace: str
) -> None:
    container = {"name": "write-big", "image": GREETING_IMAGE, "command": ["python3", "-c", _BIG_OUTPUT]}
    promise, resource = _promise("big-output", [container])
    platform.admin.apply(r.PROMISES, promise)
    _available(platform, promise["metadata"]["name"])
    platform.admin.apply(resource, _request(resource, "too-big", namespace))
    message = _wait_for_failure(platform, resource, "too-big", namespace, "the Work would be")
    assert "over the limit of 1.0 MiB" in message and "big.yaml" in message, message
    assert "etcdserver" not in message and "413" not in message, message
    # Nothing half-written: no Work was created for the request.
    works = platform.admin.list(r.WORKS, namespace)
    assert not [
        w for w in works if (w["metadata"].get("labels") or {}).get(c.LABEL_RESOURCE_NAME) == "too-big"
    ]
    _remove_promise(platform, promise["metadata"]["name"])


_READ_SECRET = """
import json, os, ssl, sys, urllib.error, urllib.request
sa = "/var/run/secrets/kubernetes.io/serviceaccount"
ns = open(sa + "/namespace").read()
url = "https://%s:%s/api/v1/namespaces/%s/secrets/db-password" % (
    os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"], ns)
request = urllib.request.Request(url, headers={"Authorization": "Bearer " + open(sa + "/token").read()})
try:
    urllib.request.urlopen(request, context=ssl.create_default_context(cafile=sa + "/ca.crt"))
except urllib.error.HTTPError as error:
    print("reading the Secret db-password: HTTP %d: %s" % (error.code, json.loads(error.read())["message"]))
    sys.exit(1)
print("read the Secret db-password")
"""


def test_a_pipeline_denied_a_secret_fails_naming_the_container_and_the_denial(
    platform: Platform, chart_operator: None, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    platform.admin.create(k.SECRETS, {"apiVersion": "v1", "kind": "Secret",
                                      "metadata": {"name": "db-password", "namespace": namespace},
                                      "stringData": {"password": "not-for-pipelines"}})  # fmt: skip
    container = {"name": "read-secret", "image": GREETING_IMAGE, "command": ["python3", "-c", _READ_SECRET]}
    promise, resource = _promise("secret-reader", [container])
    platform.admin.apply(r.PROMISES, promise)
    _available(platform, promise["metadata"]["name"])
    platform.admin.apply(resource, _request(resource, "nosy", namespace))
    message = _wait_for_failure(platform, resource, "nosy", namespace, "read-secret")
    assert "container read-secret exited 1" in message, message
    # The pipeline's own log line, read through pods/log from the kubelet stand-in.
    assert "reading the Secret db-password: HTTP 403" in message, message
    assert 'cannot get resource \\"secrets\\"' in message or 'cannot get resource "secrets"' in message, (
        message
    )
    assert "not-for-pipelines" not in message
    # Read from the pod before the Job controller deleted it at the backoffLimit (restartPolicy
    # OnFailure), and kept on the Job: the pods themselves are gone by the time the Job has failed.
    jobs = platform.admin.list(k.JOBS, namespace, labels={c.LABEL_RESOURCE_NAME: "nosy"})
    recorded = [recorded_failure(job) for job in jobs]
    assert any("container read-secret exited 1" in said for said in recorded), recorded
    assert not any("not-for-pipelines" in said for said in recorded), recorded
    # `kratix-py trace` shows the container and what it said, though its pod is gone.
    target = f"{resource.kind.lower()}/nosy"
    kubeconfig = str(platform.plane.kubeconfig)
    assert cli.main(["trace", target, "-n", namespace, "-o", "json", "--kubeconfig", kubeconfig]) != 0
    out = capsys.readouterr().out
    [job] = [node for node in _nodes(json.loads(out)) if node.get("kind") == "Job"]
    assert job["details"].get("container") == "read-secret", out
    assert any("reading the Secret db-password: HTTP 403" in line for line in job.get("log", [])), out
    assert "not-for-pipelines" not in out
    _remove_promise(platform, promise["metadata"]["name"])


def _nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(found for child in node.get("children", []) for found in _nodes(child))]
