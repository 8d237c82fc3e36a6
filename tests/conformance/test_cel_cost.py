"""The static cost of CEL rules: a CRD whose rules could cost too much is refused at CRD create.

kube-apiserver estimates each rule's worst case from the schema's bounds (``maxLength``,
``maxItems``, ``maxProperties``, else what fits in a 3 MiB request), multiplies it by how often
the rule can run, and refuses a rule over 10,000,000 or a schema whose rules add up to more than
100,000,000. The emulator must refuse the same CRDs with the same causes, and accept the others:
a Promise's API that a cluster would refuse should fail ``kratix-py validate`` and the fast tests.

Most cases put a rule on the items of a list whose ``maxItems`` brings cost x items just over the
budget, so the server prints the factor to six decimals: matching it checks the rule's cost exactly.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from .conftest import Kube, Raw

HINT = (
    "(try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, "
    "and strings are declared)"
)
SHARED = "spec.validation.openAPIV3Schema"
SPEC = f"{SHARED}.properties[spec]"
CONTRIBUTED = (
    "Forbidden: contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema"
)

S63: dict[str, Any] = {"type": "string", "maxLength": 63}
STRING: dict[str, Any] = {"type": "string"}
ITEM: dict[str, Any] = {
    "type": "object",
    "properties": {"name": STRING, "ports": {"type": "array", "items": {"type": "integer"}}},
}


def _factor(cost: int, limit: int) -> str:
    """How kube-apiserver prints cost / limit."""
    factor = cost / limit
    if factor > 100:
        return "more than 100x"
    return f"{factor:f}x" if factor < 1.5 else f"{factor:.1f}x"


def _over(what: str, cost: int, limit: int = 10_000_000) -> str:
    return f"Forbidden: {what} exceeds budget by factor of {_factor(cost, limit)} {HINT}"


def _far_over_budget(where: str) -> list[str]:
    """The causes of one rule over an unbounded list of unbounded strings: it alone passes both
    the rule's and the whole schema's budget."""
    total = "x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema"
    return sorted(
        [
            f"{SHARED}: {_over(total, 10**12, 10**8)}",
            f"{where}: {CONTRIBUTED}",
            f"{where}: {_over('estimated rule cost', 10**12)}",
        ]
    )


def _schema(spec_properties: dict[str, Any], rules: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "object", "properties": spec_properties}
    if rules:
        spec["x-kubernetes-validations"] = rules
    return {"type": "object", "properties": {"spec": spec}}


def _create(kube: Kube, kind: str, schema: dict[str, Any] | None = None, **kwargs: Any) -> Raw:
    body = kube.crd_body(kind, schema=schema, **kwargs)
    answer = kube.raw("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body)
    if answer.status == 201:
        kube._crds.append(body["metadata"]["name"])
    return answer


def _causes(answer: Raw) -> list[str]:
    assert answer.status == 422, answer.body
    return sorted(f"{c['field']}: {c['message']}" for c in answer.body["details"]["causes"])


def _ruled(node: dict[str, Any], rule: str) -> dict[str, Any]:
    return {**node, "x-kubernetes-validations": [{"rule": rule}]}


def test_a_rule_over_unbounded_lists_and_strings_is_refused_at_its_path(kube: Kube) -> None:
    # the usual one: every item's unbounded name against a regex, for as many items as fit
    items = {"type": "array", "items": ITEM}
    answer = _create(
        kube, "Usual", _schema({"items": items}, [{"rule": "self.items.all(i, i.name.matches('^[a-z]+$'))"}])
    )
    where = f"{SPEC}.x-kubernetes-validations[0].rule"
    assert _causes(answer) == _far_over_budget(where)
    # the same rule with bounds is fine: 1,000 names of at most 63 characters
    bounded = {"type": "array", "maxItems": 1000, "items": {**ITEM, "properties": {"name": S63}}}
    rule = [{"rule": "self.items.all(i, i.name.matches('^[a-z]+$'))"}]
    assert _create(kube, "Bounded", _schema({"items": bounded}, rule)).status == 201


def test_a_rule_under_an_unbounded_list_runs_once_per_item_that_fits_a_request(kube: Kube) -> None:
    # 11 per run; a string is at least "" and a comma, so 3 MiB / 3 = 1,048,576 runs
    tags = {"type": "array", "items": _ruled({"type": "string", "maxLength": 10}, "self.matches('^[a-z]+$')")}
    answer = _create(kube, "Tags", _schema({"tags": tags}))
    assert _causes(answer) == [
        f"{SPEC}.properties[tags].items.x-kubernetes-validations[0].rule: {_over('estimated rule cost', 11 * 1_048_576)}"
    ]
    # an object with two required fields is at least {"name":"","size":0} (21 bytes and a comma):
    # 3 MiB / 22 = 142,987 runs of 76
    item: dict[str, Any] = {
        "type": "object",
        "required": ["name", "size"],
        "properties": {"name": {"type": "string", "maxLength": 90}, "size": {"type": "integer"}},
        "x-kubernetes-validations": [{"rule": "self.name.matches('^[a-z]+$')"}],
    }
    answer = _create(kube, "Sized", _schema({"items": {"type": "array", "items": item}}))
    assert _causes(answer) == [
        f"{SPEC}.properties[items].items.x-kubernetes-validations[0].rule: {_over('estimated rule cost', 76 * 142_987)}"
    ]
    # a default makes a required field optional on the wire: {"size":0} and a comma, 262,144 runs
    item["properties"]["name"]["default"] = "a"
    answer = _create(kube, "Defaulted", _schema({"items": {"type": "array", "items": item}}))
    assert _causes(answer) == [
        f"{SPEC}.properties[items].items.x-kubernetes-validations[0].rule: {_over('estimated rule cost', 76 * 262_144)}"
    ]


COSTS = [
    # (the node, a rule on it, the rule's cost per run)
    (S63, "self.startsWith('app-')", 2),
    (S63, "self.matches('^[a-z]+$')", 53),
    (S63, "self.contains('x')", 27),
    (S63, "self.lowerAscii() == self", 54),
    (S63, "self.split(',').size() < 3", 54),
    (S63, "self.replace('a', 'bb') == 'x'", 53),
    (S63, "self.findAll('[0-9]+').size() < 2", 55),
    (S63, "self.substring(1, 3).contains(self)", 704),
    (S63, "quantity(self).isLessThan(quantity('1Gi'))", 29),
    (STRING, "self.contains('x')", 314574),
    ({"type": "array", "maxItems": 10, "items": S63}, "self.all(t, t.matches('^[a-z]+$'))", 562),
    ({"type": "array", "maxItems": 10, "items": S63}, "self.exists_one(t, t == 'a')", 43),
    ({"type": "array", "maxItems": 10, "items": S63}, "self.map(t, t.size()).all(n, n < 5)", 203),
    ({"type": "array", "maxItems": 10, "items": S63}, "self.filter(t, t.startsWith('a')).size() < 2", 164),
    ({"type": "array", "maxItems": 10, "items": S63}, "self.all(a, self.all(b, a == b))", 3152),
    ({"type": "array", "maxItems": 10, "items": S63}, "self.join(',') == 'a'", 255),
    ({"type": "object", "additionalProperties": S63}, "self.all(k, self[k].size() < 5)", 3145722),
    ({"type": "object", "properties": {"a": {"type": "integer"}}}, "has(self.a) && self.a > 1", 4),
    ({"x-kubernetes-int-or-string": True}, "type(self) == string ? self.size() < 5 : self < 10", 314579),
    (
        {
            "type": "object",
            "x-kubernetes-embedded-resource": True,
            "x-kubernetes-preserve-unknown-fields": True,
        },
        "self.metadata.name == self.kind",  # a name is at most 253 characters
        107,
    ),
]


@pytest.mark.parametrize(("node", "rule", "cost"), COSTS, ids=[rule for _, rule, _ in COSTS])
def test_each_rule_costs_what_the_server_estimates(
    kube: Kube, node: dict[str, Any], rule: str, cost: int
) -> None:
    items = math.ceil(10_000_001 / cost)  # just over the budget: the factor shows six decimals
    probe = {"type": "array", "maxItems": items, "items": _ruled(node, rule)}
    answer = _create(kube, "Probe", _schema({"probe": probe}))
    assert _causes(answer) == [
        f"{SPEC}.properties[probe].items.x-kubernetes-validations[0].rule: {_over('estimated rule cost', cost * items)}"
    ]


def test_a_rule_exactly_at_the_budget_is_accepted(kube: Kube) -> None:
    # 53 x 188,679 = 9,999,987; 200,000 items would be 10,600,000
    tags = {"type": "array", "maxItems": 188_679, "items": _ruled(S63, "self.matches('^[a-z]+$')")}
    assert _create(kube, "Under", _schema({"tags": tags})).status == 201
    # 2 x 5,000,000 is exactly 10,000,000: still allowed
    names = {"type": "array", "maxItems": 5_000_000, "items": _ruled(S63, "self.startsWith('app-')")}
    assert _create(kube, "Exact", _schema({"names": names})).status == 201


def _filler(runs: int) -> dict[str, Any]:
    """A rule of cost 1 (``has()`` is free, ``self`` costs 1), run ``runs`` times."""
    item = {"type": "object", "properties": {"a": {"type": "integer"}}}
    return {"type": "array", "maxItems": runs, "items": _ruled(item, "has(self.a)")}


def test_rules_that_together_cost_too_much_are_refused_the_four_most_expensive_named(kube: Kube) -> None:
    props = {
        f"p{i}": {"type": "array", "maxItems": 16 + i, "items": _ruled(STRING, "self.contains('x')")}
        for i in range(16)
    }  # 314,574 x (16 + i): each under 10,000,000, together 118,279,824
    answer = _create(kube, "Total", _schema(props))
    total = "x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema"
    assert _causes(answer) == sorted(
        [
            *(
                f"{SPEC}.properties[p{i}].items.x-kubernetes-validations[0].rule: {CONTRIBUTED}"
                for i in (12, 13, 14, 15)
            ),
            f"{SHARED}: {_over(total, 118_279_824, 100_000_000)}",
        ]
    )
    # ten rules of 10,000,000 are exactly the limit; one more run is over
    fillers = {f"f{i}": _filler(10_000_000) for i in range(10)}
    assert _create(kube, "Limit", _schema(fillers)).status == 201
    answer = _create(kube, "Over", _schema({**fillers, "one": _filler(1)}))
    assert f"{SHARED}: {_over(total, 100_000_001, 100_000_000)}" in _causes(answer)


def test_a_message_expression_is_judged_alone_and_once(kube: Kube) -> None:
    concatenated = " + ".join(["self.name"] * 30)  # 30 unbounded strings, 188,000,000 or so
    rule = {"rule": "self.name.size() > 1", "messageExpression": f"'bad: ' + {concatenated}"}
    answer = _create(kube, "Message", _schema({"name": STRING}, [rule]))
    found = _causes(answer)
    where = f"{SPEC}.x-kubernetes-validations[0].messageExpression"
    assert f"{where}: {CONTRIBUTED}" in found
    assert any(
        f.startswith(f"{where}: Forbidden: estimated messageExpression cost exceeds budget") for f in found
    )
    # a message is built once per failure, so one under an unbounded list is not multiplied
    item = {
        "type": "object",
        "properties": {"name": STRING},
        "x-kubernetes-validations": [
            {"rule": "self.name.size() > 1", "messageExpression": "'bad: ' + self.name"}
        ],
    }
    assert _create(kube, "Listed", _schema({"items": {"type": "array", "items": item}})).status == 201


def test_versions_with_their_own_schemas_are_judged_each_under_their_path(kube: Kube) -> None:
    def version(name: str, storage: bool, rule: str) -> dict[str, Any]:
        tags = {"type": "array", "items": _ruled(STRING, rule)}
        return {
            "name": name,
            "served": True,
            "storage": storage,
            "schema": {"openAPIV3Schema": _schema({"tags": tags})},
        }

    versions = [version("v1", True, "self.size() < 10"), version("v2", False, "self.contains('x')")]
    answer = _create(kube, "Versioned", versions=versions)
    base = "spec.versions[1].schema.openAPIV3Schema"
    where = f"{base}.properties[spec].properties[tags].items.x-kubernetes-validations[0].rule"
    found = _causes(answer)
    assert f"{where}: {CONTRIBUTED}" in found
    assert f"{where}: {_over('estimated rule cost', 10**12)}" in found
    assert len(found) == 3
    assert any(
        f.startswith(f"{base}: Forbidden: x-kubernetes-validations estimated rule cost total") for f in found
    )
    # versions sharing one schema are judged once, under spec.validation
    same = [version("v1", True, "self.contains('x')"), version("v2", False, "self.contains('x')")]
    answer = _create(kube, "Shared", versions=same)
    where = f"{SPEC}.properties[tags].items.x-kubernetes-validations[0].rule"
    assert _causes(answer) == _far_over_budget(where)


def test_a_rule_on_the_root_sees_a_name_of_at_most_253_characters(kube: Kube) -> None:
    # (1012 bytes + 1) / 10 x 8 / 4 + 3 = 207 (an unbounded name would cost 629,149): with fillers
    # of 99,999,793 the schema is exactly at its limit, with one more it is over
    rule = [{"rule": "self.metadata.name.matches('^[a-z]+$')"}]
    fillers = {f"f{i}": _filler(10_000_000 - i) for i in range(9)}  # no ties: the four largest are named

    def schema(last: int) -> dict[str, Any]:
        spec = {"type": "object", "properties": {**fillers, "last": _filler(last)}}
        return {"type": "object", "x-kubernetes-validations": rule, "properties": {"spec": spec}}

    assert _create(kube, "Root", schema(9_999_829)).status == 201
    total = "x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema"
    named = [
        f"{SPEC}.properties[f{i}].items.x-kubernetes-validations[0].rule: {CONTRIBUTED}" for i in range(4)
    ]
    assert _causes(_create(kube, "Rooted", schema(9_999_830))) == sorted(
        [f"{SHARED}: {_over(total, 100_000_001, 100_000_000)}", *named]
    )
