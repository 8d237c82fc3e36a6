"""CEL validation rules (``x-kubernetes-validations``) in a CRD schema, as kube-apiserver applies them.

The same objects must be accepted or refused with the same status code and the same message text
by the emulator and by the real API server; a Promise's API is such a schema, so this is also
what ``kratix-py validate`` promises.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from kratix_py.core import cel_quantity

from .conftest import Kube, Raw

REPO = Path(__file__).resolve().parents[2]

SCHEMA: dict[str, Any] = {
    "type": "object",
    "x-kubernetes-validations": [{"rule": "self.metadata.name != 'forbidden'"}],
    "properties": {
        "spec": {
            "type": "object",
            "x-kubernetes-validations": [
                {
                    "rule": "self.replicas <= self.maxReplicas",
                    "message": "replicas must not exceed maxReplicas",
                },
                {"rule": "self.replicas != 7", "messageExpression": "'seven replicas are not allowed'"},
                {"rule": "self.replicas != 8", "reason": "FieldValueForbidden", "message": "no eight"},
                {"rule": "self.replicas != 11", "fieldPath": ".replicas", "message": "no eleven"},
                {"rule": "self.replicas != 12 || self.maxReplicas / (self.replicas - 12) > 0"},
            ],
            "properties": {
                "replicas": {"type": "integer"},
                "maxReplicas": {"type": "integer"},
                "size": {"type": "string", "enum": ["small", "large"]},
                "mode": {
                    "type": "string",
                    "maxLength": 20,
                    "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "mode is immutable"}],
                },
                "name": {
                    "type": "string",
                    "maxLength": 20,
                    "x-kubernetes-validations": [{"rule": "self.startsWith('app-')"}],
                },
                "tags": {
                    "type": "array",
                    "maxItems": 5,
                    "items": {"type": "string", "maxLength": 10},
                    "x-kubernetes-validations": [
                        {"rule": "self.all(t, t.matches('^[a-z]+$'))", "message": "tags are lower-case words"}
                    ],
                },
            },
        },
        "status": {
            "type": "object",
            "x-kubernetes-validations": [{"rule": "self.phase != 'bad'"}],
            "properties": {"phase": {"type": "string", "maxLength": 10}},
        },
    },
}

VALID = {"replicas": 1, "maxReplicas": 2, "mode": "fast", "name": "app-web", "tags": ["web"]}


def _setup(kube: Kube) -> str:
    kube.create_crd("Service", schema=SCHEMA)
    return f"/apis/{kube.group()}/v1/namespaces/{kube.namespace}/services"


def _post(kube: Kube, path: str, name: str, spec: dict[str, Any]) -> Raw:
    body = {"apiVersion": f"{kube.group()}/v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}
    return kube.raw("POST", path, body)


def _post_spec_once_served(kube: Kube, kind: str, spec: dict[str, Any]) -> Raw:
    """A ``kind`` object (plural: lower case + s) with ``spec``, posted once its kind is served."""
    path = f"/apis/{kube.group()}/v1/namespaces/{kube.namespace}/{kind.lower()}s"
    body = {
        "apiVersion": f"{kube.group()}/v1",
        "kind": kind,
        "metadata": {"name": kind.lower()},
        "spec": spec,
    }
    return _post_once_served(kube, path, body)


def _post_once_served(kube: Kube, path: str, body: dict[str, Any]) -> Raw:
    """POST ``body``, again while the kind is not served yet (a real server serves a new CRD's
    kind a moment after it is established)."""

    def answered() -> Raw | None:
        answer = kube.raw("POST", path, body)
        return answer if answer.status != 404 else None

    return kube.eventually(answered)


def _refused(kube: Kube, answer: Raw, name: str, *causes: str) -> None:
    """A 422 whose causes are exactly ``causes`` (``field: message``, in any order)."""
    assert answer.status == 422, answer.body
    found = [f"{c['field']}: {c['message']}" for c in answer.body["details"]["causes"]]
    assert sorted(found) == sorted(causes)
    prefix = f'Service.{kube.group()} "{name}" is invalid: '
    assert answer.body["message"].startswith(prefix)
    if len(causes) == 1:
        assert answer.body["message"] == prefix + causes[0]


def test_an_object_that_keeps_every_rule_is_created(kube: Kube) -> None:
    path = _setup(kube)
    answer = _post(kube, path, "web", VALID)
    assert answer.status == 201, answer.body
    assert answer.body["spec"] == VALID


def test_a_broken_rule_is_reported_at_its_field_in_the_servers_words(kube: Kube) -> None:
    path = _setup(kube)
    cases = {
        # a message, on an object: the value is not shown
        "over": (
            {"replicas": 3, "maxReplicas": 2},
            "spec: Invalid value: replicas must not exceed maxReplicas",
        ),
        "seven": ({"replicas": 7, "maxReplicas": 9}, "spec: Invalid value: seven replicas are not allowed"),
        "eight": ({"replicas": 8, "maxReplicas": 9}, "spec: Forbidden: no eight"),
        "eleven": ({"replicas": 11, "maxReplicas": 19}, "spec.replicas: Invalid value: no eleven"),
        # no message, on a string: the value and the rule are shown
        "named": (
            {**VALID, "name": "web"},
            "spec.name: Invalid value: \"web\": failed rule: self.startsWith('app-')",
        ),
        # a list macro with a string function
        "tags": ({**VALID, "tags": ["web", "Db1"]}, "spec.tags: Invalid value: tags are lower-case words"),
        # an evaluation error
        "zero": (
            {"replicas": 12, "maxReplicas": 19},
            'spec: Invalid value: "object": division by zero evaluating rule: '
            "self.replicas != 12 || self.maxReplicas / (self.replicas - 12) > 0",
        ),
    }
    for name, (spec, cause) in cases.items():
        _refused(kube, _post(kube, path, name, spec), name, cause)


def test_a_rule_on_the_root_sees_the_name_and_a_missing_field_is_an_error(kube: Kube) -> None:
    path = _setup(kube)
    answer = _post(kube, path, "forbidden", VALID)
    _refused(
        kube, answer, "forbidden", "<nil>: Invalid value: failed rule: self.metadata.name != 'forbidden'"
    )
    answer = _post(kube, path, "partial", {"maxReplicas": 2})
    causes = answer.body["details"]["causes"]
    assert answer.status == 422
    assert {c["field"] for c in causes} == {"spec"}
    assert causes[0]["message"] == (
        'Invalid value: "object": no such key: replicas evaluating rule: replicas must not exceed maxReplicas'
    )
    assert len(causes) == 5  # every rule of spec reads replicas


def test_no_rule_runs_when_the_schema_already_refused_the_object(kube: Kube) -> None:
    path = _setup(kube)
    answer = _post(kube, path, "huge", {**VALID, "replicas": 9, "size": "huge"})
    _refused(
        kube,
        answer,
        "huge",
        'spec.size: Unsupported value: "huge": supported values: "small", "large"',
        "<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; "
        "correct the existing errors to complete validation",
    )


def test_a_transition_rule_runs_on_update_only_where_the_old_value_exists(kube: Kube) -> None:
    path = _setup(kube)
    assert _post(kube, path, "web", {"replicas": 1, "maxReplicas": 2}).status == 201
    stored = kube.raw("GET", f"{path}/web").body
    stored["spec"]["mode"] = "fast"  # there was no mode: nothing to compare with
    answer = kube.raw("PUT", f"{path}/web", stored)
    assert answer.status == 200, answer.body
    changed = copy.deepcopy(answer.body)
    changed["spec"]["mode"] = "slow"
    _refused(
        kube,
        kube.raw("PUT", f"{path}/web", changed),
        "web",
        'spec.mode: Invalid value: "slow": mode is immutable',
    )
    answer = kube.raw(
        "PATCH",
        f"{path}/web",
        {"spec": {"mode": "slow"}},
        content_type="application/merge-patch+json",
    )
    _refused(kube, answer, "web", 'spec.mode: Invalid value: "slow": mode is immutable')
    answer = kube.raw(
        "PATCH", f"{path}/web", {"spec": {"replicas": 2}}, content_type="application/merge-patch+json"
    )
    assert answer.status == 200, answer.body
    answer = kube.raw(
        "PATCH", f"{path}/web", {"spec": {"replicas": 5}}, content_type="application/merge-patch+json"
    )
    _refused(kube, answer, "web", "spec: Invalid value: replicas must not exceed maxReplicas")


def test_status_rules_are_checked_on_status_writes(kube: Kube) -> None:
    path = _setup(kube)
    assert _post(kube, path, "web", VALID).status == 201
    stored = kube.raw("GET", f"{path}/web").body
    stored["status"] = {"phase": "bad"}
    answer = kube.raw("PUT", f"{path}/web/status", stored)
    _refused(kube, answer, "web", "status: Invalid value: failed rule: self.phase != 'bad'")
    stored["status"] = {"phase": "good"}
    assert kube.raw("PUT", f"{path}/web/status", stored).status == 200
    # the main endpoint ignores status, so a bad one there is no error
    current = kube.raw("GET", f"{path}/web").body
    current["status"] = {"phase": "bad"}
    current["spec"]["replicas"] = 2
    answer = kube.raw("PUT", f"{path}/web", current)
    assert answer.status == 200, answer.body
    assert answer.body["status"] == {"phase": "good"}


def test_an_unchanged_value_is_not_rechecked_after_a_rule_is_added(kube: Kube) -> None:
    """Validation ratcheting: objects stored before a rule existed can still be updated elsewhere."""
    plain = copy.deepcopy(SCHEMA)
    del plain["properties"]["spec"]["properties"]["name"]["x-kubernetes-validations"]
    kube.create_crd("Service", schema=plain)
    path = f"/apis/{kube.group()}/v1/namespaces/{kube.namespace}/services"
    assert _post(kube, path, "old", {**VALID, "name": "legacy"}).status == 201
    crd_path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/services.{kube.group()}"
    crd = kube.raw("GET", crd_path).body
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = SCHEMA
    assert kube.raw("PUT", crd_path, crd).status == 200

    def rule_in_force() -> bool:
        return _post(kube, path, "probe", {**VALID, "name": "legacy"}).status == 422

    kube.eventually(rule_in_force, message="the added rule never took effect")
    answer = kube.raw(
        "PATCH", f"{path}/old", {"spec": {"replicas": 2}}, content_type="application/merge-patch+json"
    )
    assert answer.status == 200, answer.body
    answer = kube.raw(
        "PATCH", f"{path}/old", {"spec": {"name": "legacy2"}}, content_type="application/merge-patch+json"
    )
    _refused(
        kube, answer, "old", "spec.name: Invalid value: \"legacy2\": failed rule: self.startsWith('app-')"
    )


def _crd_refusal(kube: Kube, kind: str, rule: str) -> Raw:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "x-kubernetes-validations": [{"rule": rule}],
                "properties": {"replicas": {"type": "integer"}},
            }
        },
    }
    body = kube.crd_body(kind, schema=schema)
    answer = kube.raw("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body)
    if answer.status == 201:
        kube._crds.append(body["metadata"]["name"])
    return answer


def test_a_crd_whose_rule_does_not_compile_is_refused(kube: Kube) -> None:
    where = "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule"

    def invalid(rule: str, detail: str) -> str:
        escaped = rule.replace(">", "\\u003e")
        return (
            f'Invalid value: {{"Rule":"{escaped}","Message":"","MessageExpression":"","Reason":null,'
            f'"FieldPath":"","OptionalOldSelf":null}}: {detail}'
        )

    cases = {
        "Undefined": (
            "self.nofield == 1",
            "compilation failed: ERROR: <input>:1:5: undefined field 'nofield'\n | self.nofield == 1\n | ....^",
        ),
        "Undeclared": (
            "self.replicas == oldSelf.replicas + undefinedvar",
            "compilation failed: ERROR: <input>:1:37: undeclared reference to 'undefinedvar' (in container '')\n"
            " | self.replicas == oldSelf.replicas + undefinedvar\n | " + "." * 36 + "^",
        ),
        "Nomethod": (
            "self.nope(1)",
            "compilation failed: ERROR: <input>:1:10: undeclared reference to 'nope' (in container '')\n"
            " | self.nope(1)\n | .........^",
        ),
        "Notbool": ("self.replicas", "cel expression must evaluate to a bool"),
    }
    for kind, (rule, detail) in cases.items():
        answer = _crd_refusal(kube, kind, rule)
        assert answer.status == 422, answer.body
        name = f"{kind.lower()}s.{kube.group()}"
        expected = invalid(rule, detail)
        assert (
            answer.body["message"]
            == f'CustomResourceDefinition.apiextensions.k8s.io "{name}" is invalid: {where}: {expected}'
        )
    answer = _crd_refusal(kube, "Syntax", "self.replicas >")
    assert answer.status == 422
    (cause,) = answer.body["details"]["causes"]
    assert cause["field"] == where
    assert cause["message"].startswith(
        invalid(
            "self.replicas >",
            "compilation failed: ERROR: <input>:1:16: Syntax error: mismatched input '<EOF>'",
        )
    )
    assert cause["message"].endswith("\n | self.replicas >\n | ...............^")
    # a Kubernetes library function and a transition rule compile
    assert _crd_refusal(kube, "Library", "quantity('1') == quantity('1')").status == 201
    assert _crd_refusal(kube, "Transition", "self.replicas == oldSelf.replicas").status == 201


def _version(version: str, storage: bool, rule: dict[str, Any], **props: Any) -> dict[str, Any]:
    spec = {
        "type": "object",
        "x-kubernetes-validations": [rule],
        "properties": {"a": {"type": "integer"}, **props},
    }
    return {
        "name": version,
        "served": True,
        "storage": storage,
        "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": spec}}},
    }


def _create(kube: Kube, kind: str, versions: list[dict[str, Any]]) -> Raw:
    body = kube.crd_body(kind, versions=versions)
    answer = kube.raw("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body)
    if answer.status == 201:
        kube._crds.append(body["metadata"]["name"])
    return answer


def test_the_other_parts_of_a_rule_are_checked_when_the_crd_is_written(kube: Kube) -> None:
    shared = "spec.validation.openAPIV3Schema.properties[spec]"
    listed = {
        "type": "array",
        "maxItems": 3,
        "items": {
            "type": "object",
            "properties": {"x": {"type": "integer"}},
            "x-kubernetes-validations": [{"rule": "self.x == oldSelf.x"}],
        },
    }
    cases = {
        "Empty": (
            [_version("v1", True, {"rule": ""})],
            f"{shared}.x-kubernetes-validations[0].rule: Required value: rule is not specified",
        ),
        "Reason": (
            [_version("v1", True, {"rule": "true", "reason": "Nope"})],
            f'{shared}.x-kubernetes-validations[0].reason: Unsupported value: "Nope": supported values: '
            '"FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired"',
        ),
        "Fieldpath": (
            [_version("v1", True, {"rule": "true", "fieldPath": ".zz"})],
            f'{shared}.x-kubernetes-validations[0].fieldPath: Invalid value: ".zz": must be a valid path',
        ),
        "Message": (
            [_version("v1", True, {"rule": "true", "messageExpression": "self.a"})],
            f'{shared}.x-kubernetes-validations[0].messageExpression: Invalid value: {{"Rule":"true","Message":"",'
            '"MessageExpression":"self.a","Reason":null,"FieldPath":"","OptionalOldSelf":null}: '
            "messageExpression must evaluate to a string",
        ),
        "Atomic": (
            [_version("v1", True, {"rule": "true"}, l=listed)],
            f'{shared}.properties[l].items.x-kubernetes-validations[0].rule: Invalid value: "self.x == oldSelf.x": '
            f"oldSelf cannot be used on the uncorrelatable portion of the schema within {shared}.properties[l]",
        ),
        # versions with different schemas are reported each under its own path
        "Multi": (
            [_version("v1", True, {"rule": "self.b == 1"}), _version("v2", False, {"rule": "self.a == 1"})],
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: "
            'Invalid value: {"Rule":"self.b == 1","Message":"","MessageExpression":"","Reason":null,"FieldPath":"",'
            "\"OptionalOldSelf\":null}: compilation failed: ERROR: <input>:1:5: undefined field 'b'\n"
            " | self.b == 1\n | ....^",
        ),
    }
    for kind, (versions, cause) in cases.items():
        answer = _create(kube, kind, versions)
        assert answer.status == 422, answer.body
        name = f"{kind.lower()}s.{kube.group()}"
        assert (
            answer.body["message"]
            == f'CustomResourceDefinition.apiextensions.k8s.io "{name}" is invalid: {cause}'
        )


def test_a_rule_on_an_int_or_string_field_is_typed_at_run_time(kube: Kube) -> None:
    rule = {"rule": "true"}
    port = {"x-kubernetes-int-or-string": True, "x-kubernetes-validations": [{"rule": "self.nope == 1"}]}
    assert _create(kube, "Port", [_version("v1", True, rule, p=port)]).status == 201
    kube.eventually(lambda: kube.raw("GET", f"/apis/{kube.group()}/v1").status == 200)
    path = f"/apis/{kube.group()}/v1/namespaces/{kube.namespace}/ports"
    body = {"apiVersion": f"{kube.group()}/v1", "kind": "Port", "metadata": {"name": "p"}, "spec": {"p": 5}}

    answer = _post_once_served(kube, path, body)
    assert answer.status == 422, answer.body
    expected = 'spec.p: Invalid value: "": no such key: nope evaluating rule: self.nope == 1'
    assert answer.body["message"] == f'Port.{kube.group()} "p" is invalid: {expected}'


def test_a_destinations_filepath_mode_is_immutable_and_the_rest_can_change(kube: Kube) -> None:
    """kratix-py's own Destination CRD (under a test group): its ``self == oldSelf`` rule."""
    crd = yaml.safe_load((REPO / "crds" / "platform.kratix.io_destinations.yaml").read_text())
    group = kube.group("dest")
    crd["spec"]["group"] = group
    crd["metadata"] = {"name": f"destinations.{group}"}
    created = kube.raw("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    assert created.status == 201, json.dumps(created.body)
    kube._crds.append(crd["metadata"]["name"])
    path = f"/apis/{group}/v1alpha1/destinations"
    body = {
        "apiVersion": f"{group}/v1alpha1",
        "kind": "Destination",
        "metadata": {"name": f"dev-{kube.suffix}"},
        "spec": {"path": "dev", "stateStoreRef": {"kind": "GitStateStore", "name": "repo"}},
    }

    answer = _post_once_served(kube, path, body)
    assert answer.status == 201, answer.body
    assert answer.body["spec"]["filepath"]["mode"] == "nestedByMetadata"
    name = body["metadata"]["name"]
    merge = "application/merge-patch+json"
    moved = {"metadata": {"labels": {"env": "dev"}}, "spec": {"path": "elsewhere"}}
    assert kube.raw("PATCH", f"{path}/{name}", moved, content_type=merge).status == 200
    answer = kube.raw("PATCH", f"{path}/{name}", {"spec": {"filepath": {"mode": "none"}}}, content_type=merge)
    assert answer.status == 422
    assert answer.body["message"] == (
        f'Destination.{group} "{name}" is invalid: spec.filepath.mode: Invalid value: "none": '
        "filepath.mode is immutable"
    )


def test_property_names_that_are_not_identifiers_are_escaped_in_rules(kube: Kube) -> None:
    rule = {"rule": "self.max__dash__size <= 3 && self.__if__ != 'never'", "message": "too big"}
    props = {"max-size": {"type": "integer"}, "if": {"type": "string", "maxLength": 10}}
    assert _create(kube, "Escape", [_version("v1", True, rule, **props)]).status == 201
    path = f"/apis/{kube.group()}/v1/namespaces/{kube.namespace}/escapes"

    def post(name: str, spec: dict[str, Any]) -> Raw | None:
        body = {
            "apiVersion": f"{kube.group()}/v1",
            "kind": "Escape",
            "metadata": {"name": name},
            "spec": spec,
        }
        answer = kube.raw("POST", path, body)
        return answer if answer.status != 404 else None

    assert kube.eventually(lambda: post("fits", {"max-size": 3, "if": "x"})).status == 201
    answer = kube.eventually(lambda: post("big", {"max-size": 4, "if": "x"}))
    assert answer.status == 422
    assert answer.body["message"] == f'Escape.{kube.group()} "big" is invalid: spec: Invalid value: too big'


TYPE_ERRORS = {
    "self.replicas.startsWith('a')": "1:25: found no matching overload for 'startsWith' applied to 'int.(string)'",
    "self.tags.contains('a')": "1:19: found no matching overload for 'contains' applied to 'list(string).(string)'",
    "self.replicas == 'a'": "1:15: found no matching overload for '_==_' applied to '(int, string)'",
    "self.replicas == 1.0": "1:15: found no matching overload for '_==_' applied to '(int, double)'",
    "self.name > 1": "1:11: found no matching overload for '_>_' applied to '(string, int)'",
    "self.name.lowerAscii() == self.replicas": "1:24: found no matching overload for '_==_' applied to '(string, int)'",
    "self.replicas + 'a' == 'b'": "1:15: found no matching overload for '_+_' applied to '(int, string)'",
    "size(self.replicas) == 1": "1:5: found no matching overload for 'size' applied to '(int)'",
    "self.name.matches(1)": "1:18: found no matching overload for 'matches' applied to 'string.(int)'",
    "self.replicas.all(x, x)": "1:5: expression of type 'int' cannot be range of a comprehension "
    "(must be list, map, or dynamic)",
}


def test_a_rule_with_operands_of_the_wrong_type_is_refused(kube: Kube) -> None:
    props = {
        "replicas": {"type": "integer"},
        "name": {"type": "string", "maxLength": 10},
        "tags": {"type": "array", "maxItems": 3, "items": {"type": "string", "maxLength": 5}},
    }
    for index, (rule, error) in enumerate(TYPE_ERRORS.items()):
        answer = _create(kube, f"Typed{index}", [_version("v1", True, {"rule": rule}, **props)])
        assert answer.status == 422, (rule, answer.body)
        (cause,) = answer.body["details"]["causes"]
        position, _, message = error.partition(": ")
        column = int(position.split(":")[1])
        assert cause["message"].endswith(
            f"compilation failed: ERROR: <input>:{position}: {message}\n | {rule}\n | {'.' * (column - 1)}^"
        ), rule
    # ordering compares across numeric types
    assert (
        _create(kube, "Ordered", [_version("v1", True, {"rule": "self.replicas < 2.5"}, **props)]).status
        == 201
    )


def test_split_and_find_all_take_a_count_after_their_string(kube: Kube) -> None:
    name = {"type": "string", "maxLength": 63, "x-kubernetes-validations": [{"rule": "self.split('-', 2).size() <= 2"},
                                                           {"rule": "self.findAll('[a-z]', 2).size() <= 2"}]}  # fmt: skip
    assert _create(kube, "Split", [_version("v1", True, {"rule": "true"}, name=name)]).status == 201
    assert _post_spec_once_served(kube, "Split", {"name": "a-b-c"}).status == 201
    refused = _crd_refusal(kube, "Splitint", "'a-b'.split(2).size() == 1")
    assert refused.status == 422, refused.body


QUANTITY_RULES = [
    "quantity(self.size).isLessThan(quantity('10Gi'))",
    "quantity(self.size).compareTo(quantity('1k')) >= 0",
    "quantity(self.size).add(quantity('1Mi')).sub(1).isGreaterThan(quantity('1Mi'))",
    "isQuantity(self.size) && !isQuantity('lots')",
    "!quantity(self.size).isInteger() || quantity(self.size).asInteger() > 999",
    "quantity(self.size).asApproximateFloat() > 999.0",
    "!(quantity(self.size) == quantity('5Gi'))",
]


@pytest.mark.parametrize(
    ("size", "broken"),
    [("2Gi", []), ("1000", []), ("1.5k", []), ("1500m", [1, 5]), ("5Gi", [6]), ("20Gi", [0])],
)
def test_kubernetes_quantity_rules_run_as_the_server_runs_them(
    kube: Kube, size: str, broken: list[int]
) -> None:
    spec = {"type": "string", "maxLength": 16}
    version = _version("v1", True, {"rule": QUANTITY_RULES[0]}, size=spec)
    version["schema"]["openAPIV3Schema"]["properties"]["spec"]["x-kubernetes-validations"] = [
        {"rule": rule} for rule in QUANTITY_RULES
    ]
    created = _create(kube, "Volume", [version])
    assert created.status == 201, json.dumps(created.body)
    answer = _post_spec_once_served(kube, "Volume", {"size": size})
    if not broken:
        assert answer.status == 201, answer.body
        return
    assert answer.status == 422, answer.body
    causes = [cause["message"] for cause in answer.body["details"]["causes"]]
    assert causes == [f"Invalid value: failed rule: {QUANTITY_RULES[i]}" for i in broken], causes


@pytest.mark.parametrize(
    ("rule", "size", "error"),
    [
        ("quantity(self.size).isLessThan(quantity('1'))", "lots", cel_quantity.INVALID),
        ("quantity(self.size).asInteger() > 0", "1500m", cel_quantity.NOT_AN_INTEGER),
    ],
)
def test_a_quantity_rule_that_cannot_be_evaluated_fails_with_the_servers_error(
    kube: Kube, rule: str, size: str, error: str
) -> None:
    version = _version("v1", True, {"rule": rule}, size={"type": "string", "maxLength": 16})
    assert _create(kube, "Disk", [version]).status == 201
    answer = _post_spec_once_served(kube, "Disk", {"size": size})
    assert answer.status == 422, answer.body
    [cause] = answer.body["details"]["causes"]
    assert cause["message"] == f'Invalid value: "object": {error} evaluating rule: {rule}', cause


def test_not_equal_of_two_quantities_is_far_over_the_cost_budget(kube: Kube) -> None:
    """Only == has the quantity library's constant-cost overload; != is the generic one."""
    size = {"type": "string", "maxLength": 16}
    refused = _create(
        kube, "Tank", [_version("v1", True, {"rule": "quantity(self.size) != quantity('5Gi')"}, size=size)]
    )
    assert refused.status == 422, refused.body
    messages = [cause["message"] for cause in refused.body["details"]["causes"]]
    assert "Forbidden: estimated rule cost exceeds budget by factor of more than 100x" in messages[0], (
        messages
    )
    accepted = _create(
        kube, "Pond", [_version("v1", True, {"rule": "quantity(self.size) == quantity('5Gi')"}, size=size)]
    )
    assert accepted.status == 201, accepted.body
