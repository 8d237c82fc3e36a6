"""The test S3 server is moto over real HTTP on a random 127.0.0.1 port."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config

from kratix_py.local_platform.s3server import S3Server


@pytest.fixture(scope="module")
def server() -> Iterator[S3Server]:
    with S3Server() as s3:
        yield s3


def test_put_and_list_through_boto3(server: S3Server) -> None:
    server.create_bucket("s3server-put")
    client = boto3.client(
        "s3",
        endpoint_url=f"http://{server.endpoint}",
        aws_access_key_id="anything",
        aws_secret_access_key="anything",
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )
    client.put_object(Bucket="s3server-put", Key="dest/a.yaml", Body=b"a")
    client.put_object(Bucket="s3server-put", Key="dest/sub/b.yaml", Body=b"b")
    client.put_object(Bucket="s3server-put", Key="other/c.yaml", Body=b"c")

    assert server.list_objects("s3server-put") == {
        "dest/a.yaml": b"a",
        "dest/sub/b.yaml": b"b",
        "other/c.yaml": b"c",
    }
    assert server.list_objects("s3server-put", prefix="dest/") == {
        "dest/a.yaml": b"a",
        "dest/sub/b.yaml": b"b",
    }
    assert server.endpoint.startswith("127.0.0.1:")
    assert server.url == f"http://{server.endpoint}"


def test_versioned_bucket_counts_writes(server: S3Server) -> None:
    server.create_bucket("s3server-versions", versioned=True)
    client = server.client()
    for body in (b"1", b"2", b"3"):
        client.put_object(Bucket="s3server-versions", Key="k", Body=body)
    assert server.version_count("s3server-versions", "k") == 3
    assert server.version_count("s3server-versions", "missing") == 0


def test_stop_releases_the_port() -> None:
    s3 = S3Server().start()
    port = s3.port
    s3.stop()
    with socket.socket() as sock, pytest.raises(OSError):
        sock.settimeout(1)
        sock.connect(("127.0.0.1", port))
    s3.stop()  # idempotent
