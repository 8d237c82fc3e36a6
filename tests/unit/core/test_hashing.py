"""Spec hashes are the rerun key of every pipeline: they must be stable and match Kratix's."""

from __future__ import annotations

import pytest

from kratix_py.core.hashing import canonical_json, md5_hex, promise_spec_hash, resource_spec_hash, spec_hash

PROMISE_SPEC = {"destinationSelectors": [{"matchLabels": {"env": "dev"}}]}
REQUEST_SPEC = {"size": "small"}
# md5 of the canonical JSON texts, computed by hand:
#   '{"destinationSelectors":[{"matchLabels":{"env":"dev"}}]}' and '{"size":"small"}'
PROMISE_SPEC_MD5 = "954af9927a22d25b44e36b3f93a75295"
REQUEST_SPEC_MD5 = "c2ef384011e18a3545c23409e3e9bed8"


def test_canonical_json_sorts_keys_at_every_level_and_has_no_spaces() -> None:
    value = {"b": 1, "a": {"z": [3, {"y": True, "x": None}], "c": "text"}}
    assert canonical_json(value) == '{"a":{"c":"text","z":[3,{"x":null,"y":true}]},"b":1}'


def test_canonical_json_ignores_insertion_order() -> None:
    assert canonical_json({"a": 1, "b": 2}) == canonical_json({"b": 2, "a": 1})


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (2.0, "2"),
        (1.5, "1.5"),
        (100.0, "100"),
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (0.000001, "0.000001"),
        (0.0, "0"),
    ],
)
def test_floats_are_written_like_go(number: float, text: str) -> None:
    assert canonical_json([number]) == f"[{text}]"


def test_html_characters_are_escaped_like_go_and_unicode_is_kept() -> None:
    assert canonical_json({"k": "<a&b> é"}) == '{"k":"\\u003ca\\u0026b\\u003e é"}'


def test_non_finite_numbers_are_refused() -> None:
    with pytest.raises(ValueError, match="non-finite"):
        canonical_json({"x": float("nan")})


def test_md5_hex_of_the_default_directory_is_the_well_known_group_id() -> None:
    assert md5_hex(".") == "5058f1af8388633f609cadb75a75dc9d"
    assert md5_hex(b".") == md5_hex(".")


def test_promise_spec_hash_is_md5_of_canonical_json() -> None:
    assert promise_spec_hash({"b": 1, "a": "x"}) == "ee0d9126fa9a3ac9850bed8a722d2d11"  # '{"a":"x","b":1}'
    assert promise_spec_hash(PROMISE_SPEC) == PROMISE_SPEC_MD5


def test_a_missing_spec_hashes_as_null_like_go() -> None:
    assert spec_hash(None) == "37a6259cc0c1dae299a7866489dff0bd"  # md5("null")


def test_resource_spec_hash_combines_both_spec_hashes() -> None:
    # md5("954af9...-c2ef38...")
    assert resource_spec_hash(PROMISE_SPEC, REQUEST_SPEC) == "4c77e022b05d1ee9cbb0d5f7b99d46eb"
    assert resource_spec_hash(PROMISE_SPEC, REQUEST_SPEC, dry_run=True) == "801b8bd0dcbd83c36e1bb1dc6b5f1b3b"


def test_any_promise_change_changes_every_resource_hash() -> None:
    changed = {"destinationSelectors": [{"matchLabels": {"env": "prod"}}]}
    assert resource_spec_hash(changed, REQUEST_SPEC) != resource_spec_hash(PROMISE_SPEC, REQUEST_SPEC)
