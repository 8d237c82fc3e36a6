"""CEL validation rules (``x-kubernetes-validations``) of a structural OpenAPI schema.

A real API server evaluates these rules on every write of a custom object, and refuses a CRD whose
rules do not compile. Both halves live here, so ``kratix-py validate`` and the project's API
emulator judge a request the same way a cluster does:

* :func:`rule_problems` checks the rules of a CRD schema as kube-apiserver does at CRD create time
  (syntax, undeclared names, fields the schema does not have, a rule that is not a bool), with
  its field paths and wording.
* :func:`evaluate` walks a schema together with an object (and the stored object on update) and
  evaluates each rule with ``self`` bound to the value at its node, returning the errors in the
  server's words: ``spec: Invalid value: "object": ...`` for an evaluation error,
  ``spec.name: Invalid value: "x": failed rule: self.startsWith('app-')`` for a failed rule.

Semantics copied from kube-apiserver (checked against it by tests/conformance/test_cel.py): a
transition rule (one that uses ``oldSelf``) runs only on update and only where the old value
exists, unless ``optionalOldSelf`` makes ``oldSelf`` an optional; on update, rules on a value that
did not change are not re-checked (validation ratcheting), which is also why status rules only
matter on status writes; when the plain schema checks already failed in a blocking way (type,
required, enum, length) no rule runs. The server's cost estimation is :mod:`kratix_py.core.cel_cost`.
Kubernetes' quantity library is :mod:`kratix_py.core.cel_quantity`. Not done: its other CEL
libraries (url, ip, cidr, semver, format, sets, math): a rule that calls one fails with an error
that says so.

Expressions are parsed and checked once per rule text (an LRU cache), never per request.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import celpy
import lark
from celpy import celtypes

from kratix_py.core import cel_quantity

Schema = dict[str, Any]

ROOT = "<nil>"
"""How the API server names the object itself in a field error (a nil field path)."""

BLOCKING_REASONS = frozenset(
    {
        "FieldValueNotSupported",
        "FieldValueRequired",
        "FieldValueTooLong",
        "FieldValueTooMany",
        "FieldValueTypeInvalid",
    }
)
"""Schema errors after which the API server does not evaluate any rule."""

NOT_CHECKED = (
    "Invalid value: null: some validation rules were not checked because the object was invalid; "
    "correct the existing errors to complete validation"
)


@dataclass(frozen=True)
class RuleError:
    """One failed rule, as a cause of the API server's 422 (``field: message``)."""

    reason: str
    field: str
    message: str

    def text(self) -> str:
        return f"{self.field}: {self.message}"


def not_checked() -> RuleError:
    """The error the API server adds instead of evaluating rules on a schema-invalid object."""
    return RuleError("FieldValueInvalid", ROOT, NOT_CHECKED)


# --- the functions a rule may call ----------------------------------------------------------

# CEL's standard functions and macros that celpy implements (methods and global functions).
_STANDARD = frozenset(
    {
        "has", "size", "contains", "startsWith", "endsWith", "matches", "all", "exists", "exists_one",
        "map", "filter", "int", "uint", "double", "string", "bool", "bytes", "duration", "timestamp",
        "type", "dyn", "getDate", "getDayOfMonth", "getDayOfWeek", "getDayOfYear", "getFullYear",
        "getMonth", "getHours", "getMilliseconds", "getMinutes", "getSeconds",
    }
)  # fmt: skip

# Kubernetes' CEL libraries that kratix-py cannot evaluate: a CRD may use them (the real server
# accepts it), but a rule that calls one fails with an error naming the function.
_UNSUPPORTED = frozenset(
    {
        "sign", "url", "isURL", "getScheme", "getHost",
        "getHostname", "getPort", "getEscapedPath", "getQuery", "ip", "isIP", "cidr", "isCIDR",
        "family", "isUnspecified", "isLoopback", "isLinkLocalMulticast", "isLinkLocalUnicast",
        "isGlobalUnicast", "containsIP", "containsCIDR", "prefixLength", "masked", "semver",
        "isSemver", "major", "minor", "patch", "format", "quote", "least", "greatest", "abs", "ceil",
        "floor", "round", "trunc", "isInf", "isNaN", "isFinite", "sqrt", "bitAnd", "bitOr", "bitXor",
        "bitNot", "bitShiftLeft", "bitShiftRight", "equivalent", "intersects", "encode", "decode",
        "of", "none", "ofNonZeroValue", "optMap", "optFlatMap", "slice", "flatten", "sort", "sortBy",
        "distinct", "range", "reverse",
    }
)  # fmt: skip

# Namespaces that only prefix a library function (``math.least(...)``, ``optional.of(...)``).
_NAMESPACES = frozenset({"math", "optional", "sets", "base64", "strings", "lists"})

_TYPE_NAMES = frozenset(
    {"int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type", "dyn"}
)


def _s(value: Any) -> celtypes.StringType:
    if not isinstance(value, str):
        raise TypeError(f"no such overload: {type(value).__name__}")
    return celtypes.StringType(value)


def _index_of(receiver: Any, item: Any, start: Any = 0) -> celtypes.IntType:
    if isinstance(receiver, str):
        return celtypes.IntType(receiver.find(_s(item), int(start)))
    if isinstance(receiver, list):
        for index, candidate in enumerate(receiver):
            if candidate == item:
                return celtypes.IntType(index)
        return celtypes.IntType(-1)
    raise TypeError("no such overload: indexOf")


