"""The bucket writer against moto's S3 over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from kratix_py.local_platform.s3server import S3Server
from kratix_py.statestores import (
    ConfigurationError,
    DirChange,
    FileChange,
    NotFoundError,
    StateStoreWriter,
    UnreachableError,
    UnsafePathError,
)
from kratix_py.statestores.bucket import PERMISSION_CHECK_KEY, BucketStateStoreWriter


@pytest.fixture
def make_writer(s3_server: S3Server) -> Iterator[Any]:
    writers: list[BucketStateStoreWriter] = []

    def make(bucket: str, **options: Any) -> BucketStateStoreWriter:
        options.setdefault("secret", s3_server.secret_data)
        options.setdefault("insecure", True)
        options.setdefault("max_attempts", 1)
        endpoint = options.pop("endpoint", s3_server.endpoint)
        writer = BucketStateStoreWriter(endpoint, bucket, **options)
        writers.append(writer)
        return writer

    yield make
    for writer in writers:
        writer.close()


def test_writer_satisfies_the_protocol(make_writer: Any, bucket: str) -> None:
    assert isinstance(make_writer(bucket), StateStoreWriter)


def test_writes_land_under_the_prefix(s3_server: S3Server, make_writer: Any, bucket: str) -> None:
    writer = make_writer(bucket, path="/store")
    result = writer.write(
        [
            DirChange("dest/resources/ns/p/r/pipe/5058f", {"a.yaml": b"a", "sub/b.yaml": b"b"}, "wp-a"),
            FileChange("dest/aggregated.yaml", b"agg", "wp-b"),
        ]
    )
    assert result.changed
    assert len(result.version_id) == 64
    assert s3_server.list_objects(bucket) == {
        "store/dest/resources/ns/p/r/pipe/5058f/a.yaml": b"a",
        "store/dest/resources/ns/p/r/pipe/5058f/sub/b.yaml": b"b",
        "store/dest/aggregated.yaml": b"agg",
    }


def test_unchanged_objects_are_not_uploaded_again(s3_server: S3Server, make_writer: Any, bucket: str) -> None:
    writer = make_writer(bucket)
    batch = [DirChange("dest/a", {"same.yaml": b"same", "changes.yaml": b"v1"}, "wp-a")]
    first = writer.write(batch)
    second = writer.write(batch)
    assert first.changed and not second.changed
    assert first.version_id == second.version_id

    third = writer.write([DirChange("dest/a", {"same.yaml": b"same", "changes.yaml": b"v2"}, "wp-a")])

    assert third.changed and third.version_id != first.version_id
    # The bucket is versioned: one version = one upload.
    assert s3_server.version_count(bucket, "dest/a/same.yaml") == 1
    assert s3_server.version_count(bucket, "dest/a/changes.yaml") == 2


def test_stale_objects_are_pruned_and_siblings_kept(
    s3_server: S3Server, make_writer: Any, bucket: str
) -> None:
    writer = make_writer(bucket)
    writer.write(
        [
            DirChange("dest/a", {"keep.yaml": b"1", "stale.yaml": b"2", "deep/stale.yaml": b"3"}, "wp-a"),
            DirChange("dest/a-sibling", {"x.yaml": b"4"}, "wp-b"),
        ]
    )
    writer.write([DirChange("dest/a", {"keep.yaml": b"1"}, "wp-a")])
    assert s3_server.list_objects(bucket) == {"dest/a/keep.yaml": b"1", "dest/a-sibling/x.yaml": b"4"}

    result = writer.write(
        [DirChange("dest/a", None, "wp-a"), FileChange("dest/a-sibling/x.yaml", None, "wp-b")]
    )

    assert result.changed
    assert s3_server.list_objects(bucket) == {}
    assert not writer.write([DirChange("dest/a", None, "wp-a")]).changed


def test_many_objects_in_one_batch(s3_server: S3Server, make_writer: Any, bucket: str) -> None:
    writer = make_writer(bucket, max_workers=4)
    files = {f"obj-{i:03d}.yaml": f"{i}".encode() for i in range(120)}
    writer.write([DirChange("dest/many", files, "wp-many")])
    assert len(s3_server.list_objects(bucket, "dest/many/")) == 120
    writer.write([DirChange("dest/many", {"obj-000.yaml": b"0"}, "wp-many")])
    assert list(s3_server.list_objects(bucket, "dest/many/")) == ["dest/many/obj-000.yaml"]


def test_unsafe_paths_are_rejected_and_nothing_is_written(
    s3_server: S3Server, make_writer: Any, bucket: str
) -> None:
    writer = make_writer(bucket, path="store")
    with pytest.raises(UnsafePathError, match="wp-bad"):
        writer.write(
            [DirChange("dest/ok", {"ok.yaml": b"ok"}, "wp-ok"), DirChange("../escape", {"x": b"x"}, "wp-bad")]
        )
    with pytest.raises(UnsafePathError):
        writer.write([FileChange("/abs.yaml", b"x", "wp-bad")])
    assert s3_server.list_objects(bucket) == {}


def test_check_ready_leaves_nothing_behind(s3_server: S3Server, make_writer: Any, bucket: str) -> None:
    make_writer(bucket, path="store").check_ready()
    client = s3_server.client()
    assert s3_server.list_objects(bucket) == {}
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    versions = client.list_object_versions(Bucket=bucket)
    assert not any(v["Key"].endswith(PERMISSION_CHECK_KEY) for v in versions.get("Versions", []))


def test_missing_bucket_is_a_clear_error(make_writer: Any) -> None:
    writer = make_writer("kratix-no-such-bucket")
    with pytest.raises(NotFoundError, match="'kratix-no-such-bucket' does not exist"):
        writer.check_ready()
    with pytest.raises(NotFoundError, match="does not exist"):
        writer.write([FileChange("x", b"x", "wp")])


def test_unreachable_endpoint_fails_fast(make_writer: Any, s3_server: S3Server) -> None:
    writer = make_writer("kratix-any", endpoint="127.0.0.1:9", connect_timeout=1)
    started = time.monotonic()
    with pytest.raises(UnreachableError, match=r"127\.0\.0\.1:9"):
        writer.check_ready()
    assert time.monotonic() - started < 5


def test_iam_uses_the_default_credential_chain(
    s3_server: S3Server, make_writer: Any, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-env")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-env-secret")
    writer = make_writer(bucket, auth_method="IAM", secret=None)
    writer.check_ready()
    writer.write([FileChange("iam.yaml", b"iam", "wp")])
    assert s3_server.list_objects(bucket) == {"iam.yaml": b"iam"}
    credentials = writer._client._request_signer._credentials
    assert credentials.access_key == "from-env"


def test_access_key_auth_needs_the_secret(make_writer: Any, bucket: str) -> None:
    with pytest.raises(ConfigurationError, match="accessKeyID"):
        make_writer(bucket, secret={})
