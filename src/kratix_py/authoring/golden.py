"""Comparing a render with golden files, and rewriting them.

The rule for values that change from run to run: in a golden ``.yaml``/``.yml`` file, the string
``<ignored>`` in place of any value matches whatever value the render produced there (a scalar, a
map or a list). ``render`` already writes ``<ignored>`` for the volatile fields Kratix stamps into a
status (see :data:`kratix_py.authoring.output.VOLATILE_KEYS`), so only values a pipeline itself
makes volatile (a generated password, a date) need it written by hand. Updating the goldens keeps
every ``<ignored>`` where it was.

YAML files are compared as data (key order and formatting do not matter); other files byte for byte.
Differences are shown as unified diffs of the YAML re-dumped with sorted keys, so only real
differences show.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from kratix_py.authoring.output import IGNORED

_YAML_SUFFIXES = (".yaml", ".yml")
_UNPARSED = object()


def read_tree(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` as ``relative posix path -> bytes``."""
    if not directory.is_dir():
        return {}
    return {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def _load(path: str, content: bytes) -> Any:
    if not path.endswith(_YAML_SUFFIXES):
        return _UNPARSED
    try:
        documents = list(yaml.safe_load_all(content.decode("utf-8")))
    except (UnicodeDecodeError, yaml.YAMLError):
        return _UNPARSED
    return documents


def matches(expected: Any, actual: Any) -> bool:
    """Equal, except that :data:`IGNORED` in ``expected`` matches anything."""
    if expected == IGNORED:
        return True
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(matches(expected[k], actual[k]) for k in expected)
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(
            matches(e, a) for e, a in zip(expected, actual, strict=True)
        )
    return bool(expected == actual) and type(expected) is type(actual)


def mask(expected: Any, actual: Any) -> Any:
    """``actual`` with :data:`IGNORED` wherever ``expected`` has it (and the structure still lines up)."""
    if expected == IGNORED:
        return IGNORED
    if isinstance(expected, dict) and isinstance(actual, dict):
        return {k: mask(expected[k], v) if k in expected else v for k, v in actual.items()}
    if isinstance(expected, list) and isinstance(actual, list):
        return [mask(expected[i], v) if i < len(expected) else v for i, v in enumerate(actual)]
    return actual


def _has_ignored(value: Any) -> bool:
    if value == IGNORED:
        return True
    if isinstance(value, dict):
        return any(_has_ignored(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_ignored(v) for v in value)
    return False


def _dump(documents: list[Any]) -> str:
    return yaml.safe_dump_all(documents, sort_keys=True, default_flow_style=False, allow_unicode=True)


def _text_lines(content: bytes) -> list[str] | None:
    try:
        return content.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None


def file_difference(path: str, expected: bytes, actual: bytes) -> str | None:
    """A unified diff between the golden and the rendered file, or ``None`` when they match."""
    expected_data, actual_data = _load(path, expected), _load(path, actual)
    if expected_data is not _UNPARSED and actual_data is not _UNPARSED:
        if matches(expected_data, actual_data):
            return None
        old = _dump(expected_data).splitlines(keepends=True)
        new = _dump(mask(expected_data, actual_data)).splitlines(keepends=True)
    else:
        if expected == actual:
            return None
        old_lines, new_lines = _text_lines(expected), _text_lines(actual)
        if old_lines is None or new_lines is None:
            return f"{path}: binary content differs\n"
        old, new = old_lines, new_lines
    diff = difflib.unified_diff(old, new, fromfile=f"expected/{path}", tofile=f"rendered/{path}")
    return "".join(line if line.endswith("\n") else line + "\n" for line in diff)


def compare(expected: Mapping[str, bytes], actual: Mapping[str, bytes]) -> list[str]:
    """Every difference between two trees, one readable block each (empty: they match)."""
    differences = []
    for path in sorted(set(expected) | set(actual)):
        if path not in actual:
            differences.append(f"expected/{path}: expected but not rendered\n")
        elif path not in expected:
            differences.append(
                f"rendered/{path}: rendered but not expected (new file; --update records it)\n"
            )
        else:
            difference = file_difference(path, expected[path], actual[path])
            if difference:
                differences.append(difference)
    return differences


def updated(expected: Mapping[str, bytes], actual: Mapping[str, bytes]) -> dict[str, bytes]:
    """The new goldens: the rendered files, keeping the ``<ignored>`` markers the old ones had."""
    result: dict[str, bytes] = {}
    for path, content in actual.items():
        old = expected.get(path)
        if old is not None:
            old_data, new_data = _load(path, old), _load(path, content)
            if old_data is not _UNPARSED and new_data is not _UNPARSED and _has_ignored(old_data):
                if matches(old_data, new_data):
                    result[path] = old  # unchanged: keep the file exactly as its author wrote it
                    continue
                result[path] = _dump(mask(old_data, new_data)).encode()
                continue
        result[path] = content
    return result


def write_tree(directory: Path, files: Mapping[str, bytes]) -> None:
    """Make ``directory`` hold exactly ``files`` (stale goldens are removed)."""
    current = read_tree(directory)
    for path in current:
        if path not in files:
            (directory / path).unlink()
    for path, content in files.items():
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if current.get(path) != content:
            target.write_bytes(content)
    for folder in sorted((p for p in directory.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
