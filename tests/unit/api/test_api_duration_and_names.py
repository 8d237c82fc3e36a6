"""Go durations and Kubernetes name rules, as Kratix (Go) and the API server apply them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from kratix_py.api.duration import format_duration, parse_duration
from kratix_py.api.promise import GO_DURATION_PATTERN
from kratix_py.api.validation import (
    annotation_keys_error,
    dns1123_label_error,
    dns1123_subdomain_error,
    label_key_error,
    label_value_error,
    labels_error,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", timedelta(0)),
        ("1m", timedelta(minutes=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("10h", timedelta(hours=10)),
        ("1.5h", timedelta(hours=1, minutes=30)),
        (".5s", timedelta(milliseconds=500)),
        ("1.s", timedelta(seconds=1)),
        ("300ms", timedelta(milliseconds=300)),
        ("2us", timedelta(microseconds=2)),
        ("2\u00b5s", timedelta(microseconds=2)),
        ("2\u03bcs", timedelta(microseconds=2)),
        ("1500ns", timedelta(microseconds=1)),  # truncated to timedelta's resolution
        ("1h0m0s", timedelta(hours=1)),
        ("-1m", timedelta(minutes=-1)),
        ("+90s", timedelta(seconds=90)),
    ],
)
def test_parse_go_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "10", "1d", "h", "1h-30m", "1..5s", "1 h", "1e3s", "."])
def test_reject_what_go_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(hours=10), "10h0m0s"),
        (timedelta(minutes=1), "1m0s"),
        (timedelta(hours=1, minutes=30), "1h30m0s"),
        (timedelta(seconds=1.5), "1.5s"),
        (timedelta(milliseconds=300), "300ms"),
        (timedelta(microseconds=7), "7\u00b5s"),
        (timedelta(minutes=-2), "-2m0s"),
    ],
)
def test_format_like_go(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
    assert parse_duration(text) == value


@pytest.mark.parametrize("name", ["a", "my-pipeline", "p1", "a" * 63])
def test_valid_dns_labels(name: str) -> None:
    assert dns1123_label_error(name) is None


@pytest.mark.parametrize("name", ["", "A", "-a", "a-", "a.b", "a_b", "a" * 64])
def test_invalid_dns_labels(name: str) -> None:
    assert dns1123_label_error(name) is not None


def test_dns_subdomains_allow_dots() -> None:
    assert dns1123_subdomain_error("redis.marketplace.kratix.io") is None
    assert dns1123_subdomain_error("a..b") is not None
    assert dns1123_subdomain_error("a" * 254) is not None


@pytest.mark.parametrize("key", ["app", "kratix.io/promise-name", "a.b/C_d.e", "x" * 63])
def test_valid_label_keys(key: str) -> None:
    assert label_key_error(key) is None


@pytest.mark.parametrize("key", ["", "/a", "a/", "Bad_Prefix/a", "a b", "-a", "x" * 64, "a/b/c"])
def test_invalid_label_keys(key: str) -> None:
    assert label_key_error(key) is not None


def test_label_values() -> None:
    assert label_value_error("") is None
    assert label_value_error("v1.0_beta-2") is None
    assert label_value_error("has space") is not None
    assert label_value_error("x" * 64) is not None
    assert label_value_error("*") is not None


def test_map_checks_report_the_first_problem_in_key_order() -> None:
    problem = labels_error({"z": "bad value!", "a": "bad value?"})
    assert problem is not None and "'bad value?'" in problem
    assert labels_error({"ok": "yes"}) is None
    annotation_problem = annotation_keys_error({"ok": "any value at all!", "bad key": "x"})
    assert annotation_problem is not None and annotation_problem.startswith("annotation key")


@pytest.mark.parametrize(
    "text", ["1m", "1h30m", "1.5h", ".5h", "90s", "10h0m0s", "2\u00b5s", "10", "1d", "-5m", ""]
)
def test_the_crd_pattern_accepts_exactly_the_non_negative_durations_the_parser_accepts(text: str) -> None:
    try:
        parseable = parse_duration(text) >= timedelta(0) and text != "0"
    except ValueError:
        parseable = False
    assert (re.fullmatch(GO_DURATION_PATTERN, text) is not None) == parseable
