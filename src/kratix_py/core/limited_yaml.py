"""YAML from pipelines, parsed within limits: size, nesting depth, aliases and what aliases expand to.

Everything a pipeline writes is untrusted. Plain ``yaml.safe_load`` is safe from code execution but
not from resource exhaustion: a 1 KB document of nested aliases (the "billion laughs") composes into
a small graph that expands to hundreds of millions of nodes the moment anything walks it (a deep
copy, a JSON dump for the API server), and a few thousand ``[`` exhaust Python's recursion limit.
This module refuses both before any Python object is built, with the file named:

* the text is at most ``max_bytes`` long (checked first, on the raw bytes);
* nesting is at most ``max_depth`` levels, aliases expanded;
* at most ``max_aliases`` aliases (``*name``) appear;
* the document, with every alias expanded, has at most ``max_nodes`` nodes (a recursive alias,
  which would expand forever, is refused too).

The text is first composed into PyYAML's node graph, where an alias is one more reference to a
node rather than a copy, so a bomb stays small; the limits are checked on that graph, and only
then are Python objects built from it.

Pure: text in, Python data or :class:`YamlLimitError` out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, SequenceNode

KIB = 1024
MIB = 1024 * KIB


class YamlLimitError(ValueError):
    """A YAML file is over one of the limits, or not valid YAML; the message names the file."""


@dataclass(frozen=True)
class YamlLimits:
    """How much YAML one file may make us parse. The defaults suit Kubernetes manifests."""

    max_bytes: int = MIB
    max_depth: int = 100
    """Kubernetes objects, CRD schemas included, rarely nest beyond 30 levels."""
    max_aliases: int = 1000
    max_nodes: int = 1_000_000
    """Nodes once aliases are expanded; a 1 MiB file without aliases has fewer than this."""

    def with_max_bytes(self, max_bytes: int) -> YamlLimits:
        return YamlLimits(max_bytes, self.max_depth, self.max_aliases, self.max_nodes)


DEFAULT_YAML_LIMITS = YamlLimits()


def format_size(size: int) -> str:
    """``1.5 MiB``, ``12.0 KiB``, ``512 bytes``: sizes in messages people read."""
    if size >= MIB:
        return f"{size / MIB:.1f} MiB"
    if size >= KIB:
        return f"{size / KIB:.1f} KiB"
    return f"{size} bytes"


def _unknown_tag(loader: yaml.SafeLoader, suffix: str, node: Node) -> Any:
    # An unknown tag (``!Ref`` in a CloudFormation template) is still valid YAML: build the value.
    if isinstance(node, MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


# libyaml (PyYAML's C loader) parses several times faster than the pure-Python one, and itself stops
# at 1000 levels of nesting, so composing with it cannot exhaust the stack; without it the Python
# composer is used, with a depth guard of its own (it recurses once per level).
_C_LOADER: type[Any] | None = getattr(yaml, "CSafeLoader", None)


class _DepthGuardedLoader(yaml.SafeLoader):
    """The pure-Python SafeLoader, refusing deep nesting while composing, before recursion gets deep."""

    max_depth = 100
    filename = ""

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(AliasEvent):
            return super().compose_node(parent, index)  # type: ignore[return-value]
        depth = getattr(self, "_depth", 0) + 1
        if depth > self.max_depth:
            raise YamlLimitError(f"{self.filename} nests deeper than {self.max_depth} levels; flatten it")
        self._depth = depth
        try:
            return super().compose_node(parent, index)  # type: ignore[return-value]
        finally:
            self._depth = depth - 1


def loader_classes(base: type[Any]) -> tuple[type[Any], type[Any]]:
    """(plain, accepting unknown tags) SafeLoaders on ``base``'s parser."""
    plain: type[Any] = type("LimitedSafeLoader", (base,), {})
    any_tags: type[Any] = type("LimitedAnyTagLoader", (base,), {})
    any_tags.add_multi_constructor("", _unknown_tag)
    return plain, any_tags


_PLAIN_LOADER, _ANY_TAG_LOADER = loader_classes(_C_LOADER or _DepthGuardedLoader)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


@dataclass
class _Budget:
    """What the documents of one file have used so far."""

    limits: YamlLimits
    filename: str
    nodes: int = 0
    aliases: int = 0

    def refuse(self, problem: str) -> YamlLimitError:
        return YamlLimitError(f"{self.filename} {problem}")


