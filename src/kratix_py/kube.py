"""The one place that talks to the Kubernetes API.

A thin, typed layer over the official client's transport: objects are plain dicts (validated into
pydantic models by the callers that read kratix objects), resources are named by
:class:`Resource`, and API errors become :class:`KubeError` with the server's own message, so that
callers can turn them into conditions a person can act on.
"""

from __future__ import annotations

import builtins
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import kubernetes
import urllib3
from kubernetes.client.exceptions import ApiException

log = logging.getLogger(__name__)

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


@dataclass(frozen=True)
class Index:
    """A lookup by a value computed from each object (client-go's Indexers), e.g. the request a
    HealthRecord names: a cached kind keeps it up to date; otherwise the kind is listed and filtered."""

    name: str
    value_of: Callable[[Mapping[str, Any]], str | None]


@dataclass(frozen=True)
class Resource:
    """A kind of object the API serves: group (``""`` for core), version, plural, scope, kind."""

    group: str
    version: str
    plural: str
    namespaced: bool = True
    kind: str = ""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace)}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{quote(name)}"
        if subresource:
            base += f"/{subresource}"
        return base


# Built-in resources kratix-py uses. Kratix kinds live in kratix_py.api.
NAMESPACES = Resource("", "v1", "namespaces", namespaced=False, kind="Namespace")
CONFIGMAPS = Resource("", "v1", "configmaps", kind="ConfigMap")
SECRETS = Resource("", "v1", "secrets", kind="Secret")
SERVICEACCOUNTS = Resource("", "v1", "serviceaccounts", kind="ServiceAccount")
EVENTS = Resource("", "v1", "events", kind="Event")
PODS = Resource("", "v1", "pods", kind="Pod")
JOBS = Resource("batch", "v1", "jobs", kind="Job")
ROLES = Resource("rbac.authorization.k8s.io", "v1", "roles", kind="Role")
ROLEBINDINGS = Resource("rbac.authorization.k8s.io", "v1", "rolebindings", kind="RoleBinding")
CLUSTERROLES = Resource(
    "rbac.authorization.k8s.io", "v1", "clusterroles", namespaced=False, kind="ClusterRole"
)
CLUSTERROLEBINDINGS = Resource(
    "rbac.authorization.k8s.io", "v1", "clusterrolebindings", namespaced=False, kind="ClusterRoleBinding"
)
CRDS = Resource(
    "apiextensions.k8s.io",
    "v1",
    "customresourcedefinitions",
    namespaced=False,
    kind="CustomResourceDefinition",
)


class KubeError(Exception):
    """An API call failed; ``status`` is the HTTP code (0 when the server could not be reached)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409

    @property
    def too_large(self) -> bool:
        """The object (or the request) is bigger than the API server or etcd takes.

        kube-apiserver answers 413 for a body over 3 MiB, and passes etcd's refusal of an object
        over 1.5 MiB (2 MiB for its gRPC limit) on as a 500 with etcd's words.
        """
        if self.status == 413:
            return True
        return self.status == 500 and (
            "request is too large" in self.message or "ResourceExhausted" in self.message
        )

    @classmethod
    def from_answer(cls, status: int, reason: str | None, body: bytes) -> KubeError:
        """From an error answer: the API's Status message and reason when the body is one."""
        message, kind = str(reason or ""), ""
        if body:
            try:
                decoded = json.loads(body)
                message = decoded.get("message") or message
                kind = decoded.get("reason") or ""
            except (ValueError, AttributeError):
                message = body.decode("utf-8", "replace")[:500]
        return cls(int(status), kind, message)

    @classmethod
    def from_api_exception(cls, error: ApiException) -> KubeError:
        message = str(error.reason or "")
        reason = ""
        if error.body:
            try:
                body = json.loads(error.body)
                message = body.get("message") or message
                reason = body.get("reason") or ""
            except (ValueError, AttributeError):
                message = str(error.body)[:500]
        return cls(int(error.status or 0), reason, message)


def load_api_client(kubeconfig: str | None = None) -> kubernetes.client.ApiClient:
    """An ApiClient from ``kubeconfig``, ``$KUBECONFIG``/``~/.kube/config``, or the in-cluster account."""
    path = kubeconfig or os.environ.get("KUBECONFIG")
    if path:
        return kubernetes.config.new_client_from_config(config_file=path)
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        configuration = kubernetes.client.Configuration()
        kubernetes.config.load_incluster_config(client_configuration=configuration)
        return kubernetes.client.ApiClient(configuration)
    return kubernetes.config.new_client_from_config()


