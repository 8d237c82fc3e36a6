"""An S3 API on 127.0.0.1 for tests: moto's threaded server on a random port.

Why a server and not ``moto.mock_aws``: the bucket writer must be exercised through real HTTP
(endpoints, timeouts, the ``insecure`` flag), exactly as it talks to MinIO or AWS.

moto keeps its state per *process*, not per server: two ``S3Server`` instances in one process
see the same buckets. Use distinct bucket names per test, or :meth:`S3Server.reset`.
"""

from __future__ import annotations

import logging
import socket
import urllib.request
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

__all__ = ["S3Server"]


class S3Server:
    """moto's S3 on ``127.0.0.1:<port>`` (a free one by default); any access key is accepted."""

    access_key_id = "testing"
    secret_access_key = "testing"
    region = "us-east-1"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._wanted_port = port  # 0 picks a free one
        self._server: ThreadedMotoServer | None = None
        self._port: int | None = None
        self._client: Any = None

    def start(self) -> Self:
        from moto.server import ThreadedMotoServer

        if self._server is not None:
            raise RuntimeError("S3Server already started")
        werkzeug_log = logging.getLogger("werkzeug")
        if werkzeug_log.level == logging.NOTSET:
            # moto's handler logs every request through werkzeug; keep test output readable
            # unless the caller configured that logger on purpose.
            werkzeug_log.setLevel(logging.WARNING)
        if self._wanted_port:
            _check_free(self.host, self._wanted_port)
        server = ThreadedMotoServer(ip_address=self.host, port=self._wanted_port, verbose=False)
        server.start()
        self._server = server
        self._port = server.get_host_and_port()[1]
        return self

    def stop(self) -> None:
        """Stop serving and release the port (moto's own stop leaves the socket open)."""
        if self._server is None:
            return
        wsgi = self._server._server
        self._server.stop()
        if wsgi is not None:
            wsgi.server_close()
        self._server = None
        self._port = None
        self._client = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("S3Server is not started")
        return self._port

    @property
    def endpoint(self) -> str:
        """``host:port``, the form a BucketStateStore's ``spec.endpoint`` takes."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    @property
    def secret_data(self) -> dict[str, str]:
        """Credentials under the key names a BucketStateStore Secret uses."""
        return {"accessKeyID": self.access_key_id, "secretAccessKey": self.secret_access_key}

    def client(self) -> Any:
        """A boto3 S3 client for this server (path-style addressing), created once and reused."""
        import boto3
        from botocore.config import Config

        if self._client is not None:
            return self._client
        self._client = boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name=self.region,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )
        return self._client

    def create_bucket(self, name: str, *, versioned: bool = False) -> None:
        """Create a bucket; ``versioned`` keeps every upload, so tests can count writes."""
        client = self.client()
        client.create_bucket(Bucket=name)
        if versioned:
            client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})

    def list_objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        """Every object under ``prefix`` as ``{key: content}``."""
        client = self.client()
        objects: dict[str, bytes] = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                objects[item["Key"]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        return objects

    def version_count(self, bucket: str, key: str) -> int:
        """How many times ``key`` was written to a versioned bucket (delete markers excluded)."""
        response = self.client().list_object_versions(Bucket=bucket, Prefix=key)
        return sum(1 for v in response.get("Versions", []) if v["Key"] == key)

    def reset(self) -> None:
        """Drop every bucket and object in this process's moto state."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


def _check_free(host: str, port: int) -> None:
    """Fail now if ``port`` is taken: moto binds in its own thread and would wait forever instead."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise OSError(error.errno, f"cannot serve S3 on {host}:{port}: {error.strerror}") from None