def _check_document(root: Node, budget: _Budget) -> None:
    """Depth, aliases and expanded size of one composed document, refusing what is over the limits.

    Aliases make the composed graph a DAG whose shared parts count once per reference: sizes and
    depths are memoised per node, so this costs one visit per distinct node however large the
    expansion, and the data is never built. Iterative, since the graph may be deep.
    """
    limits = budget.limits
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    on_path: set[int] = set()
    edges = 0
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            children = _children(node)
            size = 1 + sum(sizes[id(child)] for child in children)
            depth = 1 + max((depths[id(child)] for child in children), default=0)
            if depth > limits.max_depth:
                raise budget.refuse(f"nests deeper than {limits.max_depth} levels; flatten it")
            if budget.nodes + size > limits.max_nodes:
                raise budget.refuse(
                    f"expands to more than {limits.max_nodes} values through its aliases "
                    "(an alias bomb?); write the values out or use fewer anchors"
                )
            sizes[key], depths[key] = size, depth
            continue
        if key in sizes:
            continue
        on_path.add(key)
        stack.append((node, True))
        for child in _children(node):
            edges += 1
            if id(child) in on_path:
                raise budget.refuse("contains an alias to itself (a recursive structure); remove it")
            if id(child) not in sizes:
                stack.append((child, False))
    # Every reference to a node beyond its first is an alias (``*name``).
    budget.aliases += edges - (len(sizes) - 1)
    if budget.aliases > limits.max_aliases:
        raise budget.refuse(
            f"uses more than {limits.max_aliases} aliases (*name); write the values out instead"
        )
    budget.nodes += sizes[id(root)]


def _text(data: str | bytes, filename: str, limits: YamlLimits) -> str:
    size = len(data.encode("utf-8") if isinstance(data, str) else data)
    if size > limits.max_bytes:
        raise YamlLimitError(
            f"{filename} is {format_size(size)}, over the limit of {format_size(limits.max_bytes)}"
        )
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise YamlLimitError(f"{filename} is not UTF-8 text: {error}") from None


def _loader(text: str, filename: str, limits: YamlLimits, any_tags: bool) -> Any:
    loader = (_ANY_TAG_LOADER if any_tags else _PLAIN_LOADER)(text)
    loader.max_depth, loader.filename = limits.max_depth, filename
    return loader


def _invalid(filename: str, error: yaml.YAMLError, limits: YamlLimits) -> YamlLimitError:
    if "exceeded maximum nesting depth" in str(error):  # libyaml's own limit, far above ours
        return YamlLimitError(f"{filename} nests deeper than {limits.max_depth} levels; flatten it")
    return YamlLimitError(f"{filename} is not valid YAML: {error}")


def _parse(
    data: str | bytes, filename: str, limits: YamlLimits, any_tags: bool, *, single: bool
) -> list[Any]:
    loader = _loader(_text(data, filename, limits), filename, limits, any_tags)
    budget = _Budget(limits, filename)
    try:
        nodes: list[Node | None] = []
        if single:
            nodes.append(loader.get_single_node())
        else:
            while loader.check_node():
                nodes.append(loader.get_node())
        for node in nodes:
            if node is not None:
                _check_document(node, budget)
        # Only now, with every limit checked on the small composed graph, build the Python data.
        return [None if node is None else loader.construct_document(node) for node in nodes]
    except yaml.YAMLError as error:
        raise _invalid(filename, error, limits) from None
    finally:
        loader.dispose()


def load_yaml(
    data: str | bytes, *, filename: str, limits: YamlLimits = DEFAULT_YAML_LIMITS, any_tags: bool = False
) -> Any:
    """One YAML document (``None`` for an empty file), within ``limits``.

    ``any_tags`` accepts unknown tags such as ``!Ref``; without it they are an error, as in
    ``yaml.safe_load``.
    """
    return _parse(data, filename, limits, any_tags, single=True)[0]


def load_yaml_documents(
    data: str | bytes, *, filename: str, limits: YamlLimits = DEFAULT_YAML_LIMITS, any_tags: bool = False
) -> list[Any]:
    """Every document of a multi-document file (``---``), within ``limits`` for the file as a whole."""
    return _parse(data, filename, limits, any_tags, single=False)