def _last_index_of(receiver: Any, item: Any) -> celtypes.IntType:
    if isinstance(receiver, str):
        return celtypes.IntType(receiver.rfind(_s(item)))
    if isinstance(receiver, list):
        for index in range(len(receiver) - 1, -1, -1):
            if receiver[index] == item:
                return celtypes.IntType(index)
        return celtypes.IntType(-1)
    raise TypeError("no such overload: lastIndexOf")


def _split(text: Any, separator: Any, limit: Any = -1) -> celtypes.ListType:
    limit = int(limit)
    if limit == 0:
        return celtypes.ListType([])
    parts = _s(text).split(_s(separator), limit - 1 if limit > 0 else -1) if separator else list(text)
    return celtypes.ListType([celtypes.StringType(p) for p in parts])


def _substring(text: Any, start: Any, end: Any = None) -> celtypes.StringType:
    text = _s(text)
    stop = len(text) if end is None else int(end)
    if not 0 <= int(start) <= stop <= len(text):
        raise IndexError(f"index out of range: {int(start) if int(start) > len(text) else stop}")
    return celtypes.StringType(text[int(start) : stop])


def _char_at(text: Any, index: Any) -> celtypes.StringType:
    text = _s(text)
    if not 0 <= int(index) <= len(text):
        raise IndexError(f"index out of range: {int(index)}")
    return celtypes.StringType(text[int(index) : int(index) + 1])


def _join(items: Any, separator: Any = "") -> celtypes.StringType:
    return celtypes.StringType(_s(separator).join(_s(item) for item in items))


def _replace(text: Any, old: Any, new: Any, count: Any = -1) -> celtypes.StringType:
    return celtypes.StringType(_s(text).replace(_s(old), _s(new), int(count)))


def _is_sorted(items: Any) -> celtypes.BoolType:
    return celtypes.BoolType(all(items[i] <= items[i + 1] for i in range(len(items) - 1)))


def _sum(items: Any) -> Any:
    total: Any = celtypes.IntType(0)
    for index, item in enumerate(items):
        total = item if index == 0 else total + item
    return total


def _min(items: Any) -> Any:
    if not items:
        raise ValueError("min(list) called on an empty list")
    return min(items)


def _max(items: Any) -> Any:
    if not items:
        raise ValueError("max(list) called on an empty list")
    return max(items)


def _find(text: Any, pattern: Any) -> celtypes.StringType:
    found = _regex(str(pattern)).search(_s(text))
    return celtypes.StringType(found.group(0) if found else "")


def _find_all(text: Any, pattern: Any, limit: Any = -1) -> celtypes.ListType:
    matches = [celtypes.StringType(m.group(0)) for m in _regex(str(pattern)).finditer(_s(text))]
    return celtypes.ListType(matches if int(limit) < 0 else matches[: int(limit)])


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


class OptionalValue:
    """``oldSelf`` under ``optionalOldSelf: true``: the old value, or none on create."""

    def __init__(self, value: Any, present: bool) -> None:
        self.value = value
        self.present = present


def _has_value(opt: Any) -> celtypes.BoolType:
    if not isinstance(opt, OptionalValue):
        raise TypeError("no such overload: hasValue")
    return celtypes.BoolType(opt.present)


def _value(opt: Any) -> Any:
    if not isinstance(opt, OptionalValue):
        raise TypeError("no such overload: value")
    if not opt.present:
        raise ValueError("optional.none() dereference")
    return opt.value


def _or_value(opt: Any, default: Any) -> Any:
    if not isinstance(opt, OptionalValue):
        raise TypeError("no such overload: orValue")
    return opt.value if opt.present else default


def _logical(absorbing: bool) -> Callable[[Any, Any], Any]:
    """CEL's ``||`` (absorbing true) or ``&&`` (absorbing false): commutative over errors, and
    when neither side decides, the left error wins, as in cel-go (celpy would report an overload
    error instead)."""

    def combine(left: Any, right: Any) -> Any:
        for side in (left, right):
            if isinstance(side, celtypes.BoolType) and bool(side) is absorbing:
                return side
        if isinstance(left, celtypes.BoolType) and isinstance(right, celtypes.BoolType):
            return celtypes.BoolType(not absorbing)
        for side in (left, right):
            if isinstance(side, Exception):
                return side
        raise TypeError(f"no such overload: {type(left).__name__}, {type(right).__name__}")

    return combine


_LIBRARY: dict[str, Callable[..., Any]] = {
    "_||_": _logical(True),
    "_&&_": _logical(False),
    "lowerAscii": lambda s: celtypes.StringType("".join(c.lower() if c.isascii() else c for c in _s(s))),
    "upperAscii": lambda s: celtypes.StringType("".join(c.upper() if c.isascii() else c for c in _s(s))),
    "trim": lambda s: celtypes.StringType(_s(s).strip()),
    "split": _split,
    "join": _join,
    "replace": _replace,
    "substring": _substring,
    "charAt": _char_at,
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    "isSorted": _is_sorted,
    "sum": _sum,
    "min": _min,
    "max": _max,
    "find": _find,
    "findAll": _find_all,
    "hasValue": _has_value,
    "value": _value,
    "orValue": _or_value,
    **cel_quantity.FUNCTIONS,
}

_KNOWN = _STANDARD | _UNSUPPORTED | frozenset(_LIBRARY)


# --- compiling a rule ----------------------------------------------------------------------


class CompileError(Exception):
    """A rule the API server would not compile; the text is cel-go's ``ERROR: <input>:l:c: ...``."""


