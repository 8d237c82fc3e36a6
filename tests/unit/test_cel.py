"""The CEL evaluator of ``x-kubernetes-validations`` (kratix_py.core.cel), without any server.

How a real API server words each error is checked in tests/conformance/test_cel.py; these tests
cover the language features real Promises use and the rules about when a rule runs.
"""

from __future__ import annotations

from typing import Any

import pytest

from kratix_py.core import cel


def _spec_schema(rules: list[dict[str, Any]], **props: Any) -> dict[str, Any]:
    properties = {
        "replicas": {"type": "integer"},
        "ratio": {"type": "number"},
        "name": {"type": "string"},
        "enabled": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "port": {"x-kubernetes-int-or-string": True},
        **props,
    }
    return {
        "type": "object",
        "properties": {
            "spec": {"type": "object", "x-kubernetes-validations": rules, "properties": properties}
        },
    }


SPEC = {
    "replicas": 3,
    "ratio": 1,
    "name": "app-web",
    "enabled": True,
    "tags": ["web", "db"],
    "labels": {"team": "a"},
    "port": "http",
}


def _errors(rule: str, spec: dict[str, Any] | None = None, **extra: Any) -> list[str]:
    schema = _spec_schema([{"rule": rule, **extra}])
    return [e.text() for e in cel.evaluate(schema, {"spec": SPEC if spec is None else spec})]


@pytest.mark.parametrize(
    "rule",
    [
        "self.replicas == 3 && self.replicas > 2 && self.replicas <= 3 && self.replicas != 4",
        "has(self.name) && !has(self.missing_field_is_fine_in_has) || true",
        "size(self.tags) == 2 && self.tags.size() == 2 && self.name.size() == 7",
        "'web' in self.tags && 'team' in self.labels && !('x' in self.tags)",
        "self.name.startsWith('app-') && self.name.endsWith('web') && self.name.contains('p-w')",
        "self.name.matches('^[a-z]+-[a-z]+$')",
        "self.tags.all(t, t.size() >= 2) && self.tags.exists(t, t == 'db')",
        "self.tags.exists_one(t, t.startsWith('w'))",
        "self.tags.map(t, t + '!') == ['web!', 'db!'] && self.tags.filter(t, t != 'db') == ['web']",
        "self.labels.all(k, k.size() > 1) && self.labels['team'] == 'a' && self.labels.team == 'a'",
        "self.enabled == true && self.enabled",
        "self.ratio == 1.0 && self.replicas == 3",  # a number field is a double, an integer an int
        "self.port == 'http'",  # int-or-string: whatever the value is
        "self.replicas > 1 ? self.name != '' : false",
        "self.name.lowerAscii() == 'app-web' && self.name.upperAscii() == 'APP-WEB'",
        "self.name.split('-') == ['app', 'web'] && self.tags.join(',') == 'web,db'",
        "self.name.indexOf('-') == 3 && self.name.substring(4) == 'web' && self.name.replace('-', '_') == 'app_web'",
        "' x '.trim() == 'x' && self.tags.indexOf('db') == 1 && [1, 2, 3].isSorted() && [1, 2].sum() == 3",
        "self.name.find('[a-z]+') == 'app' && self.name.findAll('[a-z]+') == ['app', 'web']",
        "int('5') == 5 && string(5) == '5' && type(self.replicas) == int",
    ],
)
def test_what_real_promises_use_evaluates_as_in_cel(rule: str) -> None:
    assert _errors(rule) == []


def test_a_false_rule_is_an_error_on_its_node() -> None:
    assert _errors("self.replicas > 5") == ["spec: Invalid value: failed rule: self.replicas > 5"]
    assert _errors("self.replicas > 5", message=" too few ") == ["spec: Invalid value: too few"]


def test_a_rule_on_a_scalar_shows_the_value() -> None:
    schema = _spec_schema(
        [], name={"type": "string", "x-kubernetes-validations": [{"rule": "self.size() < 3"}]}
    )
    schema["properties"]["spec"]["properties"]["replicas"]["x-kubernetes-validations"] = [
        {"rule": "self < 2", "message": "at most one"}
    ]
    errors = [e.text() for e in cel.evaluate(schema, {"spec": SPEC})]
    assert errors == [
        "spec.replicas: Invalid value: 3: at most one",
        'spec.name: Invalid value: "app-web": failed rule: self.size() < 3',
    ]


