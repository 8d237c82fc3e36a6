"""YAML from pipelines is parsed within limits: the classic attacks are refused fast, with the file named."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from kratix_py.core.limited_yaml import (
    YamlLimitError,
    YamlLimits,
    format_size,
    load_yaml,
    load_yaml_documents,
)


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """The "billion laughs": each level lists the previous one ``width`` times (9**9 leaves)."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def test_a_1kb_alias_bomb_is_refused_at_once_without_memory() -> None:
    bomb = alias_bomb()
    assert len(bomb) < 1024
    tracemalloc.start()
    started = time.monotonic()
    with pytest.raises(YamlLimitError, match=r"^status\.yaml expands to more than 1000000 values"):
        load_yaml(bomb, filename="status.yaml")
    elapsed = time.monotonic() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 2, elapsed
    assert peak < 20 * 1024 * 1024, format_size(peak)


def test_anchors_used_sensibly_are_fine() -> None:
    text = "defaults: &d {cpu: 1, memory: 2Gi}\nsmall: *d\nlarge: {<<: *d, cpu: 4}\n"
    assert load_yaml(text, filename="f") == {
        "defaults": {"cpu": 1, "memory": "2Gi"},
        "small": {"cpu": 1, "memory": "2Gi"},
        "large": {"cpu": 4, "memory": "2Gi"},
    }


def test_too_many_aliases_are_refused() -> None:
    text = "a: &a x\nb: [" + ", ".join(["*a"] * 11) + "]\n"
    with pytest.raises(YamlLimitError, match=r"^f uses more than 10 aliases"):
        load_yaml(text, filename="f", limits=YamlLimits(max_aliases=10))


def test_deep_nesting_is_refused_before_python_recursion_breaks() -> None:
    for deep in ("[" * 50_000, "{a: " * 50_000):
        with pytest.raises(
            YamlLimitError, match=r"^destination-selectors\.yaml nests deeper than 100 levels"
        ):
            load_yaml(deep, filename="destination-selectors.yaml")
    assert load_yaml("[" * 100 + "]" * 100, filename="f") is not None


def test_a_recursive_alias_is_refused() -> None:
    with pytest.raises(YamlLimitError, match="alias to itself"):
        load_yaml("&a [1, *a]", filename="f")
    with pytest.raises(YamlLimitError, match="alias to itself"):
        load_yaml("&a {x: {y: *a}}", filename="f")


def test_size_is_checked_on_the_raw_bytes_first() -> None:
    with pytest.raises(YamlLimitError, match=r"^status\.yaml is 2\.0 KiB, over the limit of 1\.0 KiB"):
        load_yaml(b"a: " + b"x" * 2045, filename="status.yaml", limits=YamlLimits(max_bytes=1024))
    assert load_yaml("é: 1", filename="f", limits=YamlLimits(max_bytes=5)) == {"é": 1}


def test_invalid_yaml_and_invalid_utf8_name_the_file() -> None:
    with pytest.raises(YamlLimitError, match=r"^status\.yaml is not valid YAML"):
        load_yaml("a: [1,", filename="status.yaml")
    with pytest.raises(YamlLimitError, match=r"^x\.yaml is not UTF-8 text"):
        load_yaml(b"a: \xff", filename="x.yaml")


def test_unknown_tags_only_where_asked_for() -> None:
    with pytest.raises(YamlLimitError, match="constructor for the tag '!Ref'"):
        load_yaml("v: !Ref Thing", filename="f")
    assert load_yaml("v: !Ref Thing\nl: !GetAZs []", filename="f", any_tags=True) == {"v": "Thing", "l": []}


def test_the_expansion_budget_covers_all_documents_of_a_file() -> None:
    document = "a: &a [" + ", ".join(["x"] * 50) + "]\nb: [" + ", ".join(["*a"] * 10) + "]\n"
    assert len(load_yaml_documents(document, filename="f", limits=YamlLimits(max_nodes=1000))) == 1
    with pytest.raises(YamlLimitError, match="expands to more than 1000 values"):
        load_yaml_documents("---\n".join([document] * 3), filename="f", limits=YamlLimits(max_nodes=1000))
    assert load_yaml_documents("a: 1\n---\n---\nb: 2\n", filename="f") == [{"a": 1}, None, {"b": 2}]


def test_sizes_read_well() -> None:
    assert [format_size(n) for n in (512, 1536, 3 * 1024 * 1024)] == ["512 bytes", "1.5 KiB", "3.0 MiB"]


def test_the_pure_python_parser_keeps_the_same_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where PyYAML has no libyaml, the Python composer is used; it recurses per level, so it must
    refuse deep nesting itself, before Python's recursion limit is reached."""
    from kratix_py.core import limited_yaml

    plain, any_tags = limited_yaml.loader_classes(limited_yaml._DepthGuardedLoader)
    monkeypatch.setattr(limited_yaml, "_PLAIN_LOADER", plain)
    monkeypatch.setattr(limited_yaml, "_ANY_TAG_LOADER", any_tags)
    with pytest.raises(YamlLimitError, match="nests deeper than 100 levels"):
        load_yaml("[" * 50_000, filename="f")
    with pytest.raises(YamlLimitError, match="expands to more than 1000000 values"):
        load_yaml(alias_bomb(), filename="f")
    assert load_yaml("v: !Ref Thing", filename="f", any_tags=True) == {"v": "Thing"}
    assert load_yaml_documents("a: &x 1\n---\nb: 2\n", filename="f") == [{"a": 1}, {"b": 2}]


def test_nesting_through_aliases_counts_as_nesting() -> None:
    lines = ["l0: &l0 [x]"] + [f"l{n}: &l{n} [*l{n - 1}]" for n in range(1, 120)]
    with pytest.raises(YamlLimitError, match="nests deeper than 100 levels"):
        load_yaml("\n".join(lines), filename="f")
