"""What the operator asks of the Kubernetes API, read from its source code.

The chart's ClusterRole must allow every call the operator makes; listing those calls by hand
would go stale with the next reconciler, so they are found here:

* the modules the operator runs: everything ``kratix_py.operator.app`` and ``.cli`` import, directly
  or lazily, within ``kratix_py`` (not the pipeline adapter, which runs in pipeline pods under the
  pipeline's own ServiceAccount, and not the test platform);
* every call of a :class:`kratix_py.kube.Kube` method in them (``get``, ``list``, ``create``,
  ``patch``, ``apply``, ``delete``, ``add_finalizers``, ... mapped to RBAC verbs) and the resource
  it is called with, followed back through local variables, parameters (to every caller),
  dataclass fields (to every constructor call), dict and tuple constants and helper return values,
  until it is a :class:`~kratix_py.kube.Resource` constant or a Resource built at run time from a
  Promise's API (a *request kind*);
* every kopf handler (``@kopf.on.<event>(...)``): kopf lists and watches its resource, and patches
  it for handlers that keep state;
* every kind the operator's informers keep (``Watched(<resource>, ...)``): listed and watched.

A resource argument that cannot be followed is reported, not guessed, so that new code either
uses a constant the scan understands or the scan learns the new shape.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kratix_py import kube as k

ROOTS = ("kratix_py.operator.app", "kratix_py.operator.cli")
NOT_OPERATOR = ("kratix_py.adapter", "kratix_py.testing", "kratix_py.local_platform")
"""Packages the operator may import but whose API calls run elsewhere (or only in tests)."""

KUBE_VERBS: dict[str, tuple[str, ...]] = {
    "get": ("get",),
    "list": ("list",),
    "create": ("create",),
    "replace": ("update",),
    "patch": ("patch",),
    "patch_status": ("patch",),
    "delete": ("delete",),
    "apply": ("get", "create", "patch"),  # read, then create or merge-patch what differs
    "add_finalizers": ("patch",),
    "remove_finalizer": ("patch",),
}
# Methods whose names are distinctive enough to recognise on any receiver.
_DISTINCT = {"patch_status", "add_finalizers", "remove_finalizer", "emit_event", "request_text"}
_HTTP_VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
# kopf handler kinds that only observe; the others keep progress on the object and need patch.
_OBSERVING = {"event", "index"}
_HANDLER_KINDS = {"event", "index", "create", "update", "delete", "resume", "field", "timer", "daemon"}


@dataclass(frozen=True)
class RequestKind:
    """A Resource built at run time from a Promise's ``spec.api``: any group, any plural."""


REQUEST_KIND = RequestKind()
Target = k.Resource | RequestKind


@dataclass(frozen=True)
class Need:
    """One permission the operator needs: verb on group/resource (``plural`` or ``plural/sub``)."""

    target: Target
    verb: str
    subresource: str = ""
    where: str = field(default="", compare=False)

    def resource_name(self, plural: str | None = None) -> str:
        base = plural if isinstance(self.target, RequestKind) else self.target.plural
        return f"{base}/{self.subresource}" if self.subresource else str(base)

    def __str__(self) -> str:
        group = "<request group>" if isinstance(self.target, RequestKind) else (self.target.group or "core")
        return f"{self.verb} {group}/{self.resource_name('<request plural>')} ({self.where})"


@dataclass(frozen=True)
class Unresolved:
    """A call whose resource the scan could not follow back to its origin."""

    where: str
    expression: str


@dataclass
class ScanResult:
    needs: set[Need]
    unresolved: list[Unresolved]
    modules: list[str]


# -- the modules the operator runs ---------------------------------------------------------------


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    obj: Any
    parents: dict[ast.AST, ast.AST]

    @property
    def short(self) -> str:
        return str(self.path).split("kratix_py/", 1)[-1]


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _imported_modules(module_name: str, tree: ast.Module, is_package: bool) -> set[str]:
    found: set[str] = set()
    package = module_name if is_package else module_name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if _is_module(f"{base}.{alias.name}"))
    return {name for name in found if name.startswith("kratix_py")}


