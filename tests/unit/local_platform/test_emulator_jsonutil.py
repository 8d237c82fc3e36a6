"""JSON equality as the API server sees it: the emulator's no-op update and patch ``test`` rely on it."""

from __future__ import annotations

from typing import Any

import pytest

from kratix_py.local_platform.emulator.jsonutil import json_equal


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"replicas": 1}, {"replicas": 1.0}),
        ({"a": [1, {"b": "x"}], "c": None}, {"c": None, "a": [1.0, {"b": "x"}]}),  # key order
        (True, True),
        ([], []),
    ],
)
def test_values_json_calls_equal(a: Any, b: Any) -> None:
    assert json_equal(a, b) and json_equal(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"enabled": True}, {"enabled": 1}),  # Python says equal
        ([1, True], [1, 1]),
        ({"x": [{"y": False}]}, {"x": [{"y": 0}]}),
        (0, False),
        ({"a": 1}, {"a": 2}),
        ({"a": 1}, {"b": 1}),
        (None, 0),
        ([1], [1, 1]),
    ],
)
def test_values_json_calls_different(a: Any, b: Any) -> None:
    assert not json_equal(a, b) and not json_equal(b, a)
