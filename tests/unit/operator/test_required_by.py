"""``status.requiredBy``: which Promises require a Promise, in Kratix's shape (§1.2)."""

from __future__ import annotations

from typing import Any

from kratix_py.operator.promises import required_by_status, required_promise_names


def promise(name: str, *required: dict[str, Any], version: str | None = None) -> dict[str, Any]:
    labels = {"kratix.io/promise-version": version} if version else {}
    return {"metadata": {"name": name, "labels": labels}, "spec": {"requiredPromises": list(required)}}


def test_required_by_lists_requirers_sorted_with_kratix_fields_and_leaves_empty_ones_out():
    promises = [
        promise("zeta", {"name": "database"}),
        promise("alpha", {"name": "cache"}, {"name": "database", "version": "v1"}, version="v3"),
        promise("other", {"name": "cache"}),
        promise("database"),
    ]
    assert required_by_status("database", promises) == [
        {"promise": {"name": "alpha", "version": "v3"}, "requiredVersion": "v1"},
        {"promise": {"name": "zeta"}},
    ]
    assert required_by_status("nobody-needs-me", promises) == []


def test_required_names_read_the_stored_spec_even_when_it_is_odd():
    assert required_promise_names(None) == set()
    assert required_promise_names(
        {"spec": {"requiredPromises": [{"name": "a"}, "junk", {"version": "v1"}]}}
    ) == {"a"}
