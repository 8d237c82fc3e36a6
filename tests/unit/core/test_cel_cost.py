"""The static cost of CEL rules, as kube-apiserver estimates it when a CRD is written.

Every cost below was read off a real kube-apiserver (v1.37): the rule was put on the items of a
list with ``maxItems`` N so that cost x N landed just over the 10,000,000 budget, where the server
prints the factor to six decimals (``exceeds budget by factor of 1.017568x``); costs over
1,000,000 were read off the schema total the same way, with copies of the rule.
"""

from __future__ import annotations

from typing import Any

import pytest

from kratix_py.core import cel_cost

S63: dict[str, Any] = {"type": "string", "maxLength": 63}  # 252 bytes: 4 per character
STRING: dict[str, Any] = {"type": "string"}  # as long as a request: 3 MiB - 2
LIST10: dict[str, Any] = {"type": "array", "maxItems": 10, "items": S63}
INTS: dict[str, Any] = {"type": "array", "items": {"type": "integer"}}  # 1,572,863 fit in a request
MAP: dict[str, Any] = {"type": "object", "additionalProperties": S63}
INT_OR_STRING: dict[str, Any] = {"x-kubernetes-int-or-string": True}
OBJECT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "replicas": {"type": "integer"},
        "name": S63,
        "free": STRING,
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": STRING, "ports": {"type": "array", "items": {"type": "integer"}}},
            },
        },
    },
}

VERIFIED = [
    # strings: a scan costs a tenth of the length, a regex a quarter of the pattern's
    (S63, "self.startsWith('app-')", 2),
    (S63, "self.matches('^[a-z]+$')", 53),
    (S63, "matches(self, '^a')", 27),
    (S63, "self.contains('x')", 27),
    (S63, "self.size() <= 10", 3),
    (S63, "self == 'abc'", 2),
    (S63, "self.lowerAscii() == self", 54),
    (S63, "self.replace('a', 'bb') == 'x'", 53),
    (S63, "self.split(',').size() < 3", 54),
    (S63, "self.indexOf('a') >= 0", 28),
    (S63, "self.charAt(0) == 'a'", 3),
    (S63, "self.findAll('[0-9]+').size() < 2", 55),
    (S63, "self + 'x' == 'y'", 28),
    (S63, "'abc' in [self]", 12),
    (S63, "self.substring(1, 3).contains(self)", 704),
    (S63, "quantity(self).isLessThan(quantity('1Gi'))", 29),
    (S63, "cidr(self).containsIP('10.0.0.1')", 32),
    (S63, "type(self) == string", 29),  # a type name's size is self's
    (STRING, "self.contains('x')", 314574),
    (STRING, "self.startsWith('a')", 2),  # only the prefix is scanned
    # macros, as cel-go expands them
    (LIST10, "self.all(t, t.matches('^[a-z]+$'))", 562),
    (LIST10, "self.exists(t, t == 'a')", 62),
    (LIST10, "self.exists_one(t, t == 'a')", 43),
    (LIST10, "self.map(t, t.size()).all(n, n < 5)", 203),
    (LIST10, "self.map(t, t.size() > 1, t + 'x').size() > 0", 434),
    (LIST10, "self.filter(t, t.startsWith('a')).size() < 2", 164),
    (LIST10, "self.all(a, self.all(b, a == b))", 3152),
    (LIST10, "self.all(i, v, i < 5 && v != '')", 62),
    (LIST10, "self.isSorted()", 271),
    (LIST10, "self.join(',') == 'a'", 255),
    (LIST10, "self + ['x'] == self", 14),
    (INTS, "self.all(p, p > 0)", 7864317),
    (INTS, "self.sum() < 10", 1572865),
    (MAP, "self.all(k, self[k].size() < 5)", 3145722),
    (MAP, "self.exists(k, v, v == 'x')", 2359292),
    (INT_OR_STRING, "type(self) == string ? self.size() < 5 : self < 10", 314579),
    (OBJECT, "self.replicas > 1", 3),
    (OBJECT, "has(self.name) && self.name.size() > 1", 5),  # has() is free in Kubernetes
    (OBJECT, "['a','b'].exists(x, x.startsWith(self.name))", 77),
    (OBJECT, "{'a': 1}['a'] == 1", 32),
    (OBJECT, "self.free.contains(self.name)", 8178902),
    (OBJECT, "self.items.all(i, i.name.size() < 10)", 7340028),
    (OBJECT, "self.items.map(i, i.name).exists(n, n == 'a')", 19922939),
    (OBJECT, "self.items.size() > 0 && self.items[0].ports.all(p, p > 1)", 7864324),
    (OBJECT, "self.items.filter(i, i.name.contains('x')).size() < 3", 329869112115),
    (OBJECT, "self.items.all(i, i.ports.all(p, p > 0))", 8246330392578),
]


