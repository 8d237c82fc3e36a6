"""The BucketStateStore writer (S3 API: AWS, MinIO, moto...), with boto3.

A batch is planned exactly as for Git (:mod:`.plan`), then applied object by object:

* objects whose MD5 equals the stored ETag are not uploaded again (Kratix does the same), so
  a reconcile that changes nothing costs one listing per directory and no writes;
* new and changed objects are uploaded first (in parallel), and only then are stale objects
  deleted, so a failure half-way leaves extra files rather than a hole that the GitOps agent
  would prune from the destination;
* ``version_id`` is a SHA-256 over the sorted ``(key, etag)`` pairs of the touched directories
  after the write: the same desired state always gives the same version.

Readiness (:meth:`BucketStateStoreWriter.check_ready`) follows Kratix: start and abort a
multipart upload of ``<path>/.kratix-write-permission-check``, which proves write permission
and leaves nothing behind. Errors are typed (missing bucket, bad credentials, unreachable
endpoint, untrusted TLS) and botocore's timeouts and retries are kept short so a broken store
is reported in seconds.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, Self

import boto3
import botocore.exceptions
from botocore.config import Config

from kratix_py.contract import is_within, join_under, normalise_prefix

from .base import Change, WriteResult
from .errors import (
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    PermissionDeniedError,
    StateStoreError,
    TLSVerificationError,
    UnreachableError,
)
from .plan import plan_ops, touched_roots

__all__ = ["PERMISSION_CHECK_KEY", "BucketStateStoreWriter"]

PERMISSION_CHECK_KEY = ".kratix-write-permission-check"
_DELETE_CHUNK = 1000  # S3's DeleteObjects limit
_AUTH_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
}

# One botocore session for all access-key writers: a session caches the parsed S3 service model, so
# creating a client from it takes milliseconds instead of ~0.1 s. Credentials are passed per
# client, so sharing the session shares no secrets; client creation is serialised because
# sessions are not thread-safe.
_SESSION: boto3.session.Session | None = None
_SESSION_GUARD = threading.Lock()

_BUCKET_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_BUCKET_LOCKS_GUARD = threading.Lock()


def _lock_for(endpoint: str, bucket: str) -> threading.Lock:
    with _BUCKET_LOCKS_GUARD:
        return _BUCKET_LOCKS.setdefault((endpoint, bucket), threading.Lock())


class BucketStateStoreWriter:
    """Writes batches under ``path`` in one bucket of an S3-compatible endpoint."""

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        *,
        path: str = "",
        insecure: bool = False,
        auth_method: str = "accessKey",
        secret: Mapping[str, str | bytes] | None = None,
        region: str | None = None,
        use_dual_stack: bool = False,
        ca_bundle: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        max_attempts: int = 3,
        max_workers: int = 4,
    ) -> None:
        if not endpoint or "://" in endpoint or "/" in endpoint:
            raise ConfigurationError(
                f"endpoint {endpoint!r} must be host[:port] without a scheme; set insecure for plain HTTP"
            )
        if not bucket:
            raise ConfigurationError("bucketName is empty")
        self.endpoint = endpoint
        self.bucket = bucket
        self.prefix = normalise_prefix(path, what="state store path")
        self.insecure = insecure
        self.max_workers = max(1, max_workers)
        self._secrets: list[str] = []
        client_args: dict[str, Any] = {}
        if auth_method == "accessKey":
            data = {k: v.decode() if isinstance(v, bytes) else str(v) for k, v in (secret or {}).items()}
            missing = [key for key in ("accessKeyID", "secretAccessKey") if not data.get(key)]
            if missing:
                raise ConfigurationError(
                    f"the state store Secret is missing {', '.join(missing)} (needed for authMethod accessKey)"
                )
            client_args = {
                "aws_access_key_id": data["accessKeyID"],
                "aws_secret_access_key": data["secretAccessKey"],
            }
            self._secrets.append(data["secretAccessKey"])
        elif auth_method != "IAM":
            raise ConfigurationError(f"unknown authMethod {auth_method!r}; use accessKey or IAM")
        host = endpoint.split(":")[0].lower()
        is_aws = host.endswith(".amazonaws.com")
        config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"max_attempts": max(1, max_attempts), "mode": "standard"},
            max_pool_connections=max(10, self.max_workers),
            # MinIO, moto and most self-hosted servers only do path-style addressing.
            s3={
                "addressing_style": "virtual" if is_aws else "path",
                "use_dualstack_endpoint": use_dual_stack,
            },
        )
        self._client = _new_client(
            endpoint_url=f"{'http' if insecure else 'https'}://{endpoint}",
            region=region,
            config=config,
            verify=ca_bundle if ca_bundle else True,
            **client_args,
        )
        self._lock = _lock_for(endpoint, bucket)

    @classmethod
    def from_spec(
        cls, spec: Mapping[str, Any], secret: Mapping[str, str | bytes] | None = None, **options: Any
    ) -> BucketStateStoreWriter:
        """Build from a BucketStateStore ``spec`` (camelCase keys, Kratix defaults)."""
        return cls(
            spec["endpoint"],
            spec["bucketName"],
            path=spec.get("path") or "",
            insecure=bool(spec.get("insecure", False)),
            auth_method=spec.get("authMethod") or "accessKey",
            secret=secret,
            use_dual_stack=bool(spec.get("useDualStack", False)),
            **options,
        )

    # ------------------------------------------------------------------ public API
    def write(
        self, changes: Sequence[Change], *, before_push: Callable[[], None] | None = None
    ) -> WriteResult:
        """Upload what changed, then delete what the batch no longer wants.

        ``before_push`` is called before the first upload or delete and may raise to stop them.
        """
        roots = touched_roots(changes, self.prefix)  # validates every path before any I/O
        plan_ops(changes, self.prefix, ())
        with self._lock:
            existing = self._list(roots)
            ops = plan_ops(changes, self.prefix, existing.keys())
            uploads: list[tuple[str, bytes, str]] = []
            deletes: list[str] = []
            final = dict(existing)
            for op in ops:
                if op.content is None:
                    if op.path in existing:
                        deletes.append(op.path)
                    final.pop(op.path, None)
                    continue
                md5 = hashlib.md5(op.content, usedforsecurity=False).hexdigest()
                final[op.path] = md5
                if existing.get(op.path) != md5:
                    uploads.append((op.path, op.content, md5))
            if before_push is not None and (uploads or deletes):
                before_push()
            self._upload(uploads)
            self._delete(deletes)
            return WriteResult(version_id=_version(roots, final), changed=bool(uploads or deletes))

    def check_ready(self) -> None:
        """Start and abort a multipart upload of ``<path>/.kratix-write-permission-check``."""
        key = join_under(self.prefix, PERMISSION_CHECK_KEY)
        what = f"cannot write to bucket {self.bucket!r} at {self.endpoint}"
        try:
            upload = self._client.create_multipart_upload(Bucket=self.bucket, Key=key)
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload["UploadId"])
        except Exception as exc:
            raise self._error(what, exc) from None

    def close(self) -> None:
        """Close the client's connection pool."""
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ steps
    def _list(self, roots: Iterable[str]) -> dict[str, str]:
        """``{key: md5 etag}`` of objects at or under each root."""
        found: dict[str, str] = {}
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for root in roots:
                for page in paginator.paginate(Bucket=self.bucket, Prefix=root):
                    for item in page.get("Contents", []):
                        if is_within(item["Key"], root):
                            found[item["Key"]] = item.get("ETag", "").strip('"')
        except Exception as exc:
            raise self._error(f"cannot list bucket {self.bucket!r} at {self.endpoint}", exc) from None
        return found

    def _upload(self, uploads: list[tuple[str, bytes, str]]) -> None:
        def put(item: tuple[str, bytes, str]) -> None:
            key, content, md5 = item
            digest = base64.b64encode(bytes.fromhex(md5)).decode()
            self._client.put_object(Bucket=self.bucket, Key=key, Body=content, ContentMD5=digest)

        if not uploads:
            return
        try:
            if len(uploads) == 1 or self.max_workers == 1:
                for item in uploads:
                    put(item)
            else:
                with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
                    list(pool.map(put, uploads))
        except Exception as exc:
            raise self._error(f"cannot upload to bucket {self.bucket!r} at {self.endpoint}", exc) from None

    def _delete(self, keys: list[str]) -> None:
        what = f"cannot delete from bucket {self.bucket!r} at {self.endpoint}"
        for start in range(0, len(keys), _DELETE_CHUNK):
            chunk = keys[start : start + _DELETE_CHUNK]
            try:
                response = self._client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True}
                )
            except Exception as exc:
                raise self._error(what, exc) from None
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                raise StateStoreError(
                    f"{what}: {len(errors)} object(s) not deleted, e.g. {first.get('Key')!r}:"
                    f" {first.get('Code')} {first.get('Message')}"
                )

    def _error(self, what: str, exc: Exception) -> StateStoreError:
        """Translate a boto3/botocore exception into a typed error without credentials."""
        error_type: type[StateStoreError] = StateStoreError
        detail = str(exc)
        if isinstance(exc, StateStoreError):
            return exc
        if isinstance(exc, botocore.exceptions.ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            detail = f"{code}: {error.get('Message') or exc}"
            if code in ("NoSuchBucket", "NotFound") or (status == 404 and code != "NoSuchKey"):
                error_type = NotFoundError
                detail = f"bucket {self.bucket!r} does not exist ({code}); create it or fix bucketName"
            elif code in _AUTH_CODES:
                error_type = AuthenticationError
                detail += "; check accessKeyID/secretAccessKey in the state store Secret"
            elif code == "AccessDenied" or status == 403:
                error_type = PermissionDeniedError
                detail += "; the credentials may not write to this bucket/path"
        elif isinstance(exc, botocore.exceptions.SSLError):
            error_type = TLSVerificationError
            detail += "; trust the server's CA (ca_bundle), or set insecure for a plain-HTTP endpoint"
        elif isinstance(
            exc,
            botocore.exceptions.EndpointConnectionError
            | botocore.exceptions.ConnectTimeoutError
            | botocore.exceptions.ReadTimeoutError
            | botocore.exceptions.ConnectionClosedError,
        ):
            error_type = UnreachableError
            detail += "; check endpoint (host:port), insecure (http vs https) and the network"
        elif isinstance(
            exc, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError
        ):
            error_type = AuthenticationError
            detail += "; authMethod IAM found no credentials in the environment"
        message = f"{what}: {detail}"
        for secret in self._secrets:
            message = message.replace(secret, "***")
        return error_type(message)


def _new_client(*, region: str | None, **kwargs: Any) -> Any:
    global _SESSION
    if "aws_access_key_id" not in kwargs:
        # IAM: a session caches the credentials it resolves; a fresh one per writer follows
        # the environment (and refreshes role credentials) on its own.
        session = boto3.session.Session()
        return session.client("s3", region_name=region or session.region_name or "us-east-1", **kwargs)
    with _SESSION_GUARD:
        if _SESSION is None:
            _SESSION = boto3.session.Session()
        return _SESSION.client("s3", region_name=region or _SESSION.region_name or "us-east-1", **kwargs)


def _version(roots: Sequence[str], state: Mapping[str, str]) -> str:
    pairs = sorted((key, etag) for key, etag in state.items() if any(is_within(key, r) for r in roots))
    payload = json.dumps({"roots": sorted(roots), "objects": pairs}, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()