def operator_modules(roots: tuple[str, ...] = ROOTS) -> dict[str, Module]:
    """Every kratix_py module reachable by imports from ``roots``."""
    modules: dict[str, Module] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in modules or not _is_module(name):
            continue
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None
        path = Path(spec.origin)
        tree = ast.parse(path.read_text(), str(path))
        parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
        modules[name] = Module(name, path, tree, importlib.import_module(name), parents)
        pending.extend(_imported_modules(name, tree, spec.submodule_search_locations is not None))
    return modules


# -- following a resource expression back to where it comes from ----------------------------------


class _Unresolvable(Exception):
    pass


@dataclass(frozen=True)
class _Context:
    module: Module
    function: ast.FunctionDef | ast.AsyncFunctionDef | None


_FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


class Resolver:
    """Finds the Resources an expression can evaluate to (see the module docstring)."""

    def __init__(self, modules: dict[str, Module]) -> None:
        self.modules = modules
        self.functions: dict[str, list[tuple[Module, _FunctionNode]]] = {}
        self.classes: dict[str, list[tuple[Module, ast.ClassDef]]] = {}
        self.calls: list[tuple[Module, ast.Call]] = []
        for module in modules.values():
            for node in ast.walk(module.tree):
                if isinstance(node, _FunctionNode):
                    self.functions.setdefault(node.name, []).append((module, node))
                elif isinstance(node, ast.ClassDef):
                    self.classes.setdefault(node.name, []).append((module, node))
                elif isinstance(node, ast.Call):
                    self.calls.append((module, node))
        self._active: set[tuple[int, int]] = set()

    # -- entry point -------------------------------------------------------------------------------
    def resolve(self, expr: ast.expr, ctx: _Context) -> set[Target]:
        key = (id(expr), id(ctx.function))
        if key in self._active:  # a cycle adds nothing new
            return set()
        self._active.add(key)
        try:
            return self._resolve(expr, ctx)
        finally:
            self._active.discard(key)

    def _resolve(self, expr: ast.expr, ctx: _Context) -> set[Target]:
        try:
            return _targets_of(self.static_value(expr, ctx))
        except _Unresolvable:
            pass
        if isinstance(expr, ast.Name):
            return self._name(expr.id, ctx)
        if isinstance(expr, ast.Attribute):
            return self._field(expr, ctx)
        if isinstance(expr, ast.Subscript):
            return self.resolve(expr.value, ctx)
        if isinstance(expr, ast.IfExp):
            return self.resolve(expr.body, ctx) | self.resolve(expr.orelse, ctx)
        if isinstance(expr, ast.BoolOp):
            return set().union(*(self.resolve(value, ctx) for value in expr.values))
        if isinstance(expr, ast.Constant) and expr.value is None:
            return set()
        if isinstance(expr, ast.Call):
            return self._call(expr, ctx)
        raise _Unresolvable(ast.unparse(expr))

    # -- constants -------------------------------------------------------------------------------
    def static_value(self, expr: ast.expr, ctx: _Context) -> Any:
        """The value of a module-level name or attribute chain, as the imported module holds it."""
        if isinstance(expr, ast.Constant):
            return expr.value
        if isinstance(expr, ast.Name):
            if ctx.function is not None and (
                expr.id in _parameters(ctx.function) or self._bindings(expr.id, ctx.function)
            ):
                raise _Unresolvable(expr.id)
            if not hasattr(ctx.module.obj, expr.id):
                raise _Unresolvable(expr.id)
            return getattr(ctx.module.obj, expr.id)
        if isinstance(expr, ast.Attribute):
            base = self.static_value(expr.value, ctx)
            if not hasattr(base, expr.attr) or not _is_static_holder(base):
                raise _Unresolvable(ast.unparse(expr))
            return getattr(base, expr.attr)
        raise _Unresolvable(ast.unparse(expr))

    # -- variables and parameters ----------------------------------------------------------------
    def _bindings(self, name: str, function: _FunctionNode) -> list[ast.expr]:
        """Right-hand sides assigned to ``name`` in ``function`` (not in functions nested in it)."""
        found: list[ast.expr] = []
        for node in _walk_own(function):
            if isinstance(node, ast.Assign):
                if any(_binds(t, name) for t in node.targets):
                    found.append(node.value)
            elif isinstance(node, ast.AnnAssign | ast.NamedExpr):
                if _binds(node.target, name) and node.value:
                    found.append(node.value)
            elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension) and _binds(node.target, name):
                found.append(node.iter)
        return found

    def _name(self, name: str, ctx: _Context) -> set[Target]:
        if ctx.function is None:
            raise _Unresolvable(name)
        bindings = self._bindings(name, ctx.function)
        if bindings:
            return set().union(*(self.resolve(value, ctx) for value in bindings))
        if name in _parameters(ctx.function):
            return self._parameter(ctx.function, name)
        raise _Unresolvable(name)

    def _parameter(self, function: _FunctionNode, name: str) -> set[Target]:
        """What every caller passes for ``function``'s parameter ``name``."""
        params = _parameters(function)
        index = params.index(name)
        is_method = bool(params) and params[0] in ("self", "cls")
        target_module = self._module_of(function)
        owner = _enclosing_class(function, target_module)
        found: set[Target] = set()
        callers = 0
        for module, call in self.calls:
            ctx = _Context(module, _enclosing_function(call, module))
            if not self._may_call(call, ctx, target_module, function, owner):
                continue
            via_instance = isinstance(call.func, ast.Attribute) or function.name == "__init__"
            arg = _argument(call, name, index - (1 if is_method and via_instance else 0))
            if arg is None:
                continue
            callers += 1
            found |= self.resolve(arg, ctx)
        if callers == 0:
            raise _Unresolvable(f"parameter {name} of {function.name}() (no caller passes it)")
        return found

    def _may_call(
        self,
        call: ast.Call,
        ctx: _Context,
        target_module: Module,
        function: _FunctionNode,
        owner: ast.ClassDef | None,
    ) -> bool:
        """Whether ``call`` can be a call of ``function`` (a method of ``owner``, if any).

        Decided from what the code says (``self.f()`` within the class, ``f()`` or ``module.f()``
        naming the same object, ``Class()`` for ``__init__``); calls on other objects are kept when
        the name matches, except calls on a Kube, so that a shared method name cannot pull in
        unrelated callers.
        """
        wanted = owner.name if function.name == "__init__" and owner else function.name
        if _called_name(call) != wanted:
            return False
        expected = getattr(target_module.obj, wanted, None)
        if isinstance(call.func, ast.Name) or (function.name == "__init__" and owner is not None):
            try:
                return self.static_value(call.func, ctx) is expected and expected is not None
            except _Unresolvable:
                return False
        assert isinstance(call.func, ast.Attribute)
        receiver = call.func.value
        if _is_self(receiver):
            caller_class = _enclosing_class(ctx.function, ctx.module) if ctx.function else None
            return owner is not None and caller_class is not None and caller_class.name == owner.name
        if _is_kube(receiver) and target_module.name != "kratix_py.kube":
            return False
        try:
            holder = self.static_value(receiver, ctx)
        except _Unresolvable:
            return owner is not None  # a method called on some instance
        return getattr(holder, wanted, None) is expected and expected is not None

    # -- object fields ----------------------------------------------------------------------------
    def _field(self, expr: ast.Attribute, ctx: _Context) -> set[Target]:
        """``obj.field``: what the field is set to, in the classes ``obj`` can be."""
        classes = self._classes_of(expr.value, ctx)
        found: set[Target] = set()
        sources = 0
        for module, cls in classes:
            fields = _dataclass_fields(cls)
            if expr.attr in fields:
                index = fields.index(expr.attr)
                cls_obj = getattr(module.obj, cls.name, None)
                for caller_module, call in self.calls:
                    if _called_name(call) != cls.name:
                        continue
                    caller_ctx = _Context(caller_module, _enclosing_function(call, caller_module))
                    try:
                        if self.static_value(call.func, caller_ctx) is not cls_obj:
                            continue
                    except _Unresolvable:
                        continue
                    arg = _argument(call, expr.attr, index)
                    if arg is not None:
                        sources += 1
                        found |= self.resolve(arg, caller_ctx)
            for method in (n for n in cls.body if isinstance(n, _FunctionNode)):
                for node in _walk_own(method):
                    if isinstance(node, ast.Assign) and any(
                        isinstance(t, ast.Attribute) and t.attr == expr.attr and _is_self(t.value)
                        for t in node.targets
                    ):
                        sources += 1
                        found |= self.resolve(node.value, _Context(module, method))
        if sources == 0:
            raise _Unresolvable(ast.unparse(expr))
        return found

    def _classes_of(self, expr: ast.expr, ctx: _Context) -> list[tuple[Module, ast.ClassDef]]:
        """The classes an expression's value can be an instance of, from annotations."""
        if _is_self(expr) and ctx.function is not None:
            owner = _enclosing_class(ctx.function, ctx.module)
            return [(ctx.module, owner)] if owner else []
        if isinstance(expr, ast.Name) and ctx.function is not None:
            annotation = _annotation_of(expr.id, ctx.function)
            if annotation is not None:
                return self.classes.get(annotation, [])
        raise _Unresolvable(ast.unparse(expr))

    # -- calls ---------------------------------------------------------------------------------------
    def _call(self, call: ast.Call, ctx: _Context) -> set[Target]:
        try:
            func = self.static_value(call.func, ctx)
        except _Unresolvable:
            func = None
        if func is k.Resource:
            # A Resource made at run time: from constants it is one known kind; from a Promise's
            # API (names read from the Promise) it is a request kind.
            try:
                args = [self.static_value(a, ctx) for a in call.args]
                kwargs = {kw.arg: self.static_value(kw.value, ctx) for kw in call.keywords if kw.arg}
            except _Unresolvable:
                return {REQUEST_KIND}
            return {k.Resource(*args, **kwargs)}
        if isinstance(call.func, ast.Attribute) and call.func.attr == "get":
            return self.resolve(call.func.value, ctx)  # dict.get(key) of a dict of Resources
        # A helper that returns a Resource: what its return statements give.
        found: set[Target] = set()
        matched = False
        for module, function in self.functions.get(_called_name(call) or "", []):
            if not self._may_call(call, ctx, module, function, _enclosing_class(function, module)):
                continue
            matched = True
            for node in _walk_own(function):
                if isinstance(node, ast.Return) and node.value is not None:
                    found |= self.resolve(node.value, _Context(module, function))
        if not matched:
            raise _Unresolvable(ast.unparse(call))
        return found

    def strings(self, expr: ast.expr, ctx: _Context) -> set[str]:
        """The string values an expression can have: constants, variables bound to them, or an
        attribute of the Resources an expression resolves to (``resource.plural``)."""
        try:
            value = self.static_value(expr, ctx)
        except _Unresolvable:
            pass
        else:
            if isinstance(value, str):
                return {value}
            raise _Unresolvable(ast.unparse(expr))
        if isinstance(expr, ast.Name) and ctx.function is not None:
            bindings = self._bindings(expr.id, ctx.function)
            if bindings:
                return set().union(*(self.strings(value, ctx) for value in bindings))
        if isinstance(expr, ast.Attribute):
            targets = self.resolve(expr.value, ctx)
            if targets and all(isinstance(t, k.Resource) for t in targets):
                return {str(getattr(t, expr.attr)) for t in targets}
        raise _Unresolvable(ast.unparse(expr))

    def _module_of(self, node: ast.AST) -> Module:
        for module in self.modules.values():
            if node in module.parents:
                return module
        raise LookupError(node)