@functools.cache
def _environment() -> celpy.Environment:
    """celpy's environment, built on first use: building its parser takes ~0.2 s, which a
    process whose schemas have no rules should not pay."""
    return celpy.Environment()


@dataclass(frozen=True)
class Program:
    """One parsed expression, ready to evaluate any number of times."""

    text: str
    tree: lark.Tree
    runner: celpy.Runner
    uses_old_self: bool


def _locate(text: str, offset: int, message: str) -> str:
    """cel-go's error layout: the position (1-based column), the line, and a caret under it."""
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    line_number = text.count("\n", 0, offset) + 1
    column = offset - line_start + 1
    return f"ERROR: <input>:{line_number}:{column}: {message}\n | {line}\n | {'.' * (column - 1)}^"


def _syntax_error(text: str) -> str:
    """Where and why the text does not parse, in the shape of cel-go's syntax errors."""
    _environment()
    parser = celpy.celparser.CELParser.CEL_PARSER
    try:
        assert parser is not None
        parser.parse(text)
    except lark.exceptions.UnexpectedToken as error:
        if error.token.type == "$END":
            return _locate(text, len(text), "Syntax error: mismatched input '<EOF>'")
        offset = error.token.start_pos or 0
        return _locate(text, offset, f"Syntax error: mismatched input '{error.token.value}'")
    except lark.exceptions.UnexpectedCharacters as error:
        return _locate(
            text, error.pos_in_stream or 0, f"Syntax error: token recognition error at: '{error.char}'"
        )
    except lark.exceptions.LarkError as error:
        return _locate(text, 0, f"Syntax error: {error}")
    return _locate(text, 0, "Syntax error")


@functools.lru_cache(maxsize=2048)
def parse(text: str) -> Program:
    """Parse ``text`` (cached per rule text); raises :class:`CompileError` on a syntax error."""
    try:
        tree = _environment().compile(text)
    except celpy.CELParseError:
        raise CompileError(_syntax_error(text)) from None
    uses_old_self = any(
        isinstance(token, lark.Token) and token.type == "IDENT" and token.value == "oldSelf"
        for token in tree.scan_values(lambda v: isinstance(v, lark.Token))
    )
    runner = _environment().program(tree, functions=_LIBRARY)
    return Program(text, tree, runner, uses_old_self)


# --- static checks: what cel-go's type checker would refuse -----------------------------------


def _declared_type(schema: Schema | None, root: bool = False) -> Schema | None:
    """The schema a CEL value is typed by: the root gains apiVersion, kind and metadata."""
    if schema is None or not root:
        return schema
    props = dict(schema.get("properties") or {})
    props["apiVersion"] = {"type": "string"}
    props["kind"] = {"type": "string"}
    props["metadata"] = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "generateName": {"type": "string"}},
    }
    return {**schema, "properties": props}


def _closed_object(schema: Schema | None) -> bool:
    """An object whose fields are exactly its declared properties (field access is checked)."""
    return (
        isinstance(schema, dict)
        and schema.get("type") == "object"
        and isinstance(schema.get("properties"), dict)
        and not schema.get("additionalProperties")
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    )


_SCALAR_TYPES = {"string": "string", "integer": "int", "number": "double", "boolean": "bool"}