RequestHook = Callable[[str, int], None]
"""Called after every API call with the verb (get, list, create, update, patch, delete) and the
HTTP status (0 when the server could not be reached): the operator counts them for its metrics."""
WriteFence = Callable[[], None]
"""Called before every write; raises to refuse it (a replica that lost its Lease must not write)."""

_AUTH_REFRESH_SECONDS = 60.0
"""How long a bearer token read from the client configuration is reused (a 401 refreshes it at once)."""

_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}

THROTTLE_RETRIES = 5
"""How often one call is sent again after HTTP 429. A real API server answers 429 before it does
anything (priority and fairness, or "storage is (re)initializing" while the watch cache of a kind
- at start-up, or of a CRD just created - is not ready yet), so any verb may be sent again."""
_THROTTLE_MAX_WAIT = 10.0
"""The longest wait for one retry, whatever Retry-After asks: a call should fail within a minute."""


class Kube:
    """Get, list, create, patch and delete objects of any :class:`Resource` as dicts."""

    def __init__(
        self,
        api_client: kubernetes.client.ApiClient,
        *,
        field_manager: str = "kratix-py",
        on_request: RequestHook | None = None,
        fence: WriteFence | None = None,
        throttle_retries: int = THROTTLE_RETRIES,
    ) -> None:
        self.api_client = api_client
        self.field_manager = field_manager
        self.on_request = on_request
        self.fence = fence
        self.throttle_retries = throttle_retries
        self._auth: dict[str, str] | None = None
        self._auth_at = 0.0
        self._auth_from_hook = False

    # -- transport -------------------------------------------------------------------------------
    def _send(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: Any,
        query: Mapping[str, Any] | None,
        timeout: float | None,
        verb: str = "",
    ) -> bytes:
        """One HTTP call; the raw body of a 2xx answer, else a :class:`KubeError` with the server's message."""
        verb = verb or _VERBS.get(method, "get")
        if method in _VERBS and self.fence is not None:
            self.fence()
        status = 0
        try:
            status, data = self._call(method, path, headers, body, query, timeout)
            return data
        except KubeError as error:
            status = error.status
            raise
        finally:
            if self.on_request is not None:
                self.on_request(verb, status)

    def _call(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: Any,
        query: Mapping[str, Any] | None,
        timeout: float | None,
    ) -> tuple[int, bytes]:
        """Straight to the official client's urllib3 pool with the same TLS, proxy and credentials.

        The generated client's own request path serialises through its model layer and asks the
        credential hook on every call, which costs more CPU than the request itself for an
        operator making thousands of small calls; credentials are refreshed here every minute
        and after a 401.
        """
        url = self._host + path
        pairs = [(key, value) for key, value in (query or {}).items() if value is not None]
        if pairs:
            url += "?" + urlencode(pairs)
        payload = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        request_timeout = None if timeout is None else urllib3.Timeout(total=timeout)
        refreshed = False
        throttled = 0
        while True:
            sent = {**headers, **self._auth_headers(refresh=refreshed)}
            try:
                response = self._pool.request(
                    method, url, body=payload, headers=sent, timeout=request_timeout, retries=False
                )
            except (urllib3.exceptions.HTTPError, OSError) as error:
                raise KubeError(0, "Unreachable", f"the Kubernetes API cannot be reached: {error}") from None
            if response.status == 401 and not refreshed and self._auth_from_hook:
                refreshed = True  # the token may have been rotated: fetch it again once
                continue
            if response.status == 429 and throttled < self.throttle_retries:
                throttled += 1
                delay = retry_after(response.headers.get("Retry-After"), bytes(response.data or b""))
                # One line, no traceback: throttling is the server asking to wait, not a failure.
                (log.info if throttled == 1 else log.debug)(
                    "the API server asked to wait (HTTP 429 on %s %s: %s); retry %d of %d in %.1fs",
                    method, path, KubeError.from_answer(429, response.reason, bytes(response.data or b"")).message,
                    throttled, self.throttle_retries, delay,
                )  # fmt: skip
                time.sleep(delay)
                if method in _VERBS and self.fence is not None:
                    self.fence()  # leadership may have been lost while waiting: no write after that
                continue
            break
        data = bytes(response.data or b"")
        if not 200 <= response.status <= 299:
            raise KubeError.from_answer(response.status, response.reason, data)
        return response.status, data

    @property
    def _pool(self) -> urllib3.PoolManager:
        return self.api_client.rest_client.pool_manager

    @property
    def _host(self) -> str:
        return str(self.api_client.configuration.host).rstrip("/")

    def _auth_headers(self, *, refresh: bool = False) -> dict[str, str]:
        now = time.monotonic()
        if refresh or self._auth is None or now - self._auth_at > _AUTH_REFRESH_SECONDS:
            configuration = self.api_client.configuration
            headers: dict[str, str] = {}
            bearer = configuration.auth_settings().get("BearerToken")
            if bearer and bearer.get("value"):
                headers["Authorization"] = str(bearer["value"])
            elif configuration.username:
                headers["Authorization"] = str(configuration.get_basic_auth_token())
            self._auth, self._auth_at = headers, now
            self._auth_from_hook = configuration.refresh_api_key_hook is not None
        return self._auth

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Mapping[str, Any] | None = None,
        content_type: str = "application/json",
        timeout: float | None = 30,
        verb: str = "",
    ) -> Any:
        """A JSON API call: the decoded answer (None for an empty body)."""
        headers = {"Accept": "application/json", "Content-Type": content_type}
        data = self._send(method, path, headers, body, query, timeout, verb)
        return json.loads(data) if data else None

    def request_text(
        self, path: str, *, query: Mapping[str, Any] | None = None, timeout: float | None = 30
    ) -> str:
        """GET a plain-text endpoint (pod logs)."""
        return self._send("GET", path, {"Accept": "*/*"}, None, query, timeout).decode("utf-8", "replace")

    # -- verbs -----------------------------------------------------------------------------------
    def get(self, resource: Resource, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The object, or None if it does not exist."""
        try:
            return dict(self.request("GET", resource.path(namespace, name), verb="get"))
        except KubeError as error:
            if error.not_found:
                return None
            raise

    def list_by(
        self, resource: Resource, index: Index, value: str, namespace: str | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Objects whose ``index`` value is ``value`` (a list and a filter here; a cache keeps it)."""
        return [obj for obj in self.list(resource, namespace) if index.value_of(obj) == value]

    def list(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        labels: Mapping[str, str] | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        selector = label_selector or (
            ",".join(f"{k}={v}" for k, v in sorted(labels.items())) if labels else None
        )
        try:
            result = self.request(
                "GET",
                resource.path(namespace),
                query={"labelSelector": selector, "fieldSelector": field_selector},
                verb="list",
            )
        except KubeError as error:
            if error.not_found:  # the kind itself is gone (e.g. a deleted CRD): nothing to list
                return []
            raise
        items: list[dict[str, Any]] = result.get("items") or []
        return items

    def create(
        self, resource: Resource, body: Mapping[str, Any], namespace: str | None = None
    ) -> dict[str, Any]:
        namespace = namespace or body.get("metadata", {}).get("namespace")
        return dict(
            self.request(
                "POST", resource.path(namespace), body=dict(body), query={"fieldManager": self.field_manager}
            )
        )

    def replace(self, resource: Resource, body: Mapping[str, Any]) -> dict[str, Any]:
        meta = body["metadata"]
        return dict(self.request("PUT", resource.path(meta.get("namespace"), meta["name"]), body=dict(body)))

    def patch(
        self,
        resource: Resource,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        subresource: str | None = None,
        content_type: str = MERGE_PATCH,
    ) -> dict[str, Any]:
        return dict(
            self.request(
                "PATCH",
                resource.path(namespace, name, subresource),
                body=patch,
                content_type=content_type,
                query={"fieldManager": self.field_manager},
            )
        )

    def patch_status(
        self, resource: Resource, name: str, status: Mapping[str, Any], namespace: str | None = None
    ) -> dict[str, Any]:
        return self.patch(resource, name, {"status": dict(status)}, namespace, subresource="status")

    def delete(
        self,
        resource: Resource,
        name: str,
        namespace: str | None = None,
        *,
        propagation: str = "Background",
    ) -> bool:
        """Delete; True if a delete was issued, False if the object was already gone."""
        try:
            self.request(
                "DELETE",
                resource.path(namespace, name),
                body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation},
            )
            return True
        except KubeError as error:
            if error.not_found:
                return False
            raise

    def apply(self, resource: Resource, body: Mapping[str, Any]) -> dict[str, Any]:
        """Make the object match ``body``: create it, merge-patch what differs, or leave it alone.

        Pipeline RBAC, ConfigMaps and Works are applied on every run but rarely change, so the
        common case is one GET and no write (no new resourceVersion, no watch event).
        """
        meta = body["metadata"]
        existing = self.get(resource, meta["name"], meta.get("namespace"))
        if existing is None:
            try:
                return self.create(resource, body)
            except KubeError as error:
                if not error.conflict:  # created meanwhile by someone else: patch it below
                    raise
        elif _contains(existing, _desired(body)):
            return existing
        return self.patch(resource, meta["name"], _desired(body), meta.get("namespace"))

    # -- finalizers ------------------------------------------------------------------------------
    def remove_finalizer(
        self, resource: Resource, obj: Mapping[str, Any], finalizer: str
    ) -> dict[str, Any] | None:
        """Remove one finalizer, guarded by resourceVersion so a concurrent change is never lost.

        Returns the object as it now is (None if it is gone).
        """
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if finalizer not in finalizers:
            return dict(obj)
        index = finalizers.index(finalizer)
        operations = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]},
            {"op": "test", "path": f"/metadata/finalizers/{index}", "value": finalizer},
            {"op": "remove", "path": f"/metadata/finalizers/{index}"},
        ]
        try:
            return self.patch(
                resource, meta["name"], operations, meta.get("namespace"), content_type=JSON_PATCH
            )
        except KubeError as error:
            if not error.not_found:
                raise
            return None

    def add_finalizers(
        self, resource: Resource, obj: Mapping[str, Any], wanted: builtins.list[str]
    ) -> dict[str, Any]:
        """Make sure ``wanted`` are present (in order, after any others); returns the updated object."""
        meta = obj["metadata"]
        current = list(meta.get("finalizers") or [])
        missing = [f for f in wanted if f not in current]
        if not missing:
            return dict(obj)
        patch = {"metadata": {"finalizers": current + missing, "resourceVersion": meta["resourceVersion"]}}
        return self.patch(resource, meta["name"], patch, meta.get("namespace"))

    # -- events ----------------------------------------------------------------------------------
    def emit_event(
        self,
        obj: Mapping[str, Any],
        reason: str,
        message: str,
        *,
        type: str = "Normal",
        component: str = "kratix-py",
    ) -> None:
        """Record a core/v1 Event about ``obj``; failures are logged, never raised."""
        meta = obj.get("metadata", {})
        namespace = meta.get("namespace") or "default"
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{meta.get('name', 'object')}.{uuid.uuid4().hex[:16]}",
                "namespace": namespace,
            },
            "involvedObject": {
                "apiVersion": obj.get("apiVersion"),
                "kind": obj.get("kind"),
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message[:1024],
            "type": type,
            "source": {"component": component},
            "reportingComponent": component,
            # An Event with eventTime must name its reporter's instance too: a real API server
            # refuses it otherwise (422 reportingInstance: Required value).
            "reportingInstance": f"{component}-{socket.gethostname()}"[:128],
            "firstTimestamp": now[:19] + "Z",
            "lastTimestamp": now[:19] + "Z",
            "eventTime": now,
            "count": 1,
            "action": reason,
        }
        try:
            self.create(EVENTS, event, namespace)
        except KubeError as error:
            log.warning("could not record event %s on %s: %s", reason, meta.get("name"), error)


