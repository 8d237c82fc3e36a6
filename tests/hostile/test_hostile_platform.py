"""The bad-input suite, part two: hostile Promises and state stores (issue 13, items 7, 8 and 9).

These need no pipeline container: a Promise is judged when it is validated (``kratix-py
validate``, and the pure checks the Promise reconciler calls), a state store when its writer is
built and used against the project's Git server over HTTP and HTTPS.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from kratix_py.authoring.validate import validate
from kratix_py.core.request_crd import build_request_crd
from kratix_py.local_platform.gitserver import GitServer
from kratix_py.statestores import TLSVerificationError
from kratix_py.statestores.git import GitStateStoreWriter

REDIS = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "examples" / "promises" / "redis" / "promise.yaml").read_text()
)
PIPELINE = "spec.workflows.resource.configure[0].spec"
REFUSED = "refused with a named reason"
ACCEPTED = "accepted"
WARNED = "accepted with a named warning"


@dataclass(frozen=True)
class PromiseCase:
    name: str
    item: str
    edit: Callable[[dict[str, Any]], None]
    outcome: str
    path: str = ""
    """The YAML path of the finding (error or warning); empty for none."""
    message: str = ""


def _container(body: dict[str, Any]) -> dict[str, Any]:
    return body["spec"]["workflows"]["resource"]["configure"][0]["spec"]["containers"][0]


def _pipeline(body: dict[str, Any]) -> dict[str, Any]:
    return body["spec"]["workflows"]["resource"]["configure"][0]["spec"]


def _json_path_in_capitals(body: dict[str, Any]) -> None:
    column = body["spec"]["api"]["spec"]["versions"][0]["additionalPrinterColumns"][0]
    column["JSONPath"] = column.pop("jsonPath")


PROMISE_CASES = [
    PromiseCase("promise-as-is", "handled", lambda body: None, ACCEPTED),
    PromiseCase(
        "promise-json-path-in-capitals",
        "9",
        _json_path_in_capitals,
        WARNED,
        "spec.api.spec.versions[0].additionalPrinterColumns[0].JSONPath",
        "read as 'jsonPath', as Kratix reads it",
    ),
    PromiseCase(
        "promise-secret-key-ref-without-key",
        "9",
        lambda body: _container(body).update(
            env=[{"name": "P", "valueFrom": {"secretKeyRef": {"name": "db"}}}]
        ),
        REFUSED,
        f"{PIPELINE}.containers[0].env[0].valueFrom.secretKeyRef.key",
        "Required value: the key of the Secret to read",
    ),
    PromiseCase(
        "promise-mount-of-no-volume",
        "9",
        lambda body: _container(body).update(volumeMounts=[{"name": "data", "mountPath": "/data"}]),
        REFUSED,
        f"{PIPELINE}.containers[0].volumeMounts[0].name",
        "Not found: 'data'",
    ),
    PromiseCase(
        "promise-env-value-and-value-from",
        "9",
        lambda body: _container(body).update(
            env=[{"name": "P", "value": "x", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
        ),
        REFUSED,
        f"{PIPELINE}.containers[0].env[0].valueFrom",
        "may not be specified when `value` is not empty",
    ),
    PromiseCase(
        "promise-secrets-in-every-namespace",
        "7",
        lambda body: _pipeline(body).update(
            rbac={
                "permissions": [
                    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNamespace": "*"}
                ]
            }
        ),
        WARNED,
        f"{PIPELINE}.rbac.permissions[0]",
        "grants access to Secrets in every namespace",
    ),
    PromiseCase(
        "promise-star-verbs",
        "7",
        lambda body: _pipeline(body).update(
            rbac={"permissions": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["*"]}]}
        ),
        WARNED,
        f"{PIPELINE}.rbac.permissions[0]",
        "grants every verb ('*')",
    ),
]


@pytest.mark.parametrize("case", PROMISE_CASES, ids=[case.name for case in PROMISE_CASES])
def test_hostile_promise(
    case: PromiseCase, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    record_property("hostile_case", case.name)
    record_property("hostile_expected", case.outcome)
    body = copy.deepcopy(REDIS)
    case.edit(body)
    path = tmp_path / "promise.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    report = validate(path)
    findings = [(finding.severity, finding.path, finding.message) for finding in report.findings]
    if case.outcome == ACCEPTED:
        assert findings == []
        return
    severity = "error" if case.outcome == REFUSED else "warning"
    assert any(s == severity and p == case.path and case.message in m for s, p, m in findings), findings
    if case.outcome == WARNED:
        assert report.errors == 0
        if case.item == "9":  # the CRD the operator would install says jsonPath
            crd = build_request_crd("redis", body["spec"]["api"])
            assert "jsonPath" in crd["spec"]["versions"][0]["additionalPrinterColumns"][0]


# -- state stores ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def git() -> Iterator[GitServer]:
    with GitServer(username="kratix", password="store-Pa55word", https=True, ssh=False) as server:
        server.create_repo("store")
        yield server


def _writer(git: GitServer, url: str, **secret: Any) -> GitStateStoreWriter:
    return GitStateStoreWriter.from_spec(
        {"url": url}, {"username": git.username, "password": git.password, **secret}, timeout=20
    )


def _store_basic_auth_over_http(git: GitServer) -> None:
    writer = _writer(git, git.http_url("store"))
    try:
        writer.check_ready()
        [warning] = writer.warnings
        assert warning.reason == "CredentialsOverPlainHTTP" and git.password not in warning.message
    finally:
        writer.close()


def _store_private_ca_from_the_secret(git: GitServer) -> None:
    writer = _writer(git, git.https_url("store"), **{"ca.crt": git.ca_cert_pem})
    try:
        writer.check_ready()
        assert writer.warnings == ()
    finally:
        writer.close()


def _store_untrusted_certificate(git: GitServer) -> None:
    writer = _writer(git, git.https_url("store"))
    try:
        with pytest.raises(TLSVerificationError, match=r"in the state store Secret under ca\.crt"):
            writer.check_ready()
    finally:
        writer.close()


STORE_CASES = [
    ("store-basic-auth-over-http", WARNED, _store_basic_auth_over_http),
    ("store-private-ca-from-the-secret", ACCEPTED, _store_private_ca_from_the_secret),
    ("store-untrusted-certificate", REFUSED, _store_untrusted_certificate),
]


@pytest.mark.parametrize(("name", "outcome", "check"), STORE_CASES, ids=[case[0] for case in STORE_CASES])
def test_hostile_state_store(
    git: GitServer,
    name: str,
    outcome: str,
    check: Callable[[GitServer], None],
    record_property: Callable[[str, object], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    record_property("hostile_case", name)
    record_property("hostile_expected", outcome)
    monkeypatch.delenv("GIT_SSL_CAINFO", raising=False)  # only the Secret's CA may be trusted
    check(git)