class _Checker:
    """A light type checker over celpy's parse tree; ``None`` as a type means 'dynamic'."""

    def __init__(self, text: str, self_type: Schema | None) -> None:
        self.text = text
        self.self_type = self_type

    def fail(self, offset: int, message: str) -> CompileError:
        return CompileError(_locate(self.text, offset, message))

    def dot_before(self, token: lark.Token) -> int:
        offset = (token.start_pos or 0) - 1
        while offset > 0 and self.text[offset] != ".":
            offset -= 1
        return offset

    def paren_after(self, token: lark.Token) -> int:
        offset = token.end_pos or 0
        while offset < len(self.text) and self.text[offset] != "(":
            offset += 1
        return offset

    def kind(self, tree: Any, scope: dict[str, Any]) -> Any:
        """The result type: a schema dict, a CEL type name, or ``None`` (dynamic)."""
        if isinstance(tree, lark.Token):
            return None
        data = tree.data
        children = tree.children
        if data == "expr" and len(children) == 3:  # condition ? a : b
            kinds = [self.kind(child, scope) for child in children]
            return kinds[1]
        if data in ("conditionalor", "conditionaland") and len(children) > 1:
            for child in children:
                self.kind(child, scope)
            return "bool"
        if data in ("relation", "addition", "multiplication") and len(children) == 2:
            operator, right = children  # e.g. relation_eq(left) and the right operand
            left = operator.children[0]
            left_kind, right_kind = self.kind(left, scope), self.kind(right, scope)
            self.check_operator(operator.data, left, left_kind, right_kind)
            return "bool" if data == "relation" else left_kind
        if data.startswith("relation_") or data == "unary_not":
            for child in children:
                self.kind(child, scope)
            return "bool"
        if data == "unary" and len(children) == 2:
            operator, operand = children
            inner = self.kind(operand, scope)
            return "bool" if getattr(operator, "data", "") == "unary_not" else inner
        if data == "member_dot":
            receiver, name = children
            receiver_type = self.kind(receiver, scope)
            return self.field(receiver_type, name)
        if data == "member_dot_arg":
            return self.method(children, scope)
        if data == "ident_arg":
            name = children[0]
            args = children[1].children if len(children) > 1 else []
            if name.value == "has":
                for arg in args:
                    self.kind(arg, scope)
                return "bool"
            if name.value not in _KNOWN:
                raise self.fail(
                    name.start_pos or 0, f"undeclared reference to '{name.value}' (in container '')"
                )
            arg_names = [_type_name(self.kind(arg, scope)) for arg in args]
            if name.value == "size" and len(arg_names) == 1 and arg_names[0] in _NUMBERS:
                raise self.fail(
                    self.paren_after(name),
                    f"found no matching overload for 'size' applied to '({arg_names[0]})'",
                )
            return {"size": "int", "int": "int", "string": "string", "bool": "bool", "double": "double"}.get(
                name.value
            )
        if data == "ident":
            name = children[0]
            if name.value == "self":
                return self.self_type
            if name.value == "oldSelf":
                return self.self_type
            if name.value in scope:
                return scope[name.value]
            if name.value in _TYPE_NAMES:
                return None
            raise self.fail(name.start_pos or 0, f"undeclared reference to '{name.value}' (in container '')")
        if data == "literal":
            token = children[0]
            return {
                "STRING_LIT": "string",
                "MLSTRING_LIT": "string",
                "INT_LIT": "int",
                "UINT_LIT": "uint",
                "FLOAT_LIT": "double",
                "BOOL_LIT": "bool",
                "BYTES_LIT": "bytes",
            }.get(token.type)
        if data == "list_lit":
            for child in children:
                self.kind(child, scope)
            return "list"
        if data == "map_lit":
            for child in children:
                self.kind(child, scope)
            return "map"
        if data in ("dot_ident", "dot_ident_arg", "member_object"):
            return None
        if data == "member_index":
            receiver, index = children
            receiver_type = self.kind(receiver, scope)
            self.kind(index, scope)
            if isinstance(receiver_type, dict):
                if receiver_type.get("type") == "array":
                    return receiver_type.get("items")
                if isinstance(receiver_type.get("additionalProperties"), dict):
                    return receiver_type["additionalProperties"]
            return None
        # wrappers with one child: expr, conditionalor, relation, addition, member, primary, paren_expr
        result = None
        for child in children:
            result = self.kind(child, scope)
        return result

    def position(self, tree: Any) -> int:
        """Where cel-go puts an expression in its errors: a field selection at its dot, a call at
        its parenthesis, anything else at its start."""
        while isinstance(tree, lark.Tree) and len(tree.children) == 1 and tree.data != "ident":
            tree = tree.children[0]
        if isinstance(tree, lark.Tree):
            tokens = [c for c in tree.children if isinstance(c, lark.Token)]
            if tree.data == "member_dot" and tokens:
                return self.dot_before(tokens[0])
            if tree.data in ("member_dot_arg", "ident_arg") and tokens:
                return self.paren_after(tokens[0])
            if tree.data == "ident" and tokens:
                return int(tokens[0].start_pos or 0)
            if not tree.meta.empty:
                return int(tree.meta.start_pos)
        return int(getattr(tree, "start_pos", 0) or 0)

    def check_operator(self, operator: str, left: Any, left_kind: Any, right_kind: Any) -> None:
        """Operands of known, incompatible scalar types (``int == string``), as cel-go refuses."""
        symbol = _OPERATORS.get(operator)
        a, b = _scalar_name(left_kind), _scalar_name(right_kind)
        if symbol is None or a is None or b is None or a == b:
            return
        if symbol in ("<", "<=", ">", ">=") and a in _NUMERIC and b in _NUMERIC:
            return  # ordering across int, uint and double is allowed; equality is not
        end = left.meta.end_pos if isinstance(left, lark.Tree) and not left.meta.empty else 0
        offset = self.text.find(symbol, end)
        raise self.fail(
            offset if offset >= 0 else end,
            f"found no matching overload for '_{symbol}_' applied to '({a}, {b})'",
        )

    def field(self, receiver: Any, name: lark.Token) -> Any:
        if isinstance(receiver, dict):
            if _closed_object(receiver):
                props = receiver["properties"]
                fields = {escape_property(key): sub for key, sub in props.items()}
                if name.value not in fields:
                    raise self.fail(self.dot_before(name), f"undefined field '{name.value}'")
                return fields[name.value]
            if isinstance(receiver.get("additionalProperties"), dict):
                return receiver["additionalProperties"]
        return None

    def method(self, children: list[Any], scope: dict[str, Any]) -> Any:
        receiver, name = children[0], children[1]
        args = children[2].children if len(children) > 2 else []
        if isinstance(receiver, lark.Tree) and _is_namespace(receiver):
            namespace = _ident_name(receiver)
            if name.value not in _KNOWN:
                raise self.fail(
                    self.paren_after(name),
                    f"undeclared reference to '{namespace}.{name.value}' (in container '')",
                )
            for arg in args:
                self.kind(arg, scope)
            return None
        receiver_type = self.kind(receiver, scope)
        if name.value not in _KNOWN:
            raise self.fail(
                self.paren_after(name), f"undeclared reference to '{name.value}' (in container '')"
            )
        receiver_name = _type_name(receiver_type)
        if name.value in ("all", "exists", "exists_one", "map", "filter") and receiver_name in _SCALARS:
            raise self.fail(
                self.position(receiver),
                f"expression of type '{receiver_name}' cannot be range of a comprehension "
                "(must be list, map, or dynamic)",
            )
        if name.value in ("all", "exists", "exists_one", "map", "filter") and args:
            variable = _ident_name(args[0])
            item = None
            if isinstance(receiver_type, dict):
                if receiver_type.get("type") == "array":
                    item = receiver_type.get("items")
                elif receiver_type.get("type") == "object":
                    item = {"type": "string"}  # a macro over a map ranges over its keys
            inner = {**scope, variable: item} if variable else scope
            for arg in args[1:]:
                self.kind(arg, inner)
            return "list" if name.value in ("map", "filter") else "bool"
        arg_names = [_type_name(self.kind(arg, scope)) for arg in args]
        wrong_receiver = name.value in _STRING_METHODS and receiver_name not in (None, "string")
        wrong_receiver = wrong_receiver or (name.value == "size" and receiver_name in _NUMBERS)
        # split and findAll take a count after their string: only the first argument is a string.
        string_args = arg_names[:1] if name.value in ("split", "findAll") else arg_names
        wrong_argument = (
            name.value in _STRING_ARGUMENT
            and receiver_name == "string"
            and any(a is not None and a != "string" for a in string_args)
        )
        if wrong_receiver or wrong_argument:
            shown = ", ".join(a or "dyn" for a in arg_names)
            raise self.fail(
                self.paren_after(name),
                f"found no matching overload for '{name.value}' applied to '{receiver_name}.({shown})'",
            )
        if name.value in ("contains", "startsWith", "endsWith", "matches", "isSorted"):
            return "bool"
        if name.value in (
            "lowerAscii",
            "upperAscii",
            "trim",
            "replace",
            "substring",
            "charAt",
            "find",
            "join",
        ):
            return "string"
        if name.value in ("split", "findAll"):
            return {"type": "array", "items": {"type": "string"}}
        if name.value in ("size", "indexOf", "lastIndexOf"):
            return "int"
        return None