def retry_after(header: str | None, body: bytes = b"") -> float:
    """Seconds to wait after a 429: the Retry-After header (seconds), else the Status body's
    ``details.retryAfterSeconds``, else one second; at most :data:`_THROTTLE_MAX_WAIT`."""
    seconds: float | None = None
    if header:
        try:
            seconds = float(header)
        except ValueError:
            seconds = None  # an HTTP date: the API server never sends one
    if seconds is None and body:
        try:
            seconds = float(json.loads(body)["details"]["retryAfterSeconds"])
        except (ValueError, KeyError, TypeError):
            seconds = None
    if seconds is None or seconds < 0:
        seconds = 1.0
    return min(seconds, _THROTTLE_MAX_WAIT)


def _desired(body: Mapping[str, Any]) -> dict[str, Any]:
    """What :meth:`Kube.apply` keeps in sync: everything but the type, status and server-set metadata."""
    desired = {key: value for key, value in body.items() if key not in ("apiVersion", "kind", "status")}
    meta = {key: value for key, value in (body.get("metadata") or {}).items() if key in _SYNCED_METADATA}
    desired["metadata"] = meta
    return desired


_SYNCED_METADATA = ("name", "namespace", "labels", "annotations", "ownerReferences", "finalizers")


def _contains(actual: Any, wanted: Any) -> bool:
    """True if ``wanted`` is already part of ``actual`` (maps by key; lists and scalars exactly)."""
    if isinstance(wanted, Mapping):
        return isinstance(actual, Mapping) and all(
            key in actual and _contains(actual[key], value) for key, value in wanted.items()
        )
    return bool(actual == wanted)