def _targets_of(value: Any) -> set[Target]:
    if isinstance(value, k.Resource):
        return {value}
    if isinstance(value, dict):
        value = list(value.values())
    if (
        isinstance(value, list | tuple | set | frozenset)
        and value
        and all(isinstance(v, k.Resource) for v in value)
    ):
        return set(value)
    raise _Unresolvable(repr(value)[:80])


def _is_static_holder(value: Any) -> bool:
    """Attributes worth reading at scan time: of modules and classes, not of arbitrary objects."""
    import types

    return isinstance(value, types.ModuleType | type)


def _parameters(function: _FunctionNode) -> list[str]:
    args = function.args
    return [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]


def _annotation_of(name: str, function: _FunctionNode) -> str | None:
    args = function.args
    for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs):
        if arg.arg == name and arg.annotation is not None:
            return _type_name(arg.annotation)
    return None


def _type_name(annotation: ast.expr) -> str | None:
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        annotation = ast.parse(annotation.value, mode="eval").body
    if isinstance(annotation, ast.Name):
        return annotation.id
    if isinstance(annotation, ast.Attribute):
        return annotation.attr
    return None


def _binds(target: ast.expr, name: str) -> bool:
    if isinstance(target, ast.Name):
        return target.id == name
    if isinstance(target, ast.Tuple | ast.List):
        return any(_binds(t, name) for t in target.elts)
    return False