def test_reason_field_path_and_message_expression() -> None:
    assert _errors("false", reason="FieldValueForbidden", message="no") == ["spec: Forbidden: no"]
    assert _errors("false", reason="FieldValueRequired", message="no") == ["spec: Required value: no"]
    assert _errors("false", reason="FieldValueDuplicate") == ["spec: Duplicate value"]
    assert _errors("false", fieldPath=".replicas", message="no") == ["spec.replicas: Invalid value: no"]
    assert _errors("false", fieldPath=".labels['team']", message="no") == [
        "spec.labels[team]: Invalid value: no"
    ]
    assert _errors("false", messageExpression="'name ' + self.name") == ["spec: Invalid value: name app-web"]
    # a messageExpression that fails, or gives nothing, falls back to the message
    assert _errors("false", messageExpression="self.nothing", message="m") == ["spec: Invalid value: m"]
    assert _errors("false", messageExpression="'  '") == ["spec: Invalid value: failed rule: false"]


def test_evaluation_errors_say_what_went_wrong() -> None:
    assert _errors("self.nothing == 1") == [
        'spec: Invalid value: "object": no such key: nothing evaluating rule: self.nothing == 1'
    ]
    assert _errors("self.replicas / 0 == 1") == [
        'spec: Invalid value: "object": division by zero evaluating rule: self.replicas / 0 == 1'
    ]
    # || and && absorb an error when the other side decides, and pass the left error on otherwise
    assert _errors("self.nothing == 1 || true") == []
    assert _errors("false && self.nothing == 1", message="m") == ["spec: Invalid value: m"]
    assert _errors("self.nothing == 1 || self.other == 2") == [
        'spec: Invalid value: "object": no such key: nothing evaluating rule: self.nothing == 1 || self.other == 2'
    ]


def test_an_unsupported_kubernetes_function_is_a_clear_error_never_a_pass() -> None:
    [error] = _errors("semver('1.2.3') == semver('1.2.3')")
    assert error.startswith('spec: Invalid value: "object": ')
    assert "kratix-py cannot evaluate the Kubernetes CEL function 'semver' (not implemented)" in error


def test_the_quantity_library_compares_by_value() -> None:
    assert (
        _errors("quantity('1k') == quantity('1000') && quantity('1Gi').isGreaterThan(quantity('1G'))") == []
    )
    assert _errors("quantity('1500m').add(1).compareTo(quantity('2.5')) == 0") == []
    assert _errors("quantity('1Mi').sub(quantity('1Ki')).asInteger() == 1047552") == []
    assert _errors("quantity('1Ki').isLessThan(quantity('1k'))") == [
        "spec: Invalid value: failed rule: quantity('1Ki').isLessThan(quantity('1k'))"
    ]


def test_a_transition_rule_runs_only_on_update_where_the_old_value_exists() -> None:
    schema = _spec_schema(
        [],
        name={
            "type": "string",
            "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "fixed"}],
        },
    )
    assert cel.evaluate(schema, {"spec": SPEC}) == []  # create
    assert cel.evaluate(schema, {"spec": SPEC}, {"spec": {"replicas": 1}}) == []  # no old name
    [error] = cel.evaluate(schema, {"spec": {**SPEC, "name": "x"}}, {"spec": SPEC})
    assert error.text() == 'spec.name: Invalid value: "x": fixed'


def test_optional_old_self_runs_on_create_too() -> None:
    rule = {
        "rule": "!oldSelf.hasValue() || self >= oldSelf.value()",
        "optionalOldSelf": True,
        "message": "grows",
    }
    schema = _spec_schema([], replicas={"type": "integer", "x-kubernetes-validations": [rule]})
    assert cel.evaluate(schema, {"spec": {"replicas": 1}}) == []
    assert cel.evaluate(schema, {"spec": {"replicas": 5}}, {"spec": {"replicas": 1}}) == []
    [error] = cel.evaluate(schema, {"spec": {"replicas": 1}}, {"spec": {"replicas": 5}})
    assert error.text() == "spec.replicas: Invalid value: 1: grows"
    first = {"rule": "oldSelf.orValue(0) == 0", "optionalOldSelf": True}
    schema = _spec_schema([], replicas={"type": "integer", "x-kubernetes-validations": [first]})
    assert cel.evaluate(schema, {"spec": {"replicas": 4}}) == []


def test_an_unchanged_value_is_not_rechecked_on_update() -> None:
    """Ratcheting: a value stored before the rule existed can stay; changing it is checked."""
    schema = _spec_schema(
        [], name={"type": "string", "x-kubernetes-validations": [{"rule": "self.startsWith('app-')"}]}
    )
    old = {"spec": {**SPEC, "name": "legacy"}}
    assert cel.evaluate(schema, {"spec": {**SPEC, "name": "legacy", "replicas": 9}}, old) == []
    assert len(cel.evaluate(schema, {"spec": {**SPEC, "name": "legacy2"}}, old)) == 1
    assert len(cel.evaluate(schema, {"spec": {**SPEC, "name": "legacy"}})) == 1  # create


