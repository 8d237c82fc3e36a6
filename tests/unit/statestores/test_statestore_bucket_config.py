"""Bucket writer configuration and error translation (no network: clients are only built)."""

from __future__ import annotations

import botocore.exceptions
import pytest

from kratix_py.statestores.bucket import BucketStateStoreWriter
from kratix_py.statestores.errors import (
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    PermissionDeniedError,
    StateStoreError,
    TLSVerificationError,
    UnreachableError,
)

SECRET = {"accessKeyID": "AKIAEXAMPLE", "secretAccessKey": "very-secret-key"}


def writer(**options: object) -> BucketStateStoreWriter:
    return BucketStateStoreWriter("minio.local:9000", "kratix", secret=SECRET, **options)  # type: ignore[arg-type]


def client_error(code: str, status: int, message: str = "boom") -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PutObject",
    )


@pytest.mark.parametrize("endpoint", ["http://minio:9000", "minio:9000/path", ""])
def test_endpoint_must_be_host_and_port(endpoint: str) -> None:
    with pytest.raises(ConfigurationError, match="host\\[:port\\]"):
        BucketStateStoreWriter(endpoint, "kratix", secret=SECRET)


def test_access_key_auth_needs_both_keys() -> None:
    with pytest.raises(ConfigurationError, match="secretAccessKey"):
        BucketStateStoreWriter("minio:9000", "kratix", secret={"accessKeyID": "a"})
    with pytest.raises(ConfigurationError, match="unknown authMethod"):
        BucketStateStoreWriter("minio:9000", "kratix", auth_method="token")


def test_insecure_selects_plain_http_and_path_style() -> None:
    assert writer(insecure=True)._client.meta.endpoint_url == "http://minio.local:9000"
    assert writer()._client.meta.endpoint_url == "https://minio.local:9000"
    assert writer()._client.meta.config.s3["addressing_style"] == "path"


def test_from_spec_reads_kratix_field_names() -> None:
    built = BucketStateStoreWriter.from_spec(
        {"endpoint": "s3.local:9000", "bucketName": "b", "path": "/dest-store", "insecure": True}, SECRET
    )
    assert (built.endpoint, built.bucket, built.prefix, built.insecure) == (
        "s3.local:9000",
        "b",
        "dest-store",
        True,
    )


@pytest.mark.parametrize(
    ("error", "expected", "words"),
    [
        (client_error("NoSuchBucket", 404), NotFoundError, "does not exist"),
        (client_error("InvalidAccessKeyId", 403), AuthenticationError, "accessKeyID"),
        (client_error("SignatureDoesNotMatch", 403, "sig very-secret-key"), AuthenticationError, "Secret"),
        (client_error("AccessDenied", 403), PermissionDeniedError, "may not write"),
        (client_error("InternalError", 500), StateStoreError, "InternalError"),
        (botocore.exceptions.EndpointConnectionError(endpoint_url="http://x"), UnreachableError, "endpoint"),
        (botocore.exceptions.ConnectTimeoutError(endpoint_url="http://x"), UnreachableError, "network"),
        (
            botocore.exceptions.SSLError(endpoint_url="https://x", error="bad cert"),
            TLSVerificationError,
            "CA",
        ),
        (botocore.exceptions.NoCredentialsError(), AuthenticationError, "IAM"),
    ],
)
def test_errors_are_typed_and_never_contain_the_secret(
    error: Exception, expected: type[StateStoreError], words: str
) -> None:
    translated = writer()._error("cannot write", error)
    assert type(translated) is expected
    assert words in str(translated)
    assert "very-secret-key" not in str(translated)
    assert str(translated).startswith("cannot write: ")