def _is_self(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Name) and expr.id == "self"


def _walk_own(function: _FunctionNode) -> Iterator[ast.AST]:
    """Nodes of ``function``'s body, not descending into nested functions or classes."""
    stack: list[ast.AST] = list(function.body)
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, _FunctionNode | ast.ClassDef | ast.Lambda):
                stack.append(child)


def _enclosing_function(node: ast.AST, module: Module) -> _FunctionNode | None:
    current = module.parents.get(node)
    while current is not None and not isinstance(current, _FunctionNode):
        current = module.parents.get(current)
    return current


def _enclosing_class(node: ast.AST, module: Module) -> ast.ClassDef | None:
    current = module.parents.get(node)
    while current is not None and not isinstance(current, ast.ClassDef):
        current = module.parents.get(current)
    return current


def _dataclass_fields(cls: ast.ClassDef) -> list[str]:
    fields: list[str] = []
    for node in cls.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        if "ClassVar" not in ast.unparse(node.annotation):
            fields.append(node.target.id)
    return fields


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _argument(call: ast.Call, name: str, index: int) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    positional = [a for a in call.args if not isinstance(a, ast.Starred)]
    if len(positional) != len(call.args):
        raise _Unresolvable(ast.unparse(call))
    return positional[index] if 0 <= index < len(positional) else None