def test_map_lists_correlate_items_by_key_for_old_self() -> None:
    items = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "size": {"type": "integer"}},
        "x-kubernetes-validations": [{"rule": "self.size >= oldSelf.size", "message": "cannot shrink"}],
    }
    disks = {
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
        "items": items,
    }
    schema = _spec_schema([], disks=disks)
    old = {"spec": {"disks": [{"name": "a", "size": 5}, {"name": "b", "size": 5}]}}
    reordered = {
        "spec": {"disks": [{"name": "b", "size": 6}, {"name": "a", "size": 5}, {"name": "c", "size": 1}]}
    }
    assert cel.evaluate(schema, reordered, old) == []
    [error] = cel.evaluate(schema, {"spec": {"disks": [{"name": "b", "size": 4}]}}, old)
    assert error.text() == "spec.disks[0]: Invalid value: cannot shrink"


def test_the_root_sees_apiversion_kind_and_only_name_and_generatename_of_metadata() -> None:
    schema = {
        "type": "object",
        "x-kubernetes-validations": [
            {"rule": "self.kind == 'App' && self.metadata.name.startsWith('a')"},
            {"rule": "!has(self.metadata.namespace)"},
        ],
    }
    obj = {"apiVersion": "x/v1", "kind": "App", "metadata": {"name": "app", "namespace": "n", "labels": {}}}
    assert cel.evaluate(schema, obj) == []
    [error] = cel.evaluate(schema, {**obj, "metadata": {"name": "b"}})
    assert (
        error.text()
        == "<nil>: Invalid value: failed rule: self.kind == 'App' && self.metadata.name.startsWith('a')"
    )


def test_rules_are_parsed_once_per_rule_text() -> None:
    rule = "self.replicas != 424242"
    schema = _spec_schema([{"rule": rule}])
    cel.evaluate(schema, {"spec": SPEC})
    misses = cel.parse.cache_info().misses
    for _ in range(5):
        cel.evaluate(schema, {"spec": SPEC})
    assert cel.parse.cache_info().misses == misses


def test_a_crd_rule_that_does_not_compile_is_a_problem_at_its_path() -> None:
    schema = _spec_schema(
        [{"rule": "self.nothing > 1"}, {"rule": "self.replicas"}, {"rule": "self.replicas > 1"}]
    )
    schema["properties"]["spec"]["properties"]["tags"]["items"]["x-kubernetes-validations"] = [
        {"rule": "self.lowerAscii() == self", "messageExpression": "self.size()"}
    ]
    problems = cel.rule_problems(schema, "spec.validation.openAPIV3Schema")
    base = "spec.validation.openAPIV3Schema.properties[spec]"
    assert [p.field for p in problems] == [
        f"{base}.x-kubernetes-validations[0].rule",
        f"{base}.x-kubernetes-validations[1].rule",
        f"{base}.properties[tags].items.x-kubernetes-validations[0].messageExpression",
    ]
    assert problems[0].message.endswith(
        "compilation failed: ERROR: <input>:1:5: undefined field 'nothing'\n | self.nothing > 1\n | ....^"
    )
    assert problems[1].message.endswith(": cel expression must evaluate to a bool")
    assert problems[2].message.endswith(": messageExpression must evaluate to a string")


def test_a_schema_without_rules_costs_nothing() -> None:
    assert not cel.has_rules({"type": "object", "properties": {"spec": {"type": "object"}}})
    assert cel.evaluate({"type": "object"}, {"spec": {}}) == []


def test_property_names_that_are_not_cel_identifiers_are_escaped_as_kubernetes_does() -> None:
    props = {"max-size": {"type": "integer"}, "if": {"type": "string"}, "a__b": {"type": "string"}}
    rule = "self.max__dash__size == 3 && self.__if__ == 'x' && self.a__underscores__b == 'y'"
    schema = _spec_schema([{"rule": rule}], **props)
    assert cel.rule_problems(schema, "s") == []
    assert cel.evaluate(schema, {"spec": {"max-size": 3, "if": "x", "a__b": "y"}}) == []
    assert len(cel.evaluate(schema, {"spec": {"max-size": 4, "if": "x", "a__b": "y"}})) == 1
    [problem] = cel.rule_problems(_spec_schema([{"rule": "self.max_size == 1"}], **props), "s")
    assert "undefined field 'max_size'" in problem.message