_OPERATORS = {
    "relation_eq": "==",
    "relation_ne": "!=",
    "relation_lt": "<",
    "relation_le": "<=",
    "relation_gt": ">",
    "relation_ge": ">=",
    "addition_add": "+",
    "addition_sub": "-",
    "multiplication_mul": "*",
    "multiplication_div": "/",
    "multiplication_mod": "%",
}
_NUMERIC = frozenset({"int", "uint", "double"})
_NUMBERS = frozenset({"int", "uint", "double", "bool"})
_SCALARS = frozenset({"int", "uint", "double", "bool", "string", "bytes"})
# methods only strings have, and those whose arguments must be strings too
_STRING_METHODS = frozenset(
    {"startsWith", "endsWith", "contains", "matches", "lowerAscii", "upperAscii", "trim", "split",
     "substring", "charAt", "replace", "find", "findAll"}
)  # fmt: skip
_STRING_ARGUMENT = frozenset({"startsWith", "endsWith", "contains", "matches", "find", "findAll", "split"})


def _type_name(kind: Any) -> str | None:
    """A checked type in cel-go's notation (``int``, ``list(string)``), ``None`` when dynamic."""
    if isinstance(kind, dict):
        if kind.get("x-kubernetes-int-or-string") or kind.get("x-kubernetes-preserve-unknown-fields"):
            return None
        schema_type = kind.get("type")
        if schema_type in _SCALAR_TYPES:
            return _SCALAR_TYPES[schema_type]
        if schema_type == "array":
            return f"list({_type_name(kind.get('items')) or 'dyn'})"
        if schema_type == "object":
            if isinstance(kind.get("additionalProperties"), dict):
                return f"map(string, {_type_name(kind['additionalProperties']) or 'dyn'})"
            return "object"
        return None
    return kind if isinstance(kind, str) and kind not in ("list", "map") else None


def _scalar_name(kind: Any) -> str | None:
    name = _type_name(kind)
    return name if name in _SCALARS else None


def _ident_name(tree: Any) -> str | None:
    """The name if ``tree`` is just an identifier (through the grammar's wrapper nodes)."""
    while isinstance(tree, lark.Tree) and len(tree.children) == 1 and tree.data != "ident":
        tree = tree.children[0]
    if isinstance(tree, lark.Tree) and tree.data == "ident":
        token = tree.children[0]
        return str(getattr(token, "value", token))
    return None


def _is_namespace(tree: lark.Tree) -> bool:
    return _ident_name(tree) in _NAMESPACES


def _result_name(kind: Any) -> str | None:
    """A checked result type as a CEL type name, or ``None`` when it is dynamic."""
    if isinstance(kind, dict):
        if kind.get("x-kubernetes-int-or-string") or kind.get("x-kubernetes-preserve-unknown-fields"):
            return None
        if kind.get("type") in _SCALAR_TYPES:
            return _SCALAR_TYPES[kind["type"]]
        return {"object": "map", "array": "list"}.get(kind.get("type", ""))
    return kind if isinstance(kind, str) else None


def check_expression(text: str, self_type: Schema | None, *, root: bool = False, want: str = "bool") -> None:
    """Raise :class:`CompileError` if kube-apiserver would not compile ``text`` at this node."""
    program = parse(text)
    checker = _Checker(text, _declared_type(self_type, root))
    result = _result_name(checker.kind(program.tree, {}))
    if result is not None and result != want:
        raise CompileError(f"cel expression must evaluate to a {want}")


