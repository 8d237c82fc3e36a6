"""Path safety: every store path is canonical and stays under its directory."""

from __future__ import annotations

import pytest

from kratix_py.contract import is_within, join_under, normalise_prefix, safe_relpath
from kratix_py.statestores.errors import StateStoreError, UnsafePathError


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("a.yaml", "a.yaml"),
        ("a//b/./c.yaml", "a/b/c.yaml"),
        ("./resources/x/", "resources/x"),
        ("dir.with.dots/..hidden", "dir.with.dots/..hidden"),
        ("a/.gitignore", "a/.gitignore"),
        ("ünïcode/ファイル.yaml", "ünïcode/ファイル.yaml"),
    ],
)
def test_safe_relpath_canonicalises(raw: str, canonical: str) -> None:
    assert safe_relpath(raw) == canonical


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("../etc/passwd", "'..'"),
        ("a/../../b", "'..'"),
        ("a/../b", "'..'"),  # even when it would stay inside
        ("..", "'..'"),
        ("/etc/passwd", "absolute"),
        ("a/\0b", "control character"),
        ("a/b\nc", "control character"),
        ("a\\..\\b", "backslash"),
        (".git/config", ".git"),
        ("x/.GIT/hooks/pre-commit", ".git"),
        ("", "empty"),
        (".", "empty"),
        ("./", "empty"),
        ("//", "absolute"),
    ],
)
def test_safe_relpath_refuses(raw: str, reason: str) -> None:
    with pytest.raises(UnsafePathError) as raised:
        safe_relpath(raw, what="file of 'wp-a'")
    assert reason in str(raised.value)
    assert "file of 'wp-a'" in str(raised.value)


def test_unsafe_path_error_is_a_value_error_named_by_the_contract() -> None:
    """Bad paths are bad input (a ValueError), raised before any store is touched; the contract
    owns the class and the state-store package exports that same class."""
    from kratix_py import contract
    from kratix_py.statestores import errors

    error = UnsafePathError("x")
    assert isinstance(error, ValueError)
    assert not isinstance(error, StateStoreError)
    assert UnsafePathError is contract.UnsafePathError is errors.UnsafePathError
    assert error.cause == "UnsafePath"


def test_refuses_non_strings() -> None:
    with pytest.raises(UnsafePathError):
        safe_relpath(b"a.yaml")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("prefix", "canonical"),
    [(None, ""), ("", ""), (".", ""), ("/", ""), ("/store/", "store"), ("a//b", "a/b"), ("./x", "x")],
)
def test_normalise_prefix_follows_kratix(prefix: str | None, canonical: str) -> None:
    assert normalise_prefix(prefix) == canonical


def test_normalise_prefix_refuses_climbing() -> None:
    with pytest.raises(UnsafePathError):
        normalise_prefix("store/../../elsewhere")


def test_join_under_stays_under_the_prefix() -> None:
    assert join_under("/store", "dest/resources/ns/x.yaml") == "store/dest/resources/ns/x.yaml"
    assert join_under("", "dest/x.yaml") == "dest/x.yaml"
    with pytest.raises(UnsafePathError):
        join_under("store", "../other/x.yaml")
    with pytest.raises(UnsafePathError):
        join_under("store", "/x.yaml")


def test_is_within_respects_segment_boundaries() -> None:
    assert is_within("a/b/c", "a/b")
    assert is_within("a/b", "a/b")
    assert not is_within("a/bc", "a/b")
    assert not is_within("a-b/c", "a")
    assert is_within("anything", "")
