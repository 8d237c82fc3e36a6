"""Reading the YAML files a Promise author hands to the authoring commands.

Every problem is reported against the file *and* a position in it: a YAML syntax error by its
line, a bad field by its YAML path (``spec.workflows.resource.configure[0].spec``) and, when the
path exists in the file, its line too. The data is parsed once for values and once more as a node
tree (PyYAML's compose step) only to look up lines, which keeps the values plain dicts and lists.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kratix_py.errors import CommandError

PathPart = str | int


class DocumentError(CommandError):
    """A file cannot be used at all (missing, unreadable, not YAML, wrong shape); one line."""


def format_path(parts: Sequence[PathPart]) -> str:
    """``("spec", "containers", 0, "image")`` -> ``spec.containers[0].image``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def parse_path(text: str) -> list[PathPart]:
    """The inverse of :func:`format_path`; also reads the API server's ``properties[name]`` form."""
    parts: list[PathPart] = []
    for segment in text.split(".") if text else []:
        head, _, rest = segment.partition("[")
        if head:
            parts.append(head)
        while rest:
            inner, _, rest = rest.partition("]")
            parts.append(int(inner) if inner.isdigit() else inner)
            rest = rest.removeprefix("[")
    return parts


@dataclass(frozen=True)
class Document:
    """One YAML document of a file, with what is needed to point at places in it."""

    source: str
    """The file as the user named it (never resolved to an absolute path: it is shown as typed)."""
    index: int
    """Position of the document in a multi-document file (0-based)."""
    data: Any
    node: yaml.Node | None

    def line_of(self, path: Sequence[PathPart]) -> int | None:
        """1-based line of the deepest node of ``path`` present in the file (``None``: not at all)."""
        node = self.node
        if node is None:
            return None
        line = node.start_mark.line + 1
        for part in path:
            child = _child(node, part)
            if child is None:
                break
            node = child
            line = node.start_mark.line + 1
        return line

    def where(self, path: Sequence[PathPart] = ()) -> str:
        """``file:line`` for messages (``file`` alone when no line is known)."""
        line = self.line_of(path)
        return f"{self.source}:{line}" if line is not None else self.source

    @property
    def kind(self) -> str:
        return str(self.data.get("kind") or "") if isinstance(self.data, dict) else ""

    @property
    def name(self) -> str:
        metadata = self.data.get("metadata") if isinstance(self.data, dict) else None
        return str((metadata or {}).get("name") or "") if isinstance(metadata, dict) else ""


def _child(node: yaml.Node, part: PathPart) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == part and isinstance(value, yaml.Node):
                return value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item = node.value[part]
        return item if isinstance(item, yaml.Node) else None
    return None


def read_text(path: Path, source: str | None = None) -> str:
    """The file's text, or a :class:`DocumentError` saying why it cannot be read."""
    shown = source or str(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DocumentError(f"{shown}: no such file; check the path") from None
    except IsADirectoryError:
        raise DocumentError(f"{shown}: is a directory; give the YAML file inside it") from None
    except UnicodeDecodeError:
        raise DocumentError(f"{shown}: is not UTF-8 text; save it as UTF-8 YAML") from None
    except OSError as error:
        raise DocumentError(f"{shown}: cannot be read ({error.strerror or error})") from None


def parse_documents(text: str, source: str) -> list[Document]:
    """Every non-empty document of ``text``; a :class:`DocumentError` with the line on bad YAML."""
    try:
        values = list(yaml.safe_load_all(text))
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as error:
        raise DocumentError(_yaml_error(source, error)) from None
    documents = []
    for index, (value, node) in enumerate(zip(values, nodes, strict=False)):
        if value is None:
            continue  # an empty document (a stray '---') carries nothing
        documents.append(Document(source=source, index=index, data=value, node=node))
    return documents


def read_documents(path: Path, source: str | None = None) -> list[Document]:
    """All non-empty YAML documents of a file."""
    shown = source or str(path)
    return parse_documents(read_text(path, shown), shown)


def read_objects(path: Path, source: str | None = None, *, what: str = "object") -> list[Document]:
    """Documents that must each be a Kubernetes object (a mapping with kind); a YAML list of
    objects is accepted too, as ``kubectl`` accepts a ``List``."""
    shown = source or str(path)
    objects: list[Document] = []
    for document in read_documents(path, shown):
        for item in _items(document):
            if not isinstance(item.data, dict):
                raise DocumentError(
                    f"{item.where()}: expected a {what} (a YAML mapping with apiVersion and kind), "
                    f"found a {type(item.data).__name__}"
                )
            objects.append(item)
    return objects


def _items(document: Document) -> Iterator[Document]:
    data = document.data
    if isinstance(data, dict) and data.get("kind") == "List" and isinstance(data.get("items"), list):
        yield from _list_items(document, data["items"], ("items",))
    elif isinstance(data, list):
        yield from _list_items(document, data, ())
    else:
        yield document


def _list_items(document: Document, items: list[Any], prefix: tuple[PathPart, ...]) -> Iterator[Document]:
    for position, item in enumerate(items):
        node = document.node
        for part in (*prefix, position):
            node = _child(node, part) if node is not None else None
        yield Document(source=document.source, index=document.index, data=item, node=node)


def read_one_object(path: Path, source: str | None = None, *, what: str = "object") -> Document:
    """The single object a file must hold (a Promise, a request)."""
    shown = source or str(path)
    objects = read_objects(path, shown, what=what)
    if not objects:
        raise DocumentError(f"{shown}: the file is empty; it must contain one {what}")
    if len(objects) > 1:
        raise DocumentError(
            f"{shown}: contains {len(objects)} documents; put exactly one {what} in this file"
        )
    return objects[0]


def _yaml_error(source: str, error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    context = getattr(error, "context", None)
    where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
    detail = f"{context}, {problem}" if context else str(problem)
    return f"{where}: invalid YAML: {detail}; fix the syntax (indentation, quotes, ':' after keys)"