@pytest.mark.parametrize(("schema", "rule", "cost"), VERIFIED, ids=[rule for _, rule, _ in VERIFIED])
def test_the_cost_of_a_rule_is_the_servers(schema: dict[str, Any], rule: str, cost: int) -> None:
    decl = cel_cost.decl_of(schema)
    assert decl is not None
    assert cel_cost.expression_cost(rule, decl) == cost


def test_a_path_built_from_the_same_variable_overwrites_its_sibling_as_in_go() -> None:
    # cel-go appends i.name into the spare capacity i.ports was built in, so the inner macro's
    # range is sized by name (20 bytes) instead of ports (7 items): the server says 2523, not 963.
    item = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 5},
            "other": STRING,
            "ports": {"type": "array", "maxItems": 7, "items": {"type": "integer"}},
        },
    }
    schema = {"type": "object", "properties": {"items": {"type": "array", "maxItems": 20, "items": item}}}
    decl = cel_cost.decl_of(schema)
    assert decl is not None
    assert cel_cost.expression_cost("self.items.all(i, i.ports.all(p, i.name == 'a'))", decl) == 2523
    assert cel_cost.expression_cost("self.items.all(i, i.ports.all(p, p > 0))", decl) == 823


def test_the_resource_root_sees_names_as_long_as_kubernetes_allows() -> None:
    embedded = {
        "type": "object",
        "x-kubernetes-embedded-resource": True,
        "x-kubernetes-preserve-unknown-fields": True,
    }
    decl = cel_cost.decl_of(embedded, root=True)
    assert decl is not None
    # metadata.name is at most 253 characters (1012 bytes), generateName 252; kind is unbounded
    assert cel_cost.expression_cost("self.metadata.name == self.kind", decl) == 107
    assert cel_cost.expression_cost("self.metadata.generateName == self.kind", decl) == 106
    # a shorter declared maxLength stays
    declared = {
        **embedded,
        "properties": {
            "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 20}}}
        },
    }
    decl = cel_cost.decl_of(declared, root=True)
    assert decl is not None
    assert cel_cost.expression_cost("self.metadata.name == self.kind", decl) == 13


@pytest.mark.parametrize(
    ("factor_cost", "shown"),
    [
        (10_175_680, "1.017568x"),
        (16_000_000, "1.6x"),
        (14_999_999, "1.500000x"),
        (2_000_000_000, "more than 100x"),
    ],
)
def test_the_factor_is_printed_as_go_prints_it(factor_cost: int, shown: str) -> None:
    message = cel_cost.budget_message("estimated rule cost", factor_cost, cel_cost.RULE_LIMIT)
    assert message == (
        f"estimated rule cost exceeds budget by factor of {shown} (try simplifying the rule, or adding "
        "maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)"
    )


def _crd(spec: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"spec": spec}}


def _problems(schema: dict[str, Any]) -> list[str]:
    found = cel_cost.cost_problems(schema, "spec.validation.openAPIV3Schema")
    return [f"{p.field}: {p.message}" for p in found]


HINT = (
    "(try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, "
    "and strings are declared)"
)
SPEC = "spec.validation.openAPIV3Schema.properties[spec]"


