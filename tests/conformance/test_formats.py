"""String ``format``s in custom resources: refused with the server's words, or let through.

Each value is created against both servers, so every expectation below is what a real
kube-apiserver answers. Formats the emulator does not check (``email``, ``hostname``, ...) are
covered by the last test: it lets them through, which the real server does for these values.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes.client import ApiException

from .conftest import Kube

CASES: dict[str, tuple[list[str], list[str]]] = {
    # format: (accepted, refused)
    "byte": (["aGVsbG8=", "aGk=", "a+b/", "AAAAAAAA"], ["", "abc", "aGVsbG8", "aGVs-bG8_", "aGk= ", "=AAA"]),
    "date": (["2024-01-02", "2024-02-29", "0000-02-29"], ["2023-02-29", "2024-04-31", "2024-1-02", "24-01-02",
                                                        "2024-01-02T00:00:00Z", "2024-00-10"]),
    "date-time": (["2024-01-02T03:04:05Z", "2024-01-02t03:04:05z", "2024-01-02T03:04:05.123+01:00",
                   "2024-01-02T23:59:59-07:00", "2024-01-02T03:04:05x9Z"],
                  ["2024-01-02 03:04:05", "2024-13-02T03:04:05Z", "2024-01-02T24:00:00Z", "2024-01-02T03:60:00Z",
                   "2024-01-02T03:04:05", "2024-01-02T03:04Z", "yesterday"]),
    "uuid": (["123e4567-e89b-12d3-a456-426614174000", "123E4567E89B12D3A456426614174000"],
             ["123e4567-e89b-12d3-a456-42661417400", "g23e4567-e89b-12d3-a456-426614174000"]),
    "uuid4": (["123e4567-e89b-42d3-a456-426614174000"], ["123e4567-e89b-12d3-a456-426614174000",
                                                         "123e4567-e89b-42d3-c456-426614174000"]),
    "ipv4": (["1.2.3.4", "255.255.255.255", "::ffff:1.2.3.4", "01.2.3.4"], ["1.2.3", "256.1.1.1", "::1", "a.b.c.d"]),
    "ipv6": (["::1", "2001:db8::8a2e:370:7334", "::ffff:1.2.3.4"], ["1.2.3.4", "2001:db8:::1", "fe80::1%eth0"]),
    "cidr": (["10.0.0.0/8", "10.0.0.1/8", "2001:db8::/32", "0.0.0.0/0"],
             ["10.0.0.0", "10.0.0.0/33", "10.0.0.0/255.0.0.0", "2001:db8::/129", "10.0.0.0/+8"]),
    "bsonobjectid": (["5f2d1a3c4b5e6f7a8b9c0d1e", "5F2D1A3C4B5E6F7A8B9C0D1E"], ["5f2d1a3c4b5e6f7a8b9c0d1", "zf2d1a3c4b5e6f7a8b9c0d1e"]),
    "hexcolor": (["#fff", "fff", "#A0b1C2"], ["#ffff", "#ggg", "red"]),
}  # fmt: skip


def _kind(kube: Kube, fmt: str) -> str:
    group = kube.group()
    schema = {
        "type": "object",
        "properties": {
            "spec": {"type": "object", "properties": {"value": {"type": "string", "format": fmt}}}
        },
    }
    kube.create_crd("Sample", group=group, schema=schema)
    return group


def _create(kube: Kube, group: str, name: str, value: str) -> dict[str, Any] | None:
    """None when accepted, else the 422's one cause."""
    body = {
        "apiVersion": f"{group}/v1",
        "kind": "Sample",
        "metadata": {"name": name},
        "spec": {"value": value},
    }
    try:
        kube.custom.create_namespaced_custom_object(group, "v1", kube.namespace, "samples", body)
    except ApiException as error:
        assert error.status == 422, error.body
        [cause] = json.loads(error.body)["details"]["causes"]
        return dict(cause)
    return None


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_a_value_not_of_its_format_is_refused_as_a_real_server_refuses_it(kube: Kube, fmt: str) -> None:
    accepted, refused = CASES[fmt]
    group = _kind(kube, fmt)
    for i, value in enumerate(accepted):
        assert _create(kube, group, f"ok-{i}", value) is None, f"{fmt}: {value!r} should be accepted"
    for i, value in enumerate(refused):
        cause = _create(kube, group, f"bad-{i}", value)
        shown = json.dumps(value)
        assert cause == {
            "reason": "FieldValueTypeInvalid",
            "message": f"Invalid value: {shown}: spec.value in body must be of type {fmt}: {shown}",
            "field": "spec.value",
        }, f"{fmt}: {value!r}"


UNCHECKED = {"email": "a@example.com", "hostname": "my-host.example", "uri": "http://example.com/x",
             "duration": "1h30m", "password": "anything at all", "int32": "not a number", "no-such-format": "x"}  # fmt: skip


@pytest.mark.parametrize("fmt", sorted(UNCHECKED))
def test_formats_not_checked_here_let_their_values_through(kube: Kube, fmt: str) -> None:
    group = _kind(kube, fmt)
    assert _create(kube, group, "value", UNCHECKED[fmt]) is None
