"""``validate`` and the CEL rules (``x-kubernetes-validations``) of a Promise's API.

A request that breaks a rule is an error on the field, with the message a cluster answers (the
emulator's wording is checked against a real API server in tests/conformance/test_cel.py); a
rule that does not compile is an error on the Promise, as the cluster would refuse its CRD.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kratix_py.authoring.validate import validate

from .conftest import Outcome
from .test_validate import edited, write

RULES = [
    {"rule": "self.size != 'large' || self.replicas >= 2", "message": "a large app needs two replicas"},
    {"rule": "self.team.startsWith('team-')"},
]
ROOT_RULE = {"rule": "self.metadata.name.size() <= 10", "message": "names are at most 10 characters"}


def _with_rules(body: dict[str, Any]) -> None:
    schema = body["spec"]["api"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["properties"]["spec"]["x-kubernetes-validations"] = RULES
    schema["x-kubernetes-validations"] = [ROOT_RULE]


REQUESTS = """\
apiVersion: test.kratix.io/v1alpha1
kind: App
metadata: {name: shop, namespace: team-a}
spec: {team: team-a, replicas: 2}
---
apiVersion: test.kratix.io/v1alpha1
kind: App
metadata: {name: big, namespace: team-a}
spec: {team: team-a, size: large}
---
apiVersion: test.kratix.io/v1alpha1
kind: App
metadata: {name: stray, namespace: team-a}
spec: {team: ops}
---
apiVersion: test.kratix.io/v1alpha1
kind: App
metadata: {name: a-very-long-name, namespace: team-a}
spec: {team: team-a}
"""


def test_a_request_that_breaks_a_rule_is_an_error_worded_as_the_cluster_words_it(
    tmp_path: Path, run_cli: Callable[..., Outcome]
) -> None:
    promise = edited(tmp_path, _with_rules)
    requests = write(tmp_path, "requests.yaml", REQUESTS)
    outcome = run_cli("validate", promise, requests)
    assert outcome.code == 1, outcome.out
    errors = [line for line in outcome.out.splitlines() if ": error: " in line]
    # the line of the field the rule is on, or of the request for a rule on the whole object
    assert errors == [
        f"{requests}:9: error: spec: Invalid value: a large app needs two replicas",
        f"{requests}:14: error: spec: Invalid value: failed rule: self.team.startsWith('team-')",
        f"{requests}:16: error: Invalid value: names are at most 10 characters",
    ]
    assert f"{requests}: request shop: valid, no defaults applied" not in outcome.out
    assert "request shop: defaults applied: spec.size=small" in outcome.out
    assert "validate failed: Promise app, 1 request(s), 3 error(s), 0 warning(s)" in outcome.out


def test_no_rule_is_reported_when_the_schema_already_refused_the_request(tmp_path: Path) -> None:
    promise = edited(tmp_path, _with_rules)
    request = write(
        tmp_path,
        "request.yaml",
        "apiVersion: test.kratix.io/v1alpha1\nkind: App\nmetadata: {name: odd}\nspec: {team: ops, size: huge}\n",
    )
    report = validate(promise, [request])
    assert [(f.path, f.message) for f in report.findings if f.severity == "error"] == [
        ("spec.size", 'Unsupported value: "huge": supported values: "small", "large"'),
        (
            "",
            "Invalid value: null: some validation rules were not checked because the object was invalid; "
            "correct the existing errors to complete validation",
        ),
    ]


def test_a_rule_that_does_not_compile_is_an_error_on_the_rule_as_written(tmp_path: Path) -> None:
    def misspelt(body: dict[str, Any]) -> None:
        _with_rules(body)
        body["spec"]["api"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
            "x-kubernetes-validations"
        ] = [{"rule": "self.replica >= 1"}]

    promise = edited(tmp_path, misspelt)
    report = validate(promise)
    [finding] = [f for f in report.findings if f.severity == "error"]
    assert finding.path == (
        "spec.api.spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule"
    )
    assert finding.message == (
        'Invalid value: {"Rule":"self.replica \\u003e= 1","Message":"","MessageExpression":"","Reason":null,'
        '"FieldPath":"","OptionalOldSelf":null}: compilation failed: ERROR: <input>:1:5: '
        "undefined field 'replica'\n | self.replica >= 1\n | ....^"
    )
    assert finding.line is not None
    assert "self.replica >= 1" in promise.read_text().splitlines()[finding.line - 1]
