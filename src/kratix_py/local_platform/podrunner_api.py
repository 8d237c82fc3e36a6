"""The few Kubernetes API calls the pod runner makes, through the official client's ApiClient.

Objects stay plain JSON dicts: the runner copies pod templates verbatim (unknown fields included)
and writes whole statuses, and skipping model (de)serialisation keeps fast-mode benchmarks about
the control plane rather than about the client. Status writes are JSON merge patches of the whole
``status``, so lists such as ``conditions`` are replaced as a unit.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import kubernetes.client
from kubernetes.watch.watch import iter_resp_lines

Json = dict[str, Any]

_MERGE_PATCH = "application/merge-patch+json"


class ApiError(Exception):
    """A non-2xx answer; ``status`` is the HTTP code (0 when the server could not be reached)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class KubeApi:
    def __init__(
        self,
        api_url: str,
        *,
        pool_size: int = 16,
        configuration: kubernetes.client.Configuration | None = None,
    ) -> None:
        """``configuration``: credentials and TLS for a real API server (default: plain HTTP, no auth)."""
        if configuration is None:
            configuration = kubernetes.client.Configuration()
        configuration.host = api_url.rstrip("/")
        configuration.connection_pool_maxsize = pool_size
        self.url = configuration.host
        self._client = kubernetes.client.ApiClient(configuration)
        self._watch_lock = threading.Lock()
        self._watch_response: Any = None
        self._closed = False

    def close(self) -> None:
        self._closed = True
        self.interrupt_watch()
        self._client.close()

    # --- plumbing -----------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, Any]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float | tuple[float, float] = 30,
        stream: bool = False,
    ) -> Any:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        request = self._client.param_serialize(
            method, path, query_params=query, header_params=headers, body=body
        )
        try:
            response = self._client.call_api(*request, _request_timeout=timeout)
        except Exception as error:  # urllib3 errors: connection refused, reset, timeout
            raise ApiError(0, f"{method} {path}: {error}") from error
        if stream and 200 <= response.status < 300:
            return response.response
        data = response.read()
        if not 200 <= response.status < 300:
            raise ApiError(response.status, f"{method} {path}: {data[:500].decode(errors='replace')}")
        return json.loads(data) if data and data.strip().startswith(b"{") else None

    def _get_or_none(self, path: str) -> Json | None:
        try:
            result: Json | None = self._call("GET", path)
            return result
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    # --- Jobs -----------------------------------------------------------------------------------

    def list_jobs(self) -> tuple[list[Json], str]:
        return self.list_path("/apis/batch/v1/jobs")

    def watch_jobs(self, resource_version: str, timeout_seconds: int) -> Iterator[Json]:
        return self.watch_path("/apis/batch/v1/jobs", resource_version, timeout_seconds)

    def list_path(self, path: str) -> tuple[list[Json], str]:
        """Every item of the collection at ``path`` and the list's resourceVersion."""
        result = self._call("GET", path, timeout=60)
        return list(result.get("items") or []), str((result.get("metadata") or {}).get("resourceVersion", ""))

    def watch_path(self, path: str, resource_version: str, timeout_seconds: int) -> Iterator[Json]:
        """Watch events (``{"type", "object"}``) from ``resource_version``; :meth:`interrupt_watch` ends it."""
        query: list[tuple[str, Any]] = [
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(timeout_seconds)),
        ]
        if resource_version:
            query.append(("resourceVersion", resource_version))
        response = self._call("GET", path, query=query, stream=True, timeout=(10, timeout_seconds + 15))
        with self._watch_lock:
            if self._closed:
                response.release_conn()
                return
            self._watch_response = response
        try:
            for line in iter_resp_lines(response):
                if line.strip():
                    yield json.loads(line)
        finally:
            with self._watch_lock:
                self._watch_response = None
            response.release_conn()

    def interrupt_watch(self) -> None:
        """Make a blocked watch read return now (from another thread)."""
        with self._watch_lock:
            response = self._watch_response
        if response is not None:
            try:
                # urllib3 >= 2.3 unblocks a read in another thread; older ones only close the socket.
                if hasattr(response, "shutdown"):
                    response.shutdown()
                response.close()
            except Exception:  # the stream is going away either way
                pass

    def get_job(self, namespace: str, name: str) -> Json | None:
        return self._get_or_none(f"/apis/batch/v1/namespaces/{quote(namespace)}/jobs/{quote(name)}")

    def patch_job_status(self, namespace: str, name: str, status: Json) -> None:
        path = f"/apis/batch/v1/namespaces/{quote(namespace)}/jobs/{quote(name)}/status"
        self._call("PATCH", path, body={"status": status}, content_type=_MERGE_PATCH)

    # --- Pods -----------------------------------------------------------------------------------

    def create_pod(self, namespace: str, body: Json) -> Json:
        result: Json = self._call("POST", f"/api/v1/namespaces/{quote(namespace)}/pods", body=body)
        return result

    def delete_pod(self, namespace: str, name: str) -> None:
        try:
            self._call("DELETE", f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(name)}")
        except ApiError as error:
            if error.status != 404:
                raise

    def patch_pod_status(self, namespace: str, name: str, status: Json) -> None:
        path = f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(name)}/status"
        self._call("PATCH", path, body={"status": status}, content_type=_MERGE_PATCH)

    def put_log(self, namespace: str, pod: str, container: str, text: str) -> None:
        """Hand a container's log to the emulator, which serves it as ``pods/log``."""
        path = f"/_emulator/logs/{quote(namespace)}/{quote(pod)}/{quote(container)}"
        self._call("PUT", path, body=text, content_type="text/plain; charset=utf-8")

    # --- what pods refer to -----------------------------------------------------------------------

    def get_configmap(self, namespace: str, name: str) -> Json | None:
        return self._get_or_none(f"/api/v1/namespaces/{quote(namespace)}/configmaps/{quote(name)}")

    def get_secret(self, namespace: str, name: str) -> Json | None:
        return self._get_or_none(f"/api/v1/namespaces/{quote(namespace)}/secrets/{quote(name)}")