# -- the scan ------------------------------------------------------------------------------------


def _is_kube(receiver: ast.expr) -> bool:
    """``kube``, ``self.kube``, ``api.kube``, ``self._kube``, ``platform_kube``: a Kube by its name."""
    name = str(receiver.attr if isinstance(receiver, ast.Attribute) else getattr(receiver, "id", "")).lower()
    return name.lstrip("_") == "kube" or name.endswith("_kube")


def _constant(expr: ast.expr | None, ctx: _Context, resolver: Resolver) -> str | None:
    if expr is None:
        return None
    try:
        value = resolver.static_value(expr, ctx)
    except _Unresolvable:
        raise _Unresolvable(ast.unparse(expr)) from None
    return str(value) if value is not None else None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((kw.value for kw in call.keywords if kw.arg == name), None)


def _kube_call_needs(call: ast.Call, method: str, ctx: _Context, resolver: Resolver, where: str) -> set[Need]:
    if method == "emit_event":
        return {Need(k.EVENTS, "create", where=where)}
    if method in ("request", "request_text"):
        verb = (
            "get"
            if method == "request_text"
            else _HTTP_VERBS.get(_constant(call.args[0], ctx, resolver) or "", "")
        )
        path = call.args[0 if method == "request_text" else 1]
        if not (
            verb
            and isinstance(path, ast.Call)
            and isinstance(path.func, ast.Attribute)
            and path.func.attr == "path"
        ):
            raise _Unresolvable(ast.unparse(call))
        sub = path.args[2] if len(path.args) > 2 else _keyword(path, "subresource")
        targets = resolver.resolve(path.func.value, ctx)
        return {Need(t, verb, _constant(sub, ctx, resolver) or "", where) for t in targets}
    resource = call.args[0] if call.args else _keyword(call, "resource")
    if resource is None:
        raise _Unresolvable(ast.unparse(call))
    subresource = (
        "status"
        if method == "patch_status"
        else _constant(_keyword(call, "subresource"), ctx, resolver) or ""
    )
    return {
        Need(target, verb, subresource, where)
        for target in resolver.resolve(resource, ctx)
        for verb in KUBE_VERBS[method]
    }


