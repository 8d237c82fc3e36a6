"""Secret values are masked in log text before it can reach a status or an Event."""

from __future__ import annotations

import base64

from kratix_py.core.redact import SecretReference, mask, referenced_values, secret_data, secret_references

POD_SPEC = {
    "initContainers": [
        {"name": "reader"},
        {
            "name": "main",
            "env": [
                {"name": "PLAIN", "value": "not secret"},
                {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                {"name": "CONFIG", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "x"}}},
            ],
            "envFrom": [{"secretRef": {"name": "api-token"}}, {"configMapRef": {"name": "cm"}}],
        },
    ],
    "containers": [
        {"name": "status-writer", "env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "db"}}}]}
    ],
    "volumes": [
        {"name": "certs", "secret": {"secretName": "tls"}},
        {
            "name": "both",
            "projected": {"sources": [{"secret": {"name": "extra"}}, {"configMap": {"name": "c"}}]},
        },
    ],
}


def _secret(**values: str) -> dict[str, object]:
    return {"data": {key: base64.b64encode(value.encode()).decode() for key, value in values.items()}}


def test_every_secret_the_pod_reads_is_found_once() -> None:
    assert secret_references(POD_SPEC) == [
        SecretReference("api-token"),
        SecretReference("db"),
        SecretReference("db", "password"),
        SecretReference("extra"),
        SecretReference("tls"),
    ]
    assert secret_references({}) == []


def test_values_come_from_data_and_string_data_of_every_key() -> None:
    secrets = {
        "db": {**_secret(password="hunter2-long", user="admin"), "stringData": {"dsn": "pg://x"}},
        "api-token": _secret(token="tok-123456"),
    }
    # One key is referenced, but every key of that Secret is masked: they are all secret.
    assert referenced_values([SecretReference("db", "password"), SecretReference("absent")], secrets) == [
        "admin",
        "hunter2-long",
        "pg://x",
    ]
    assert secret_data({"data": {"bad": "not base64!"}}) == {}


def test_mask_replaces_values_in_every_form_a_log_shows_them() -> None:
    password = "s3cr3t/p@ss+word"
    key = "-----BEGIN KEY-----\nAAAAline1\nBBBBline2\n-----END KEY-----\n"
    log = (
        f"connecting with {password}\n"
        f"encoded {base64.b64encode(password.encode()).decode()}\n"
        "url-quoted s3cr3t%2Fp%40ss%2Bword\n"
        "key line AAAAline1 and BBBBline2\n"
    )
    masked = mask(log, [password, key])
    assert "s3cr3t" not in masked and "line1" not in masked and "line2" not in masked
    assert masked.count("***") == 5


def test_a_value_that_contains_another_is_masked_whole() -> None:
    assert mask("token=abcdefgh-123", ["abcdefgh", "abcdefgh-123"]) == "token=***"


def test_short_values_are_masked_only_where_they_stand_alone() -> None:
    assert mask("pin 42 in 4242 and x42y", ["42"]) == "pin *** in 4242 and x42y"
    assert mask("nothing to hide", []) == "nothing to hide"
