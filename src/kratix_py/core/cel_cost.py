"""The static cost of CRD validation rules, estimated as kube-apiserver does when a CRD is written.

A real server refuses a CRD whose rule could, in the worst case its schema allows, cost more than
10,000,000 CEL cost units (``estimated rule cost exceeds budget by factor of 1.6x``), and one whose
rules add up to more than 100,000,000. The worst case comes from the schema's bounds: a string's
``maxLength``, a list's ``maxItems``, a map's ``maxProperties``, and, where one is missing, as many
as fit in a 3 MiB request; a rule under lists and maps is multiplied by how often it can run.

The model is cel-go's cost estimator (checker/cost.go) with the Kubernetes size and function
estimators (apiextensions-apiserver and apiserver/pkg/cel), rebuilt over the rule's parse tree from
:mod:`kratix_py.core.cel`: the standard macros expand as cel-go expands them, sizes follow the
same field paths (``self.items.@items.name``), and costs saturate at 2**64-1 as Go's do.

When a rule uses something modelled here only roughly (an extension library, a bind, an optional
field selection), its cost is not estimated at all: refusing a Promise a real cluster accepts would
be worse than accepting one it refuses.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import lark

from kratix_py.core import cel

MAX = 2**64 - 1
REQUEST_BYTES = 3 * 1024 * 1024  # the request size every unbounded size is derived from
RULE_LIMIT = 10_000_000  # per rule, times how often it can run
CRD_LIMIT = 100_000_000  # all rules and message expressions of one schema together

Schema = dict[str, Any]


class Unmodeled(Exception):
    """A construct whose cost this module does not reproduce exactly; the rule is not judged."""


# --- saturating arithmetic over cost and size ranges -------------------------------------------


def _factor(value: int, factor: float) -> int:
    """``value * factor`` rounded up, as cel-go multiplies in float64 and saturates."""
    as_float = float(value)
    if as_float > 0 and factor > 0 and as_float > float(MAX) / factor:
        return MAX
    product = math.ceil(as_float * factor)
    return MAX if product >= 2**64 else int(product)


@dataclass(frozen=True)
class Est:
    """A range of costs or sizes (cel-go's CostEstimate and SizeEstimate)."""

    lo: int
    hi: int

    def add(self, other: Est) -> Est:
        return Est(min(self.lo + other.lo, MAX), min(self.hi + other.hi, MAX))

    def mul(self, other: Est) -> Est:
        return Est(min(self.lo * other.lo, MAX), min(self.hi * other.hi, MAX))

    def factor(self, factor: float) -> Est:
        return Est(_factor(self.lo, factor), _factor(self.hi, factor))

    def union(self, other: Est) -> Est:
        return Est(min(self.lo, other.lo), max(self.hi, other.hi))


ZERO, ONE, UNKNOWN = Est(0, 0), Est(1, 1), Est(0, MAX)
STRING_FACTOR, REGEX_FACTOR = 0.1, 0.25


# --- the types of a schema as CEL sees them, with their size bounds ------------------------------


@dataclass
class Decl:
    """A CEL type; for a schema node also its largest size and smallest JSON encoding."""

    kind: str  # object map list string bytes int uint double bool null duration timestamp dyn type opaque
    max_elements: int = 0
    min_size: int = 1
    fields: dict[str, Decl] = field(default_factory=dict)
    elem: Decl | None = None
    key: Decl | None = None
    name: str = ""  # an opaque (Kubernetes library) type's name, or the optional's marker


DYN = Decl("dyn")
BOOL, INT, UINT, DOUBLE = Decl("bool", 0, 4), Decl("int"), Decl("uint"), Decl("double")
STRING, BYTES, NULL, TYPE = Decl("string", 0, 2), Decl("bytes", 0, 2), Decl("null", 0, 4), Decl("type")
DURATION, TIMESTAMP = Decl("duration", 0, 3), Decl("timestamp", 0, 12)
_SCALAR = frozenset({"bool", "int", "uint", "double", "duration", "timestamp"})


def _list_of(elem: Decl) -> Decl:
    return Decl("list", 0, 2, elem=elem)


def _opaque(name: str) -> Decl:
    return Decl("opaque", name=name)


def _optional(inner: Decl) -> Decl:
    return Decl("optional", elem=inner)


def _bound(schema: Schema, key: str) -> int | None:
    value = schema.get(key)
    return max(int(value), 0) if isinstance(value, int) and not isinstance(value, bool) else None


def _with_type_and_meta(schema: Schema) -> Schema:
    """A resource root sees apiVersion, kind and metadata.name/generateName, declared or not; the
    names are as long as Kubernetes lets them be (253 characters, 252 before the generated suffix)."""
    props = schema.get("properties") or {}
    meta = props.get("metadata") or {}
    meta_props = meta.get("properties") or {}

    def typed(node: Any, kind: str) -> bool:
        return isinstance(node, dict) and node.get("type") == kind

    if (
        typed(props.get("kind"), "string")
        and typed(props.get("apiVersion"), "string")
        and typed(meta, "object")
        and typed(meta_props.get("name"), "string")
        and typed(meta_props.get("generateName"), "string")
    ):
        return schema

    def capped(name: str, cap: int) -> Schema:
        declared = _bound(meta_props.get(name) or {}, "maxLength")
        return {"type": "string", "maxLength": cap if declared is None else min(declared, cap)}

    metadata = {
        "type": "object",
        "properties": {"name": capped("name", 253), "generateName": capped("generateName", 252)},
    }
    plain = {"type": "string"}
    return {**schema, "properties": {**props, "kind": plain, "apiVersion": plain, "metadata": metadata}}


def _string_max(schema: Schema) -> int:
    """The longest a string can be: 4 bytes per character of maxLength, the longest enum value, or
    a whole request."""
    max_length = _bound(schema, "maxLength")
    if max_length is not None:
        return max_length * 4
    enum = schema.get("enum")
    if enum:
        return max((len(v.encode()) for v in enum if isinstance(v, str)), default=0)
    return REQUEST_BYTES - 2


def decl_of(schema: Any, root: bool = False) -> Decl | None:
    """The CEL type of a schema node (kube's SchemaDeclType); ``None`` if rules cannot see it."""
    if not isinstance(schema, dict):
        return None
    if schema.get("x-kubernetes-int-or-string"):
        max_length = _bound(schema, "maxLength")
        return Decl("dyn", REQUEST_BYTES - 2 if max_length is None else max_length * 4, 1)
    if root:
        schema = _with_type_and_meta(schema)
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items")
        elem = decl_of(items, bool(isinstance(items, dict) and items.get("x-kubernetes-embedded-resource")))
        if elem is None:
            return None
        max_items = _bound(schema, "maxItems")
        if max_items is None:
            max_items = (REQUEST_BYTES - 2) // (elem.min_size + 1)
        return Decl("list", max_items, 2, elem=elem)
    if kind == "object":
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            value = decl_of(additional, bool(additional.get("x-kubernetes-embedded-resource")))
            if value is None:
                return None
            max_props = _bound(schema, "maxProperties")
            if max_props is None:
                max_props = (REQUEST_BYTES - 2) // (value.min_size + 6)
            return Decl("map", max_props, 2, elem=value, key=STRING)
        required = set(schema.get("required") or [])
        fields: dict[str, Decl] = {}
        min_size = 2  # {}
        for name, prop in (schema.get("properties") or {}).items():
            sub = decl_of(prop, bool(isinstance(prop, dict) and prop.get("x-kubernetes-embedded-resource")))
            if sub is None:
                continue
            fields[cel.escape_property(name)] = sub
            if name in required and "default" not in prop:
                min_size += len(name.encode()) + sub.min_size + 4
        return Decl("object", 0, min_size, fields=fields)
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "byte":
            max_length = _bound(schema, "maxLength")
            return Decl("bytes", REQUEST_BYTES - 2 if max_length is None else max_length, 2)
        if fmt == "duration":
            return Decl("duration", 32, 3)
        if fmt == "date":
            return Decl("timestamp", 12, 12)
        if fmt == "date-time":
            return Decl("timestamp", 32, 21)
        return Decl("string", _string_max(schema), 2)
    return {"boolean": BOOL, "number": DOUBLE, "integer": INT}.get(str(kind))


# --- a rule's expression, with the macros expanded as cel-go expands them ------------------------


class Expr:
    """A node of the expanded expression (compared by identity)."""


@dataclass(eq=False)
class Lit(Expr):
    type: Decl
    size: int
    value: Any = None


@dataclass(eq=False)
class Ident(Expr):
    name: str


@dataclass(eq=False)
class Select(Expr):
    operand: Expr
    field: str
    test: bool = False  # has(a.b)


@dataclass(eq=False)
class Call(Expr):
    function: str
    args: list[Expr]
    target: Expr | None = None


@dataclass(eq=False)
class ListLit(Expr):
    items: list[Expr]


@dataclass(eq=False)
class MapLit(Expr):
    entries: list[tuple[Expr, Expr]]


@dataclass(eq=False)
class Comp(Expr):
    range: Expr
    var: str
    var2: str | None
    init: Expr
    cond: Expr
    step: Expr
    result: Expr


ACCU = "@result"
_OPERATORS = {
    "relation_lt": "_<_", "relation_le": "_<=_", "relation_gt": "_>_", "relation_ge": "_>=_",
    "relation_eq": "_==_", "relation_ne": "_!=_", "relation_in": "@in", "addition_add": "_+_",
    "addition_sub": "_-_", "multiplication_mul": "_*_", "multiplication_div": "_/_",
    "multiplication_mod": "_%_",
}  # fmt: skip
_ESCAPE = re.compile(r"\\(?:[0-7]{3}|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", re.DOTALL)


def _string_value(token: str) -> str:
    """A string literal's text with each escape as one character (only its length matters)."""
    raw = token[0] in "rR"
    body = token[1:] if raw else token
    quotes = 3 if body[:3] in ('"""', "'''") else 1
    body = body[quotes:-quotes]
    return body if raw else _ESCAPE.sub("x", body)


def _literal(token: lark.Token) -> Lit:
    text = str(token.value)
    if token.type in ("STRING_LIT", "MLSTRING_LIT"):
        return Lit(STRING, len(_string_value(text)))
    if token.type == "BYTES_LIT":
        return Lit(BYTES, len(_string_value(text[1:]).encode()))
    if token.type == "INT_LIT":
        hexadecimal = "x" in text.lower()
        return Lit(INT, 1, int(re.sub("0[xX]", "", text), 16 if hexadecimal else 10))
    kinds = {"UINT_LIT": UINT, "FLOAT_LIT": DOUBLE, "BOOL_LIT": BOOL, "NULL_LIT": NULL}
    return Lit(kinds.get(token.type, DYN), 1)


def _args(tree: Any) -> list[Any]:
    return list(tree.children) if isinstance(tree, lark.Tree) else []


def _quantifier(kind: str, target: Expr, var: str, var2: str | None, predicate: Expr) -> Comp:
    accu = Ident(ACCU)
    if kind == "all":
        return Comp(target, var, var2, Lit(BOOL, 1), Call("@not_strictly_false", [accu]),
                    Call("_&&_", [Ident(ACCU), predicate]), Ident(ACCU))  # fmt: skip
    if kind == "exists":
        return Comp(target, var, var2, Lit(BOOL, 1), Call("@not_strictly_false", [Call("!_", [accu])]),
                    Call("_||_", [Ident(ACCU), predicate]), Ident(ACCU))  # fmt: skip
    step = Call("_?_:_", [predicate, Call("_+_", [Ident(ACCU), Lit(INT, 1, 1)]), Ident(ACCU)])
    return Comp(target, var, var2, Lit(INT, 1, 0), Lit(BOOL, 1, True), step,
                Call("_==_", [Ident(ACCU), Lit(INT, 1, 1)]))  # fmt: skip


def _macro(name: str, target: Expr, raw: list[Any]) -> Expr | None:
    """The comprehension a macro call expands to, or ``None`` if the call is not a macro."""
    names = [cel._ident_name(arg) for arg in raw]
    quantifiers = {"all": "all", "exists": "exists", "exists_one": "one", "existsOne": "one"}
    if name in quantifiers and len(raw) == 2 and names[0]:
        return _quantifier(quantifiers[name], target, names[0], None, convert(raw[1]))
    if name in quantifiers and len(raw) == 3 and names[0] and names[1]:
        return _quantifier(quantifiers[name], target, names[0], names[1], convert(raw[2]))
    if name == "map" and len(raw) in (2, 3) and names[0]:
        step: Expr = Call("_+_", [Ident(ACCU), ListLit([convert(raw[-1])])])
        if len(raw) == 3:
            step = Call("_?_:_", [convert(raw[1]), step, Ident(ACCU)])
        return Comp(target, names[0], None, ListLit([]), Lit(BOOL, 1, True), step, Ident(ACCU))
    if name == "filter" and len(raw) == 2 and names[0]:
        add = Call("_+_", [Ident(ACCU), ListLit([Ident(names[0])])])
        step = Call("_?_:_", [convert(raw[1]), add, Ident(ACCU)])
        return Comp(target, names[0], None, ListLit([]), Lit(BOOL, 1, True), step, Ident(ACCU))
    if name in quantifiers or name in ("map", "filter", "transformList", "transformMap", "transformMapEntry"):
        raise Unmodeled(name)
    return None


def convert(tree: Any) -> Expr:
    """celpy's parse tree as an expression tree, macros expanded."""
    if isinstance(tree, lark.Token):
        raise Unmodeled(tree.type)
    data, children = tree.data, tree.children
    if len(children) == 1 and data in (
        "expr", "conditionalor", "conditionaland", "relation", "addition", "multiplication", "unary",
        "member", "primary", "paren_expr",
    ):  # fmt: skip
        return convert(children[0])
    if data == "expr":
        return Call("_?_:_", [convert(c) for c in children])
    if data in ("conditionalor", "conditionaland"):
        return Call("_||_" if data == "conditionalor" else "_&&_", [convert(c) for c in children])
    if data in ("relation", "addition", "multiplication"):
        operator, right = children
        return Call(_OPERATORS[operator.data], [convert(operator.children[0]), convert(right)])
    if data == "unary":
        operator, operand = children
        return Call("!_" if operator.data == "unary_not" else "-_", [convert(operand)])
    if data == "member_dot":
        return Select(convert(children[0]), str(children[1].value))
    if data == "member_dot_arg":
        receiver, name = children[0], str(children[1].value)
        raw = _args(children[2]) if len(children) > 2 else []
        namespace = cel._ident_name(receiver)
        if namespace in cel._NAMESPACES or namespace == "cel":
            raise Unmodeled(f"{namespace}.{name}")  # extension libraries with their own estimators
        target = convert(receiver)
        return _macro(name, target, raw) or Call(name, [convert(a) for a in raw], target)
    if data == "member_index":
        return Call("_[_]", [convert(children[0]), convert(children[1])])
    if data == "ident_arg":
        name = str(children[0].value)
        raw = _args(children[1]) if len(children) > 1 else []
        if name == "has":
            inner = convert(raw[0]) if len(raw) == 1 else None
            if not isinstance(inner, Select):
                raise Unmodeled("has")
            return Select(inner.operand, inner.field, test=True)
        return Call(name, [convert(a) for a in raw])
    if data == "ident":
        return Ident(str(children[0].value))
    if data == "literal":
        return _literal(children[0])
    if data == "list_lit":
        return ListLit([convert(c) for c in _args(children[0])] if children else [])
    if data == "map_lit":
        flat = [convert(c) for c in _args(children[0])] if children else []
        return MapLit(list(zip(flat[::2], flat[1::2], strict=True)))
    raise Unmodeled(data)  # messages, leading-dot names


# --- the estimator ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """The sizes of a list's or map's keys and values, when the expression tells them."""

    container: str
    key: Est
    val: Est


def _union_entry(a: Entry | None, b: Entry | None) -> Entry | None:
    if a is None or b is None:
        return None
    return Entry(a.container, a.key.union(b.key), a.val.union(b.val))


class _Path:
    """A field path with the semantics of a Go slice, as cel-go builds them: appending writes into
    spare capacity shared with the path appended to, so ``i.ports`` becomes ``i.name`` once
    ``i.name`` is built from the same ``i``. A size read later (a macro's range, read after its
    body) sees the overwritten name; the real server's estimate does, and so must this one."""

    def __init__(self, array: list[str], length: int) -> None:
        self.array = array  # its length is the capacity
        self.length = length

    def names(self) -> list[str]:
        return self.array[: self.length]

    def append(self, name: str) -> _Path:
        if self.length < len(self.array):
            self.array[self.length] = name
            return _Path(self.array, self.length + 1)
        # Go's growth for short slices: double the capacity (at least the new length)
        capacity = max(2 * len(self.array), self.length + 1)
        array = [*self.array[: self.length], name, *([""] * (capacity - self.length - 1))]
        return _Path(array, self.length + 1)


NIL = _Path([], 0)


@dataclass
class _Var:
    path: _Path
    size: Est | None
    entry: Entry | None
    type: Decl


_TYPE_NAMES = frozenset(
    {"int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type", "dyn"}
)
_STRING_RESULT = frozenset(
    {"lowerAscii", "upperAscii", "trim", "substring", "replace", "charAt", "join", "find"}
)
_K8S_ONE = frozenset(
    {"sign", "asInteger", "isInteger", "asApproximateFloat", "isGreaterThan", "isLessThan", "compareTo",
     "add", "sub", "major", "minor", "patch", "getScheme", "getHostname", "getHost", "getPort",
     "getEscapedPath", "getQuery", "masked", "prefixLength", "family", "isUnspecified", "isLoopback",
     "isLinkLocalMulticast", "isLinkLocalUnicast", "isGlobalUnicast"}
)  # fmt: skip
_K8S_PARSE = frozenset({"quantity", "url", "ip", "cidr", "semver"})  # to opaque library types
_DATES = frozenset(
    {"getDate", "getDayOfMonth", "getDayOfWeek", "getDayOfYear", "getFullYear", "getMonth", "getHours",
     "getMilliseconds", "getMinutes", "getSeconds"}
)  # fmt: skip


class _Coster:
    """cel-go's coster over one expression, with kube's size estimator rooted at ``self``. Its
    tables are keyed by node identity: the expression tree outlives the estimate."""

    def __init__(self, root: Decl, old_self: Decl) -> None:
        self.root = root
        self.old_self = old_self
        self.paths: dict[int, _Path] = {}
        self.sizes: dict[int, Est] = {}
        self.derived: dict[int, Est | None] = {}  # an argument's size when it was costed
        self.entries: dict[int, Entry] = {}
        self.types: dict[int, Decl] = {}
        self.scopes: dict[str, list[_Var]] = {}

    # sizes and paths

    def type_of(self, e: Expr) -> Decl:
        return self.types.get(id(e), DYN)

    def var(self, name: str) -> _Var | None:
        stack = self.scopes.get(name)
        return stack[-1] if stack else None

    def path(self, e: Expr) -> _Path:
        if isinstance(e, Ident) and (var := self.var(e.name)) is not None:
            return var.path
        return self.paths.get(id(e), NIL)

    def estimate_size(self, path: list[str]) -> Est | None:
        """Kubernetes' size estimator: walk the path from ``self`` through the schema (the first
        element, whichever variable it names, stands for ``self``)."""
        if not path:
            return None
        node: Decl | None = self.root
        for name in path[1:]:
            if node is None:
                return None
            if name in ("@items", "@values"):
                node = node.elem
            elif name == "@keys":
                node = node.key
            else:
                node = node.fields.get(name)
        return None if node is None else Est(0, node.max_elements)

    def size(self, e: Expr) -> Est | None:
        if id(e) in self.sizes:
            return self.sizes[id(e)]
        if isinstance(e, Lit):
            return Est(e.size, e.size)
        if isinstance(e, ListLit | MapLit):
            count = len(e.items) if isinstance(e, ListLit) else len(e.entries)
            return Est(count, count)
        estimated = self.estimate_size(self.path(e).names())
        if estimated is not None:
            self.sizes[id(e)] = estimated
            return estimated
        kind = self.type_of(e)
        if kind.kind in _SCALAR or (kind.kind == "optional" and kind.elem and kind.elem.kind in _SCALAR):
            return ONE
        if isinstance(e, Ident) and (var := self.var(e.name)) is not None and var.size is not None:
            return var.size
        return None

    def size_or_unknown(self, e: Expr) -> Est:
        return self.size(e) or UNKNOWN

    def arg_size(self, e: Expr) -> Est:
        """A call argument's (or target's) size as taken when it was costed."""
        return self.derived.get(id(e)) or UNKNOWN

    def k8s_size(self, e: Expr) -> Est:
        """The size Kubernetes' function estimators see: the one taken, else the path's now."""
        return self.derived.get(id(e)) or self.estimate_size(self.path(e).names()) or UNKNOWN

    def entry(self, e: Expr) -> Entry | None:
        if id(e) in self.entries:
            return self.entries[id(e)]
        if isinstance(e, Ident) and (var := self.var(e.name)) is not None:
            return var.entry
        return None

    def push(self, name: str, path: _Path, size: Est | None, entry: Entry | None, kind: Decl) -> None:
        self.scopes.setdefault(name, []).append(_Var(path, size, entry, kind))

    def pop(self, name: str) -> None:
        self.scopes[name].pop()

    # costs

    def cost(self, e: Expr) -> Est:
        if isinstance(e, Lit):
            self.types[id(e)] = e.type
            return ZERO
        if isinstance(e, Ident):
            return self.ident(e)
        if isinstance(e, Select):
            return self.select(e)
        if isinstance(e, Call):
            return self.call(e)
        if isinstance(e, ListLit):
            total, item_size = ZERO, Est(MAX if e.items else 0, 0)
            for item in e.items:
                total = total.add(self.cost(item))
                item_size = item_size.union(self.size_or_unknown(item))
            self.entries[id(e)] = Entry("list", ONE, item_size)
            self.types[id(e)] = _list_of(self.type_of(e.items[0]) if e.items else DYN)
            return total.add(Est(10, 10))
        if isinstance(e, MapLit):
            total = ZERO
            keys, values = Est(MAX if e.entries else 0, 0), Est(MAX if e.entries else 0, 0)
            for key, value in e.entries:
                total = total.add(self.cost(key)).add(self.cost(value))
                keys = keys.union(self.size_or_unknown(key))
                values = values.union(self.size_or_unknown(value))
            self.entries[id(e)] = Entry("map", keys, values)
            first = e.entries[0] if e.entries else None
            self.types[id(e)] = Decl(
                "map",
                key=self.type_of(first[0]) if first else DYN,
                elem=self.type_of(first[1]) if first else DYN,
            )
            return total.add(Est(30, 30))
        assert isinstance(e, Comp)
        return self.comprehension(e)

    def ident(self, e: Ident) -> Est:
        var = self.var(e.name)
        if var is not None:
            self.paths[id(e)] = var.path
            self.types[id(e)] = var.type
        else:
            self.paths[id(e)] = _Path([e.name], 1)
            if e.name == "self":
                self.types[id(e)] = self.root
            elif e.name == "oldSelf":
                self.types[id(e)] = self.old_self
            elif e.name in _TYPE_NAMES:
                self.types[id(e)] = TYPE
            else:
                raise Unmodeled(e.name)
        return ONE

    def select(self, e: Select) -> Est:
        total = self.cost(e.operand)
        operand = self.type_of(e.operand)
        if e.test:
            self.types[id(e)] = BOOL
            return total  # Kubernetes makes has() free
        if operand.kind == "optional":
            raise Unmodeled("optional select")
        if operand.kind in ("object", "map"):
            total = total.add(ONE)
        self.paths[id(e)] = self.path(e.operand).append(e.field)
        if operand.kind == "object":
            self.types[id(e)] = operand.fields.get(e.field, DYN)
        elif operand.kind == "map":
            self.types[id(e)] = operand.elem or DYN
        return total

    def comprehension(self, e: Comp) -> Est:
        total = self.cost(e.range).add(self.cost(e.init))
        init_type = self.type_of(e.init)
        self.push(ACCU, self.path(e.init), self.size(e.init), self.entry(e.init), init_type)
        entry = self.entry(e.range)
        range_type = self.type_of(e.range)
        container = entry.container if entry is not None else range_type.kind
        listed = container == "list"
        elem = range_type.elem or DYN if range_type.kind in ("list", "map") else DYN
        key = (INT if listed else range_type.key or DYN) if range_type.kind in ("list", "map") else DYN
        base = self.path(e.range)
        if e.var2 is None:
            size = (entry.val if listed else entry.key) if entry is not None else None
            self.push(
                e.var, base.append("@items" if listed else "@keys"), size, None, elem if listed else key
            )
        else:
            key_size = entry.key if entry is not None else None
            self.push(e.var, base.append("@indices" if listed else "@keys"), key_size, None, key)
            val_size = entry.val if entry is not None else None
            self.push(e.var2, base.append("@items" if listed else "@values"), val_size, None, elem)
        loop = self.cost(e.cond)
        step = self.cost(e.step)
        self.pop(e.var)
        if e.var2 is not None:
            self.pop(e.var2)
        total = total.add(self.cost(e.result))
        self.types[id(e)] = self.type_of(e.step if isinstance(e.init, ListLit) else e.result)
        self.pop(ACCU)
        count = self.size_or_unknown(e.range)
        total = total.add(count.mul(step.add(loop)))
        if isinstance(e.init, Lit):
            init_size = self.size(e.init)
            if init_size is not None:
                self.sizes[id(e)] = init_size
        elif isinstance(e.init, ListLit | MapLit):
            self.sizes[id(e)] = count
            step_entry = self.entry(e.step)
            if step_entry is not None:
                self.entries[id(e)] = step_entry
        return total

    def call(self, e: Call) -> Est:
        if e.function == "dyn" and e.target is None and len(e.args) == 1:
            total = self.cost(e.args[0]).add(ONE)
            inner = self.size(e.args[0])
            if inner is not None:
                self.sizes[id(e)] = inner
            if (entry := self.entry(e.args[0])) is not None:
                self.entries[id(e)] = entry
            return total
        arg_costs = []
        for arg in e.args:  # arguments first, then the target, as cel-go
            arg_costs.append(self.cost(arg))
            self.derived[id(arg)] = self.size(arg)
        total = ZERO
        if e.target is not None:
            total = self.cost(e.target)
            self.derived[id(e.target)] = self.size(e.target)
        overloads, result = self.overloads(e)
        self.types[id(e)] = result
        function_cost: Est | None = None
        result_size: Est | None = None
        for overload in overloads:
            cost, size = self.function_cost(e, overload, arg_costs)
            function_cost = cost if function_cost is None else function_cost.union(cost)
            if size is not None:
                result_size = size if result_size is None else result_size.union(size)
            if overload in ("index_list", "index_map"):
                entry = self.entry(e.args[0])
                result_size = entry.val if entry is not None else None
                self.paths[id(e)] = self.path(e.args[0]).append(
                    "@items" if overload == "index_list" else "@values"
                )
            if result_size is None:
                result_size = self.size(e)
        if result_size is not None:
            self.sizes[id(e)] = result_size
        assert function_cost is not None
        return total.add(function_cost)

    def overloads(self, e: Call) -> tuple[list[str], Decl]:
        """The overloads the type checker would leave for the call (cost classes), and its type."""
        name, args, target = e.function, e.args, e.target
        kinds = [self.type_of(a).kind for a in args]
        receiver = self.type_of(target) if target is not None else None
        if name in ("_&&_", "_||_"):
            return ["logical"], BOOL
        if name in ("!_", "@not_strictly_false"):
            return ["one"], BOOL
        if name == "_?_:_":
            first = self.type_of(args[1])
            return ["conditional"], first if first.kind != "dyn" else self.type_of(args[2])
        if name in ("_==_", "_!=_"):
            a, b = self.type_of(args[0]), self.type_of(args[1])
            if name == "_==_" and a.kind == b.kind == "opaque" and a.name == b.name and a.name != "url":
                return ["one"], BOOL  # Kubernetes' O(1) equality of quantities, IPs, CIDRs, versions
            if name == "_!=_" and a.kind == b.kind == "opaque" and a.name == b.name and a.name != "url":
                # Only == has the library's O(1) overload: != is the generic one, sized as the
                # unknown (largest) value, which a real server refuses as far over budget.
                return ["equals"], BOOL
            if "opaque" in kinds:
                raise Unmodeled("opaque equality")
            return ["equals"], BOOL
        if name in ("_<_", "_<=_", "_>_", "_>=_"):
            if "string" in kinds or "bytes" in kinds:
                return ["compare_string"], BOOL
            return (["compare_string", "one"] if kinds == ["dyn", "dyn"] else ["one"]), BOOL
        if name == "_+_":
            known = [self.type_of(a) for a in args if self.type_of(a).kind != "dyn"]
            if not known:
                return ["add_string", "add_list", "one"], DYN
            kind = known[0].kind
            typed = known[0] if known[0].kind != "list" or known[0].elem not in (None, DYN) else known[-1]
            return [
                {"string": "add_string", "bytes": "add_string", "list": "add_list"}.get(kind, "one")
            ], typed
        if name in ("_-_", "_*_", "_/_", "_%_", "-_"):
            return ["one"], self.type_of(args[0])
        if name == "@in":
            return {"list": ["in_list"], "map": ["one"]}.get(kinds[1], ["in_list", "one"]), BOOL
        if name == "_[_]":
            container = self.type_of(args[0])
            if container.kind == "list":
                return ["index_list"], container.elem or DYN
            if container.kind == "map":
                return ["index_map"], container.elem or DYN
            if container.kind == "dyn":
                return ["index_list", "index_map"], DYN
            raise Unmodeled("index")
        if target is None:
            return self.global_overloads(name, kinds)
        assert receiver is not None
        return self.member_overloads(name, receiver, kinds)

    def global_overloads(self, name: str, kinds: list[str]) -> tuple[list[str], Decl]:
        conversions = {"int": INT, "uint": UINT, "double": DOUBLE, "bool": BOOL, "duration": DURATION,
                       "timestamp": TIMESTAMP, "type": TYPE}  # fmt: skip
        if name == "size":
            return ["one"], INT
        if name in conversions and len(kinds) == 1:
            return ["one"], conversions[name]
        if name == "string" and len(kinds) == 1:
            return {"bytes": ["bytes_to_string"], "dyn": ["one", "bytes_to_string"]}.get(
                kinds[0], ["one"]
            ), STRING
        if name == "bytes" and len(kinds) == 1:
            return {"string": ["string_to_bytes"], "dyn": ["one", "string_to_bytes"]}.get(
                kinds[0], ["one"]
            ), BYTES
        if name == "matches" and len(kinds) == 2:
            return ["matches"], BOOL
        if name in _K8S_PARSE and len(kinds) == 1:
            return ["k8s"], _opaque(name)
        if name in ("isQuantity", "isSemver", "isIP", "isCIDR") and len(kinds) >= 1:
            return ["k8s"], BOOL
        if name == "isURL" and len(kinds) == 1:
            return ["one"], BOOL
        raise Unmodeled(name)

    def member_overloads(self, name: str, receiver: Decl, kinds: list[str]) -> tuple[list[str], Decl]:
        if receiver.kind == "optional":
            if name == "hasValue":
                return ["one"], BOOL
            if name in ("value", "orValue"):
                return ["one"], receiver.elem or DYN
            raise Unmodeled(name)
        if name == "size" and not kinds:
            return ["one"], INT
        if name in ("startsWith", "endsWith") and len(kinds) == 1:
            return ["starts_with"], BOOL
        if name == "contains" and len(kinds) == 1 and receiver.kind in ("string", "dyn"):
            return ["contains_string"], BOOL
        if name == "matches" and len(kinds) == 1:
            return ["matches"], BOOL
        if name in _DATES:
            return ["one"], INT
        if receiver.kind == "list" and name in ("isSorted", "sum", "min", "max", "indexOf", "lastIndexOf"):
            return ["k8s"], BOOL if name == "isSorted" else INT if "ndex" in name else receiver.elem or DYN
        if receiver.kind in ("string", "dyn"):
            if name in _STRING_RESULT:
                return ["k8s"], STRING
            if name in ("split", "findAll"):
                return ["k8s"], _list_of(STRING)
            if name in ("indexOf", "lastIndexOf"):
                return ["k8s"], INT
        if receiver.kind == "list" and name == "join":
            return ["k8s"], STRING
        if receiver.kind == "opaque" and name in _K8S_ONE:
            results = {"add": receiver, "sub": receiver, "asApproximateFloat": DOUBLE, "masked": receiver}
            if name.startswith("is"):
                return ["k8s"], BOOL
            return ["k8s"], results.get(name, STRING if name.startswith("get") else INT)
        if receiver.kind == "opaque" and name in ("containsIP", "containsCIDR"):
            return ["k8s"], BOOL
        if receiver.kind == "opaque" and name == "ip":
            return ["cidr_ip"], _opaque("ip")
        raise Unmodeled(name)

    def function_cost(self, e: Call, overload: str, arg_costs: list[Est]) -> tuple[Est, Est | None]:
        """The cost of one overload of a call, arguments included (not its target)."""
        args_total = ZERO
        for cost in arg_costs:
            args_total = args_total.add(cost)
        args, target = e.args, e.target
        if overload == "k8s":
            found = self.kubernetes_cost(e)
            if found is not None:
                return found[0].add(args_total), found[1]
            return ONE.add(args_total), None
        if overload == "cidr_ip":
            return ONE.add(args_total), None
        if overload == "starts_with":
            return self.arg_size(args[0]).factor(STRING_FACTOR).add(args_total), None
        if overload == "in_list":
            return self.arg_size(args[1]).factor(1).add(args_total), None
        if overload == "matches":
            text, regex = (target, args[0]) if target is not None else (args[0], args[1])
            scan = self.arg_size(text).add(ONE).factor(STRING_FACTOR)
            return scan.mul(self.arg_size(regex).factor(REGEX_FACTOR)).add(args_total), None
        if overload == "contains_string":
            assert target is not None
            scan = self.arg_size(target).factor(STRING_FACTOR)
            return scan.mul(self.arg_size(args[0]).factor(STRING_FACTOR)).add(args_total), None
        if overload == "logical":
            left, right = arg_costs
            return Est(left.lo, left.add(right).hi), None
        if overload == "conditional":
            size = self.arg_size(args[1]).union(self.arg_size(args[2]))
            entry = _union_entry(self.entry(args[1]), self.entry(args[2]))
            if entry is not None:
                self.entries[id(e)] = entry
            return arg_costs[0].add(arg_costs[1].union(arg_costs[2])), size
        if overload in ("add_string", "add_list"):
            size = self.arg_size(args[0]).add(self.arg_size(args[1]))
            entry = _union_entry(self.entry(args[0]), self.entry(args[1]))
            if entry is not None:
                self.entries[id(e)] = entry
            if overload == "add_list":
                return ONE.add(args_total), size
            return size.factor(STRING_FACTOR).add(args_total), size
        if overload in ("compare_string", "equals"):
            smallest = min(self.arg_size(args[0]).hi, self.arg_size(args[1]).hi)
            return Est(1 if smallest > 0 else 0, smallest).factor(STRING_FACTOR).add(args_total), None
        if overload in ("string_to_bytes", "bytes_to_string"):
            size = self.arg_size(args[0])
            cost = size.factor(STRING_FACTOR).add(args_total)
            if overload == "string_to_bytes":
                return cost, Est(size.lo, min(size.hi * 4, MAX))
            return cost, Est(size.lo // 4, size.hi)
        return ONE.add(args_total), None  # O(1): indexing, size, arithmetic, conversions

    def element_size(self, target: Expr) -> tuple[Est, Decl] | None:
        """The size and type of a list's items, as Kubernetes' list functions look them up."""
        kind = self.type_of(target)
        if kind.kind not in ("list", "map"):
            return None
        elem = (kind.elem if kind.kind == "list" else kind.key) or DYN
        names = self.path(target).names()
        return (self.estimate_size([*names, "@items"]) if names else None) or UNKNOWN, elem

    def kubernetes_cost(self, e: Call) -> tuple[Est, Est | None] | None:
        """Kubernetes' estimates for its library functions (by name), without the arguments."""
        name, args, target = e.function, e.args, e.target
        if name in ("isSorted", "sum", "max", "min", "indexOf", "lastIndexOf") and target is not None:
            element = self.element_size(target)
            if element is None:
                return self.k8s_size(target).factor(STRING_FACTOR), None
            each = ONE
            if element[1].kind in ("string", "bytes"):
                each = each.add(element[0].factor(STRING_FACTOR))
            return self.k8s_size(target).mul(each), None
        if name in ("lowerAscii", "upperAscii", "substring", "trim") and target is not None:
            size = self.k8s_size(target)
            return size.factor(STRING_FACTOR), size
        if name == "replace" and target is not None and len(args) >= 2:
            return self.replace_cost(target, args[0], args[1])
        if name == "split" and target is not None:
            size = self.k8s_size(target)
            limit = size.hi
            if (
                len(args) > 1
                and isinstance(args[1], Lit)
                and args[1].type is INT
                and args[1].value is not None
            ):
                limit = int(args[1].value) % 2**64  # Go converts the int64 limit to uint64
            return size.factor(2 * STRING_FACTOR), Est(0, limit)
        if name == "join" and target is not None:
            items = self.k8s_size(target)
            element = self.element_size(target)
            size = items.mul(element[0]) if element is not None else ZERO
            if args:
                separators = Est(max(items.lo - 1, 0), max(items.hi - 1, 0))
                size = size.add(self.k8s_size(args[0]).mul(separators))
            return size.factor(STRING_FACTOR), size
        if name in ("find", "findAll") and target is not None and args:
            size = self.k8s_size(target)
            scan = size.add(ONE).factor(STRING_FACTOR)
            return scan.mul(self.k8s_size(args[0]).factor(REGEX_FACTOR)), Est(0, size.hi)
        if name in ("quantity", "isQuantity", "semver", "isSemver", "cidr", "isIP", "isCIDR", "ip") and args:
            return self.k8s_size(args[0]).factor(STRING_FACTOR), None
        if name == "url" and len(args) == 1:
            size = self.k8s_size(args[0])
            return size.factor(STRING_FACTOR), size
        if name in _K8S_ONE:
            return ONE, None
        if name in ("containsIP", "containsCIDR") and args:
            address = Est(4, 16)
            cost = address.add(address).factor(STRING_FACTOR)
            if name == "containsCIDR":
                cost = cost.add(address.factor(STRING_FACTOR)).add(ONE)
            if self.type_of(args[0]).kind == "string":
                cost = cost.add(self.k8s_size(args[0]).factor(STRING_FACTOR))
            return cost, None
        return None

    def replace_cost(self, target: Expr, old: Expr, new: Expr) -> tuple[Est, Est]:
        size, old_size, new_size = (self.k8s_size(x) for x in (target, old, new))
        retained_lo = retained_hi = 0
        if old_size.lo == 0:
            count_hi, retained_hi = (size.hi + 1 if size.hi < MAX else size.hi), size.hi
        elif new_size.hi <= old_size.lo:
            count_hi, retained_hi = 0, size.hi
        else:
            count_hi = min(math.ceil(float(size.hi) / float(old_size.lo)), MAX)
        if old_size.hi == 0:
            count_lo, retained_lo = (size.lo + 1 if size.lo < MAX else size.lo), size.lo
        elif old_size.hi <= new_size.lo:
            count_lo, retained_lo = 0, size.lo
        else:
            count_lo = min(math.ceil(float(size.lo) / float(old_size.hi)), MAX)
        result = Est(count_lo, count_hi).mul(new_size).add(Est(retained_lo, retained_hi))
        return size.factor(2 * STRING_FACTOR), result


def expression_cost(text: str, self_type: Decl, *, optional_old_self: bool = False) -> int | None:
    """The estimated worst-case cost of one run of a rule (or message expression) whose ``self``
    has the type ``self_type``; ``None`` when the rule uses something not modelled here."""
    try:
        tree = convert(cel.parse(text).tree)
        old_self = _optional(self_type) if optional_old_self else self_type
        return _Coster(self_type, old_self).cost(tree).hi
    except (Unmodeled, cel.CompileError, RecursionError):
        return None


# --- the CRD's verdict ---------------------------------------------------------------------------


def budget_message(what: str, cost: int, limit: int) -> str:
    """kube-apiserver's words for a cost over its limit (the factor printed as Go prints it)."""
    factor = float(cost) / float(limit)
    if factor > 100.0:
        shown = "more than 100x"
    elif factor < 1.5:
        shown = f"{factor:f}x"  # so that 1.04 does not read as "1.0x"
    else:
        shown = f"{factor:.1f}x"
    return (
        f"{what} exceeds budget by factor of {shown} (try simplifying the rule, or adding maxItems, "
        "maxProperties, and maxLength where arrays, maps, and strings are declared)"
    )


def _max_elements(schema: Schema) -> int | None:
    """How many children a node can have for the rules below it; ``None`` when unbounded."""
    kind = schema.get("type")
    if kind == "object":
        if schema.get("additionalProperties") is not None:
            return _bound(schema, "maxProperties")
        return 1
    if kind == "array":
        return _bound(schema, "maxItems")
    return 1


def _schema_error(rule: Any, node: Schema) -> bool:
    """A problem with a rule's other fields; kube then compiles no rule at or above this node."""
    if not isinstance(rule, dict):
        return False
    text = str(rule.get("rule", "")).strip()
    message = rule.get("message")
    message_text = message.strip() if isinstance(message, str) else ""
    expression = rule.get("messageExpression")
    field_path = rule.get("fieldPath")
    return (
        not text
        or (bool(message) and not message_text)
        or bool(re.search("[\n\r]", message_text))
        or (bool(re.search("[\n\r]", text)) and not message_text)
        or (isinstance(expression, str) and bool(expression) and not expression.strip())
        or (rule.get("reason") is not None and rule.get("reason") not in cel._REASONS)
        or (isinstance(field_path, str) and bool(field_path) and not cel._valid_field_path(field_path, node))
    )


@dataclass
class _Total:
    """The schema's running total and its (up to four) most expensive expressions."""

    total: int = 0
    expensive: list[tuple[int, str]] = field(default_factory=list)

    def observe(self, where: str, cost: int) -> None:
        self.total = min(self.total + cost, MAX)
        if cost < CRD_LIMIT // 100:
            return  # under 1% of the limit: never named
        self.expensive.append((cost, where))
        self.expensive.sort(key=lambda pair: -pair[0])  # stable, as Go's sort of so few items is
        del self.expensive[4:]


class _Judge:
    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.total = _Total()
        self.problems: list[cel.RuleProblem] = []

    def walk(self, node: Any, where: str, cardinality: int | None) -> bool:
        """Judge the rules of ``node`` and below, children first as kube-apiserver does; returns
        whether a rule at or below it has a problem that stops compilation."""
        if not isinstance(node, dict):
            return False
        below = None
        if cardinality is not None and (most := _max_elements(node)) is not None:
            below = min(cardinality * most, MAX)
        broken = False
        additional = node.get("additionalProperties")
        if isinstance(additional, dict):
            broken |= self.walk(additional, f"{where}.additionalProperties", below)
        for name, sub in (node.get("properties") or {}).items():
            broken |= self.walk(sub, f"{where}.properties[{name}]", below)
        if isinstance(node.get("items"), dict):
            broken |= self.walk(node["items"], f"{where}.items", below)
        rules = node.get("x-kubernetes-validations") or []
        broken |= any(_schema_error(rule, node) for rule in rules)
        if rules and not broken:
            self.rules(node, rules, where, cardinality)
        return broken

    def rules(self, node: Schema, rules: list[Any], where: str, cardinality: int | None) -> None:
        root = node is self.schema
        decl = decl_of(node, root or bool(node.get("x-kubernetes-embedded-resource")))
        if decl is None:
            return
        # Under an unbounded list or map, as many runs as the smallest value fits in a request.
        runs = cardinality if cardinality is not None else REQUEST_BYTES // (decl.min_size + 1)
        for index, rule in enumerate(rules):
            if not isinstance(rule, dict) or not isinstance(rule.get("rule"), str):
                continue
            base = f"{where}.x-kubernetes-validations[{index}]"
            try:
                cel.check_expression(rule["rule"], node, root=root)
            except cel.CompileError:
                continue  # refused for that already
            optional = rule.get("optionalOldSelf") is True
            cost = expression_cost(rule["rule"], decl, optional_old_self=optional)
            if cost is not None:
                self.judge(f"{base}.rule", "estimated rule cost", min(cost * runs, MAX))
            expression = rule.get("messageExpression")
            if not isinstance(expression, str) or not expression.strip():
                continue
            try:
                cel.check_expression(expression, node, root=root, want="string")
            except cel.CompileError:
                continue
            cost = expression_cost(expression, decl, optional_old_self=optional)
            if cost is not None:  # a message is built once per failure: no multiplier
                self.judge(f"{base}.messageExpression", "estimated messageExpression cost", cost)

    def judge(self, where: str, what: str, cost: int) -> None:
        if cost > RULE_LIMIT:
            self.problems.append(
                cel.RuleProblem(where, f"Forbidden: {budget_message(what, cost, RULE_LIMIT)}")
            )
        self.total.observe(where, cost)


def cost_problems(schema: Any, path: str) -> list[cel.RuleProblem]:
    """The rules of a CRD schema (at ``path``, e.g. ``spec.validation.openAPIV3Schema``) that
    kube-apiserver refuses as too expensive, alone or all together, with its paths and words."""
    if not isinstance(schema, dict) or not cel.has_rules(schema):
        return []
    judge = _Judge(schema)
    judge.walk(schema, path, 1)
    if judge.total.total > CRD_LIMIT:
        for _, where in judge.total.expensive:
            judge.problems.append(
                cel.RuleProblem(
                    where,
                    "Forbidden: contributed to estimated rule cost total exceeding cost limit for entire "
                    "OpenAPIv3 schema",
                )
            )
        what = "x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema"
        judge.problems.append(
            cel.RuleProblem(path, f"Forbidden: {budget_message(what, judge.total.total, CRD_LIMIT)}")
        )
    return judge.problems
