"""From a CRD schema to a form: what is kept, changed and reported. Ajv itself compiles the
generated forms in test_backstage_packages.py; these pin the translation rules."""

from __future__ import annotations

from typing import Any

import pytest

from kratix_py.core.formschema import form_field, javascript_pattern_problem, request_form, title_of


def test_kubernetes_extensions_become_plain_json_schema() -> None:
    field = form_field(
        {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
            "properties": {
                "port": {
                    "x-kubernetes-int-or-string": True,
                    "anyOf": [{"type": "integer"}, {"type": "string"}],
                },
                "tags": {"type": "array", "items": {"type": "string", "nullable": True}, "maxItems": 3},
            },
            "required": ["port"],
        },
        "network",
    )
    assert field == {
        "title": "Network",
        "type": "object",
        "properties": {
            "port": {"title": "Port", "type": "string", "description": "A number or a string."},
            "tags": {"title": "Tags", "type": "array", "maxItems": 3, "items": {"type": "string"}},
        },
        "required": ["port"],
    }


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "integer", "minimum": 0, "exclusiveMinimum": True}, {"exclusiveMinimum": 0}),
        ({"type": "integer", "maximum": 9, "exclusiveMaximum": False}, {"maximum": 9}),
        ({"type": "number", "exclusiveMinimum": 1.5}, {"exclusiveMinimum": 1.5}),
    ],
)
def test_openapi_exclusive_bounds_become_draft_7(schema: dict[str, Any], expected: dict[str, Any]) -> None:
    field = form_field(schema, "x")
    assert {k: v for k, v in field.items() if k not in ("title", "type")} == expected


def test_formats_that_mean_something_else_to_the_form_are_dropped_with_a_warning() -> None:
    form = request_form(
        {
            "properties": {
                "every": {"type": "string", "format": "duration"},
                "at": {"type": "string", "format": "date-time"},
                "net": {"type": "string", "format": "cidr"},
            }
        }
    )
    assert "format" not in form.fields["every"] and "format" not in form.fields["net"]
    assert form.fields["at"]["format"] == "date-time"
    assert [(p.path, p.fatal) for p in form.problems] == [("spec.every", False), ("spec.net", False)]


@pytest.mark.parametrize(
    "pattern",
    [r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", r"^[a-z0-9.\-]+\.example\.com$", r"^\d{3}-\w+$", r"^a\/b$"],
)
def test_javascript_patterns_pass(pattern: str) -> None:
    assert javascript_pattern_problem(pattern) is None


@pytest.mark.parametrize(
    ("pattern", "said"),
    [
        ("(?i)^eu$", "inline flags"),
        (r"^(?P<zone>[a-z]+)$", "named groups"),
        (r"\Aeu\z", "anchors"),
        ("^[[:alpha:]]+$", "POSIX classes"),
        ("^a++$", "possessive"),
        (r"^\@team$", "escapes '@'"),
        (r"^a\-b$", "escapes '-'"),
        ("^(a$", "not a regular expression"),
    ],
)
def test_patterns_javascript_refuses_are_fatal(pattern: str, said: str) -> None:
    problem = javascript_pattern_problem(pattern)
    assert problem is not None and said in problem
    form = request_form({"properties": {"zone": {"type": "string", "pattern": pattern}}})
    assert [p.path for p in form.fatal] == ["spec.zone"]


@pytest.mark.parametrize(
    ("schema", "said"),
    [
        ({"properties": {"ui:widget": {"type": "string"}}}, "named like a Backstage UI option"),
        ({"properties": {"a": {"type": "object", "properties": {"ui:x": {"type": "string"}}}}}, "UI option"),
        ({"properties": {"list": {"type": "array"}}}, "array without items"),
        ({"properties": {"thing": {"description": "no type"}}}, "has no type"),
    ],
)
def test_what_no_form_can_show_is_fatal(schema: dict[str, Any], said: str) -> None:
    [problem] = request_form(schema).fatal
    assert said in problem.message


def test_rules_the_form_leaves_to_the_api_server_are_warnings() -> None:
    form = request_form(
        {
            "x-kubernetes-validations": [{"rule": "true"}],
            "properties": {"free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
        }
    )
    assert form.fatal == []
    assert [p.path for p in form.warnings] == ["spec", "spec.free"]


def test_required_fields_and_the_description_are_kept() -> None:
    form = request_form(
        {"description": "A database.", "required": ["a", "gone"], "properties": {"a": {"type": "string"}}}
    )
    assert form.required == ["a"] and form.description == "A database."


@pytest.mark.parametrize(
    ("name", "title"),
    [("teamName", "Team name"), ("maxMemoryMB", "Max memory MB"), ("enableTLS", "Enable TLS")],
)
def test_field_titles(name: str, title: str) -> None:
    assert title_of(name) == title


PATTERN_CORPUS = [
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    r"^[a-z0-9.\-]+\.example\.com$",
    r"^\d{3}-\w+$",
    r"^a\/b$",
    r"^[\w\-\.]+$",
    r"^\$\{[A-Z_]+\}$",
    r"^(\d+)(Mi|Gi)$",
    r"^a\-b$",
    r"^\@team$",
    r"^\_x$",
    "(?i)^eu$",
    r"^(?P<zone>[a-z]+)$",
    r"\Aeu\z",
    "^[[:alpha:]]+$",
    "^a++$",
    "^(a$",
]


def test_the_pattern_check_agrees_with_javascript(backstage_check: Any) -> None:
    """The JavaScript engine Backstage's form runs in is the judge of what compiles."""
    compiled = backstage_check({"patterns": PATTERN_CORPUS})["patterns"]
    disagreements = {
        pattern: (javascript_pattern_problem(pattern), compiled[pattern])
        for pattern in PATTERN_CORPUS
        if (javascript_pattern_problem(pattern) is None) != (compiled[pattern] is None)
    }
    assert not disagreements
    assert sum(1 for error in compiled.values() if error) >= 8