def test_a_rule_is_multiplied_by_the_items_it_runs_on() -> None:
    # 53 per run (a 63-character string against a regex); 200,000 runs cost 10,600,000
    tags = {"type": "array", "maxItems": 200_000, "items": {**S63, "x-kubernetes-validations": [
        {"rule": "self.matches('^[a-z]+$')"}]}}  # fmt: skip
    assert _problems(_crd({"type": "object", "properties": {"tags": tags}})) == [
        f"{SPEC}.properties[tags].items.x-kubernetes-validations[0].rule: Forbidden: estimated rule cost "
        f"exceeds budget by factor of 1.060000x {HINT}"
    ]
    tags["maxItems"] = 188_679  # 9,999,987
    assert _problems(_crd({"type": "object", "properties": {"tags": tags}})) == []


def test_under_an_unbounded_list_a_rule_runs_as_often_as_its_smallest_value_fits_a_request() -> None:
    # a 10-character string is at least "" (2 bytes and a comma): 1,048,576 of them, 11 each
    tags = {"type": "array", "items": {"type": "string", "maxLength": 10, "x-kubernetes-validations": [
        {"rule": "self.matches('^[a-z]+$')"}]}}  # fmt: skip
    assert _problems(_crd({"type": "object", "properties": {"tags": tags}})) == [
        f"{SPEC}.properties[tags].items.x-kubernetes-validations[0].rule: Forbidden: estimated rule cost "
        f"exceeds budget by factor of 1.153434x {HINT}"
    ]


def test_rules_over_the_schema_total_are_named_the_four_most_expensive_first() -> None:
    props = {
        f"p{i}": {
            "type": "array",
            "maxItems": 16 + i,
            "items": {**STRING, "x-kubernetes-validations": [{"rule": "self.contains('x')"}]},
        }
        for i in range(16)
    }  # 314574 x (16 + i): 5,033,184 ... 9,751,794 (each under budget), together 118,279,824
    found = _problems(_crd({"type": "object", "properties": props}))
    contributed = (
        "Forbidden: contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema"
    )
    assert found == [
        *(
            f"{SPEC}.properties[p{i}].items.x-kubernetes-validations[0].rule: {contributed}"
            for i in (15, 14, 13, 12)
        ),
        "spec.validation.openAPIV3Schema: Forbidden: x-kubernetes-validations estimated rule cost total for "
        f"entire OpenAPIv3 schema exceeds budget by factor of 1.182798x {HINT}",
    ]


def test_a_message_expression_is_judged_once_not_per_item() -> None:
    item = {"type": "object", "properties": {"name": STRING}, "x-kubernetes-validations": [
        {"rule": "self.name.size() > 1", "messageExpression": "'bad: ' + self.name"}]}  # fmt: skip
    assert (
        _problems(_crd({"type": "object", "properties": {"items": {"type": "array", "items": item}}})) == []
    )


def test_a_rule_not_modelled_exactly_is_not_judged() -> None:
    tags = {"type": "array", "items": STRING, "x-kubernetes-validations": [
        {"rule": "sets.contains(self, ['a'])"}, {"rule": "self.all(t, t.format([1]) == t)"}]}  # fmt: skip
    decl = cel_cost.decl_of(tags)
    assert decl is not None
    assert cel_cost.expression_cost("sets.contains(self, ['a'])", decl) is None
    assert _problems(_crd({"type": "object", "properties": {"tags": tags}})) == []


def test_a_broken_rule_elsewhere_stops_the_estimate_as_on_a_server() -> None:
    # kube-apiserver compiles no rule at or above a node with a rule problem (here a bad reason)
    tags = {"type": "array", "items": STRING}
    spec: dict[str, Any] = {"type": "object", "properties": {"tags": tags}, "x-kubernetes-validations": [
        {"rule": "self.tags.all(t, t.contains('x'))"}, {"rule": "true", "reason": "Nope"}]}  # fmt: skip
    assert _problems(_crd(spec)) == []
    spec["x-kubernetes-validations"].pop()
    assert len(_problems(_crd(spec))) == 3  # over per rule, contributed, over in total
