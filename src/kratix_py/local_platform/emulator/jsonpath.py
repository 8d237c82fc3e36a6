"""The small JSONPath subset that printer columns and selectable fields use.

Supported: ``.a.b``, ``.a[0]``, ``.a[-1]``, ``.a[*].b``, ``.a.*``, ``['a.b']``, escaped dots
(``.metadata.labels.app\\.kubernetes\\.io/name``), and filters such as
``.conditions[?(@.type=="Ready")].status`` (``==``, ``!=``, or a bare ``@.field`` for existence).
An optional ``{...}`` wrapper is accepted. Missing keys yield no result instead of an error,
like kubectl's ``AllowMissingKeys``.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Key:
    name: str


@dataclass(frozen=True)
class Index:
    index: int


@dataclass(frozen=True)
class Wildcard:
    pass


@dataclass(frozen=True)
class Filter:
    path: tuple[Any, ...]
    op: str  # "==", "!=", or "exists"
    literal: Any = None


Segment = Key | Index | Wildcard | Filter


class JSONPathError(ValueError):
    """The expression is outside the supported subset."""


_FILTER_RE = re.compile(r"^\?\(\s*@((?:\.[^=!\s)]+)*)\s*(?:(==|!=)\s*(.+?))?\s*\)$")


def _parse_literal(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    try:
        return json.loads(text)
    except ValueError:
        return text


def _read_name(expr: str, pos: int) -> tuple[str, int]:
    """A dotted name segment; ``\\.`` escapes a literal dot (label keys with domains)."""
    out: list[str] = []
    while pos < len(expr) and expr[pos] not in ".[":
        if expr[pos] == "\\" and pos + 1 < len(expr):
            out.append(expr[pos + 1])
            pos += 2
            continue
        out.append(expr[pos])
        pos += 1
    return "".join(out), pos


def _matching_bracket(expr: str, start: int) -> int:
    depth = 0
    quote: str | None = None
    for pos in range(start, len(expr)):
        char = expr[pos]
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return pos
    raise JSONPathError(f"unclosed bracket in {expr!r}")


@functools.lru_cache(maxsize=512)
def compile_path(expression: str) -> tuple[Segment, ...]:
    expr = expression.strip()
    if expr.startswith("{") and expr.endswith("}"):
        expr = expr[1:-1].strip()
    if expr.startswith("$"):
        expr = expr[1:]
    segments: list[Segment] = []
    pos = 0
    while pos < len(expr):
        char = expr[pos]
        if char == ".":
            if expr.startswith("..", pos):
                raise JSONPathError(f"recursive descent is not supported: {expression!r}")
            pos += 1
            if pos < len(expr) and expr[pos] == "*":
                segments.append(Wildcard())
                pos += 1
                continue
            name, pos = _read_name(expr, pos)
            if name:
                segments.append(Key(name))
        elif char == "[":
            end = _matching_bracket(expr, pos)
            inner = expr[pos + 1 : end].strip()
            pos = end + 1
            segments.append(_bracket_segment(inner, expression))
        else:
            raise JSONPathError(f"unexpected {char!r} in {expression!r}")
    return tuple(segments)


def _bracket_segment(inner: str, expression: str) -> Segment:
    if inner == "*":
        return Wildcard()
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        return Key(inner[1:-1])
    if re.fullmatch(r"-?\d+", inner):
        return Index(int(inner))
    match = _FILTER_RE.match(inner)
    if match:
        raw_path, op, literal = match.groups()
        path = compile_path(raw_path) if raw_path else ()
        if op is None:
            return Filter(path, "exists")
        return Filter(path, op, _parse_literal(literal))
    raise JSONPathError(f"unsupported expression [{inner}] in {expression!r}")


def _step(node: Any, segment: Segment) -> list[Any]:
    if isinstance(segment, Key):
        return [node[segment.name]] if isinstance(node, dict) and segment.name in node else []
    if isinstance(segment, Index):
        if isinstance(node, list) and -len(node) <= segment.index < len(node):
            return [node[segment.index]]
        return []
    if isinstance(segment, Wildcard):
        if isinstance(node, list):
            return list(node)
        if isinstance(node, dict):
            return [node[k] for k in sorted(node)]
        return []
    items = node if isinstance(node, list) else []
    selected = []
    for item in items:
        found = evaluate_segments(item, segment.path)
        if segment.op == "exists":
            if found:
                selected.append(item)
        elif segment.op == "==":
            if any(_loose_equal(v, segment.literal) for v in found):
                selected.append(item)
        elif found and not any(_loose_equal(v, segment.literal) for v in found):
            selected.append(item)
    return selected


def _loose_equal(value: Any, literal: Any) -> bool:
    if isinstance(value, bool) or isinstance(literal, bool):
        return value is literal or str(value).lower() == str(literal).lower()
    return value == literal or str(value) == str(literal)


def evaluate_segments(obj: Any, segments: tuple[Segment, ...]) -> list[Any]:
    nodes = [obj]
    for segment in segments:
        nodes = [result for node in nodes for result in _step(node, segment)]
        if not nodes:
            break
    return nodes


def find(obj: Any, expression: str) -> list[Any]:
    """All values the expression selects in ``obj`` (empty when a key is missing)."""
    return evaluate_segments(obj, compile_path(expression))


def format_value(value: Any) -> str:
    """How kubectl's JSONPath printer renders one result: strings bare, others as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