def _go_json(rule: dict[str, Any]) -> str:
    """A ValidationRule as Go's encoding/json prints it (in the server's 'Invalid value')."""
    value = {
        "Rule": rule.get("rule", ""),
        "Message": rule.get("message", ""),
        "MessageExpression": rule.get("messageExpression", ""),
        "Reason": rule.get("reason"),
        "FieldPath": rule.get("fieldPath", ""),
        "OptionalOldSelf": rule.get("optionalOldSelf"),
    }
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@dataclass(frozen=True)
class RuleProblem:
    """Why a CRD's rule is refused, with the path kube-apiserver gives it."""

    field: str
    message: str


def _schema_nodes(
    schema: Any, path: str, uncorrelated: str | None = None
) -> Iterator[tuple[Schema, str, str | None]]:
    """Every node of a schema with its CRD field path (``...properties[spec].items``), and the
    path of the list above it whose items have no identity (``oldSelf`` cannot be used there)."""
    if not isinstance(schema, dict):
        return
    yield schema, path, uncorrelated
    for name, sub in (schema.get("properties") or {}).items():
        yield from _schema_nodes(sub, f"{path}.properties[{name}]", uncorrelated)
    if isinstance(schema.get("items"), dict):
        atomic = schema.get("x-kubernetes-list-type") != "map"
        below = uncorrelated or (path if atomic else None)
        yield from _schema_nodes(schema["items"], f"{path}.items", below)
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _schema_nodes(schema["additionalProperties"], f"{path}.additionalProperties", uncorrelated)


_REASONS = ("FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired")


def _valid_field_path(field_path: str, schema: Schema) -> bool:
    """Whether a rule's ``fieldPath`` names a field of the schema (``.a.b``, ``['a.b']``)."""
    segments = re.findall(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\['([^']*)'\]|(.)", field_path)
    if not segments:
        return False
    node: Any = schema
    for name, quoted, stray in segments:
        if stray or not isinstance(node, dict):
            return False
        key = name or quoted
        props = node.get("properties") or {}
        if key in props:
            node = props[key]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return False
    return True


def rule_problems(schema: Any, path: str) -> list[RuleProblem]:
    """The rules of a CRD schema that kube-apiserver would refuse (CRD create 422)."""
    problems: list[RuleProblem] = []
    for node, where, uncorrelated in _schema_nodes(schema, path):
        root = node is schema
        for index, rule in enumerate(node.get("x-kubernetes-validations") or []):
            if not isinstance(rule, dict):
                continue
            base = f"{where}.x-kubernetes-validations[{index}]"
            text = str(rule.get("rule", ""))
            if not text.strip():
                problems.append(RuleProblem(f"{base}.rule", "Required value: rule is not specified"))
                continue
            reason = rule.get("reason")
            if reason is not None and reason not in _REASONS:
                supported = ", ".join(f'"{r}"' for r in _REASONS)
                problems.append(
                    RuleProblem(
                        f"{base}.reason",
                        f"Unsupported value: {json.dumps(reason)}: supported values: {supported}",
                    )
                )
            field_path = rule.get("fieldPath")
            if isinstance(field_path, str) and field_path and not _valid_field_path(field_path, node):
                problems.append(
                    RuleProblem(
                        f"{base}.fieldPath", f"Invalid value: {json.dumps(field_path)}: must be a valid path"
                    )
                )
            try:
                check_expression(text, node, root=root)
            except CompileError as error:
                detail = str(error)
                if not detail.startswith("cel expression"):
                    detail = f"compilation failed: {detail}"
                problems.append(RuleProblem(f"{base}.rule", f"Invalid value: {_go_json(rule)}: {detail}"))
            else:
                if uncorrelated and parse(text).uses_old_self and rule.get("optionalOldSelf") is not True:
                    problems.append(
                        RuleProblem(
                            f"{base}.rule",
                            f"Invalid value: {json.dumps(text)}: oldSelf cannot be used on the uncorrelatable "
                            f"portion of the schema within {uncorrelated}",
                        )
                    )
            expression = rule.get("messageExpression")
            if isinstance(expression, str) and expression.strip():
                try:
                    check_expression(expression, node, root=root, want="string")
                except CompileError as error:
                    detail = str(error)
                    if not detail.startswith("cel expression"):
                        detail = f"messageExpression compilation failed: {detail}"
                    else:
                        detail = "messageExpression must evaluate to a string"
                    problems.append(
                        RuleProblem(f"{base}.messageExpression", f"Invalid value: {_go_json(rule)}: {detail}")
                    )
    return problems


# --- values: JSON as CEL sees it through the schema ----------------------------------------


_RESERVED = frozenset(
    {
        "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function",
        "if", "import", "let", "loop", "package", "namespace", "return", "var", "void", "while",
    }
)  # fmt: skip


@functools.lru_cache(maxsize=4096)
def escape_property(name: str) -> str:
    """A property's name as rules spell it: ``foo-bar`` is ``self.foo__dash__bar``, a CEL
    keyword ``if`` is ``self.__if__`` (Kubernetes' escaping of schema property names)."""
    if name in _RESERVED:
        return f"__{name}__"
    return (
        name.replace("__", "__underscores__")
        .replace(".", "__dot__")
        .replace("-", "__dash__")
        .replace("/", "__slash__")
    )