def _handler_needs(
    decorator: ast.Call, kind: str, ctx: _Context, resolver: Resolver, where: str
) -> set[Need]:
    """What kopf needs for a ``@kopf.on.<kind>(...)`` handler's resource."""
    from kratix_py.core.request_crd import REQUEST_CATEGORY

    category = _constant(_keyword(decorator, "category"), ctx, resolver)
    targets: set[Target]
    if category is not None:
        if category != REQUEST_CATEGORY:
            raise _Unresolvable(f"kopf handler on category {category!r}")
        targets = {REQUEST_KIND}
    else:
        if len(decorator.args) != 3:
            raise _Unresolvable(ast.unparse(decorator) + " (the scan understands group, version, plural)")
        groups, versions, plurals = (resolver.strings(a, ctx) for a in decorator.args)
        targets = {k.Resource(g, v, p) for g in groups for v in versions for p in plurals}
    verbs = ("list", "watch") if kind in _OBSERVING else ("list", "watch", "patch")
    return {Need(target, verb, where=where) for target in targets for verb in verbs}


def _kopf_kind(decorator: ast.expr) -> str | None:
    """``event`` for ``@kopf.on.event(...)`` and the like; None for other decorators."""
    if not (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)):
        return None
    func = decorator.func
    if isinstance(func.value, ast.Attribute) and func.value.attr == "on" and func.attr in _HANDLER_KINDS:
        return func.attr
    return None


def scan(roots: tuple[str, ...] = ROOTS, *, modules: dict[str, Module] | None = None) -> ScanResult:
    """The operator's needs; ``modules`` replaces the import closure of ``roots`` (for tests)."""
    modules = operator_modules(roots) if modules is None else modules
    resolver = Resolver(modules)
    needs: set[Need] = set()
    unresolved: list[Unresolved] = []
    scanned = sorted(
        name for name in modules if name != "kratix_py.kube" and not name.startswith(NOT_OPERATOR)
    )
    for name in scanned:
        module = modules[name]
        for node in ast.walk(module.tree):
            if not isinstance(node, ast.Call):
                continue
            ctx = _Context(module, _enclosing_function(node, module))
            where = f"{module.short}:{node.lineno}"
            try:
                kind = _kopf_kind(node)  # as a decorator or called: kopf.on.event(...)(handler)
                if _called_name(node) == "Watched":
                    resource = node.args[0] if node.args else _keyword(node, "resource")
                    if resource is None:
                        raise _Unresolvable(ast.unparse(node))
                    needs |= {
                        Need(target, verb, where=f"{where} informer")
                        for target in resolver.resolve(resource, ctx)
                        for verb in ("list", "watch")
                    }
                elif kind is not None:
                    needs |= _handler_needs(node, kind, ctx, resolver, f"{where} kopf.on.{kind}")
                elif isinstance(node.func, ast.Attribute):
                    method = node.func.attr
                    known = method in KUBE_VERBS or method in ("emit_event", "request", "request_text")
                    if known and (method in _DISTINCT or _is_kube(node.func.value)):
                        needs |= _kube_call_needs(node, method, ctx, resolver, f"{where} {method}()")
            except _Unresolvable as error:
                unresolved.append(Unresolved(where, str(error)))
    return ScanResult(needs, unresolved, scanned)