def to_cel(value: Any, schema: Schema | None, *, root: bool = False) -> Any:
    """``value`` as a CEL value typed by ``schema`` (integer fields are ints, numbers doubles)."""
    if value is None:
        return None
    if not isinstance(schema, dict):
        return celpy.json_to_cel(value)
    kind = schema.get("type")
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, int | float):
        if kind == "number":
            return celtypes.DoubleType(float(value))
        if isinstance(value, float) and not value.is_integer():
            return celtypes.DoubleType(value)
        return celtypes.IntType(int(value))
    if isinstance(value, str):
        return celtypes.StringType(value)
    if isinstance(value, list):
        items = schema.get("items")
        return celtypes.ListType([to_cel(item, items) for item in value])
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        out: dict[Any, Any] = {}
        for key, child in value.items():
            if root and key == "metadata" and isinstance(child, dict):
                # Only metadata.name and metadata.generateName are visible to rules.
                meta = {k: child[k] for k in ("name", "generateName") if k in child}
                out[celtypes.StringType(key)] = celpy.json_to_cel(meta)
            elif key in props:
                out[celtypes.StringType(escape_property(key))] = to_cel(child, props[key])
            elif isinstance(additional, dict):
                out[celtypes.StringType(key)] = to_cel(child, additional)
            else:
                out[celtypes.StringType(key)] = celpy.json_to_cel(child)
        return celtypes.MapType(out)
    return celpy.json_to_cel(value)


# --- evaluation ----------------------------------------------------------------------------


def has_rules(schema: Any) -> bool:
    """Whether a schema has any CEL rule at any depth (cached per schema object)."""
    return _subtree_has_rules(id(schema), schema)


_RULES_SEEN: dict[int, tuple[Any, bool]] = {}


def _subtree_has_rules(key: int, schema: Any) -> bool:
    """Whether any node at or below ``schema`` has rules (cached per schema object)."""
    cached = _RULES_SEEN.get(key)
    if cached is not None and cached[0] is schema:
        return cached[1]
    found = False
    if isinstance(schema, dict):
        found = bool(schema.get("x-kubernetes-validations")) or any(
            has_rules(sub)
            for sub in (
                *(schema.get("properties") or {}).values(),
                schema.get("items"),
                schema.get("additionalProperties"),
            )
            if isinstance(sub, dict)
        )
    if len(_RULES_SEEN) > 8192:
        _RULES_SEEN.clear()
    _RULES_SEEN[key] = (schema, found)  # the reference keeps the id from being reused
    return found


def _type_of(schema: Schema) -> str:
    if schema.get("x-kubernetes-int-or-string"):
        return ""
    return str(schema.get("type") or "")


def _shown(value: Any) -> str | None:
    """How field errors print a value: scalars as JSON, objects and lists not at all."""
    if isinstance(value, dict | list):
        return None
    return json.dumps(value, ensure_ascii=False)


def _runtime_message(error: Exception) -> str:
    """celpy's evaluation errors in cel-go's words, where they differ."""
    args: tuple[Any, ...] = tuple(getattr(error, "args", ()))
    text = str(args[0]) if args else str(error)
    cause = args[1] if len(args) > 1 else None
    found = re.match(r"no such member in mapping: '(.*)'", text)
    if found:
        return f"no such key: {found.group(1)}"
    if "does not support field selection" in text:
        # a field of a value that is not a map (an int-or-string, a preserved unknown field)
        tree = getattr(error, "tree", None)
        name = tree.children[-1] if isinstance(tree, lark.Tree) and tree.children else None
        return f"no such key: {name}" if isinstance(name, lark.Token) else "no such key"
    if cause is ZeroDivisionError:
        return "division by zero"
    if cause is IndexError:
        return "index out of bounds"
    found = re.match(r"undeclared reference to '([^']*)'", text)
    if found:
        name = found.group(1)
        return f"kratix-py cannot evaluate the Kubernetes CEL function '{name}' (not implemented)"
    return text


def _with_field_path(path: str, field_path: str, schema: Schema) -> str:
    """A rule's ``fieldPath`` (``.spec.replicas``, ``['key']``, ``[0]``) appended to ``path``."""
    out = "" if path == ROOT else path
    for name, quoted, index in re.findall(r"\.([^.\[]+)|\['([^']*)'\]|\[(\d+)\]", field_path):
        key = name or quoted
        if key:
            if isinstance(schema.get("additionalProperties"), dict) and key not in (
                schema.get("properties") or {}
            ):
                out = f"{out}[{key}]"
                schema = schema["additionalProperties"]
            else:
                out = f"{out}.{key}" if out else key
                schema = (schema.get("properties") or {}).get(key) or {}
        else:
            out = f"{out}[{index}]"
            schema = schema.get("items") or {}
    return out or ROOT


def _failure(
    reason: str | None, path: str, value: Any, message: str, *, show_value: bool = True
) -> RuleError:
    shown = _shown(value) if show_value else None
    if reason == "FieldValueForbidden":
        return RuleError(reason, path, f"Forbidden: {message}")
    if reason == "FieldValueRequired":
        return RuleError(reason, path, f"Required value: {message}")
    if reason == "FieldValueDuplicate":
        return RuleError(reason, path, "Duplicate value" + (f": {shown}" if shown is not None else ""))
    body = f"Invalid value: {shown}: {message}" if shown is not None else f"Invalid value: {message}"
    return RuleError("FieldValueInvalid", path, body)


def _default_message(rule: dict[str, Any]) -> str:
    message = str(rule.get("message") or "").strip()
    return message or f"failed rule: {str(rule.get('rule', '')).strip()}"


def _rule_label(rule: dict[str, Any]) -> str:
    return str(rule.get("message") or "").strip() or str(rule.get("rule", "")).strip()


def _truthy(result: Any) -> bool:
    return isinstance(result, bool | celtypes.BoolType) and bool(result)


class _Walk:
    def __init__(self) -> None:
        self.errors: list[RuleError] = []

    def node(
        self,
        value: Any,
        old: Any,
        has_old: bool,
        schema: Schema,
        path: str,
        root: bool,
        ratchet: bool,
    ) -> None:
        if value is None or not has_rules(schema):
            return
        unchanged = has_old and ratchet and _same(value, old)
        if unchanged:
            return  # validation ratcheting: a value that did not change is not re-checked
        rules = schema.get("x-kubernetes-validations") or []
        if rules:
            self.rules(rules, value, old, has_old, schema, path, root)
        if isinstance(value, dict):
            props = schema.get("properties") or {}
            additional = schema.get("additionalProperties")
            old_map = old if has_old and isinstance(old, dict) else None
            for key, child in value.items():
                sub = props.get(key)
                key_path: str
                if root and key in ("apiVersion", "kind", "metadata"):
                    continue
                if isinstance(sub, dict):
                    key_path = key if path == ROOT else f"{path}.{key}"
                elif isinstance(additional, dict):
                    sub = additional
                    key_path = f"{'' if path == ROOT else path}[{key}]"
                else:
                    continue
                child_has_old = old_map is not None and key in old_map
                self.node(
                    child,
                    old_map.get(key) if old_map is not None else None,
                    child_has_old,
                    sub,
                    key_path,
                    False,
                    ratchet,
                )
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            items = schema["items"]
            for index, item in enumerate(value):
                old_item, item_has_old = _correlate(item, old if has_old else None, schema)
                self.node(item, old_item, item_has_old, items, f"{path}[{index}]", False, ratchet)

    def rules(
        self,
        rules: list[Any],
        value: Any,
        old: Any,
        has_old: bool,
        schema: Schema,
        path: str,
        root: bool,
    ) -> None:
        cel_self = to_cel(value, schema, root=root)
        cel_old: Any = None
        for rule in rules:
            if not isinstance(rule, dict) or not isinstance(rule.get("rule"), str):
                continue
            try:
                program = parse(rule["rule"])
            except CompileError:
                continue  # refused at CRD create time; an old CRD's broken rule is skipped
            activation: dict[str, Any] = {"self": cel_self}
            if program.uses_old_self:
                optional = rule.get("optionalOldSelf") is True
                if not has_old and not optional:
                    continue  # a transition rule runs only on update, where the old value exists
                if cel_old is None and has_old:
                    cel_old = to_cel(old, schema, root=root)
                activation["oldSelf"] = OptionalValue(cel_old, has_old) if optional else cel_old
            try:
                result = program.runner.evaluate(activation)
                if isinstance(result, Exception):
                    raise result
            except Exception as error:  # celpy raises (or returns) CELEvalError and friends
                message = _runtime_message(error)
                if message.startswith("no such overload") or "no matching overload" in message:
                    detail = (
                        f"'{message}': call arguments did not match a supported operator, function or "
                        f"macro signature for rule: {_rule_label(rule)}"
                    )
                else:
                    detail = f"{message} evaluating rule: {_rule_label(rule)}"
                self.errors.append(
                    RuleError(
                        "FieldValueInvalid", path, f"Invalid value: {json.dumps(_type_of(schema))}: {detail}"
                    )
                )
                continue
            if _truthy(result):
                continue
            where = path
            if isinstance(rule.get("fieldPath"), str) and rule["fieldPath"]:
                where = _with_field_path(path, rule["fieldPath"], schema)
            expressed = _message_expression(rule, activation)
            reason = rule.get("reason")
            if expressed is not None:
                self.errors.append(_failure(reason, where, value, expressed, show_value=False))
            else:
                self.errors.append(_failure(reason, where, value, _default_message(rule)))


def _message_expression(rule: dict[str, Any], activation: dict[str, Any]) -> str | None:
    """The evaluated ``messageExpression``, or ``None`` to fall back to ``message``."""
    expression = rule.get("messageExpression")
    if not isinstance(expression, str) or not expression.strip():
        return None
    try:
        result = parse(expression).runner.evaluate(activation)
    except Exception:
        return None
    if not isinstance(result, str) or not result.strip() or "\n" in result:
        return None
    return str(result)


def _same(a: Any, b: Any) -> bool:
    """JSON equality where 1 and True differ (Python's == would say they are equal)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return (
            isinstance(b, list) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
        )
    return type(a) in (int, float, str, type(None)) and a == b


def _correlate(item: Any, old_list: Any, schema: Schema) -> tuple[Any, bool]:
    """The old item that ``item`` continues: only map-type lists correlate, by their keys."""
    if schema.get("x-kubernetes-list-type") != "map" or not isinstance(old_list, list):
        return None, False
    keys = schema.get("x-kubernetes-list-map-keys") or []
    if not isinstance(item, dict):
        return None, False
    for candidate in old_list:
        if isinstance(candidate, dict) and all(_same(candidate.get(k), item.get(k)) for k in keys):
            return candidate, True
    return None, False


def evaluate(schema: Schema | None, obj: Any, old: Any = None, *, ratchet: bool = True) -> list[RuleError]:
    """Every rule of ``schema`` that ``obj`` breaks (``old`` is the stored object on update)."""
    if not isinstance(schema, dict) or not has_rules(schema):
        return []
    walk = _Walk()
    walk.node(obj, old, old is not None, schema, ROOT, True, ratchet)
    return walk.errors
