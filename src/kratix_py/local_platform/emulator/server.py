"""The HTTP face of the emulator: URL routing, query parameters, content negotiation, watches.

Paths follow the real API (``/api/v1/...``, ``/apis/<group>/<version>/...``, ``namespaces/<ns>/``
for namespaced resources, ``/status`` and ``/log`` subresources), plus a few emulator-only
endpoints under ``/_emulator/`` (fault injection, pod logs, open watches). Every failure is a
``Status`` body; an unexpected exception is a 500 with the exception text and is logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.parse
from typing import Any

import yaml
from aiohttp import web
from multidict import CIMultiDict

from . import errors, openapi, protobuf, yamlbody
from .cluster import APPLY_PATCH, JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, Cluster
from .errors import ApiError
from .faults import FaultInjector
from .jsonutil import dumps
from .resources import ResourceType
from .selectors import parse_field_selector, parse_label_selector
from .store import WatchEvent
from .table import to_table

log = logging.getLogger(__name__)

VERSION_INFO = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2024-12-11T00:00:00Z",
    "goVersion": "go1.23.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}
_PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH)
_NAMESPACE_SUBRESOURCES = ("status", "finalize")


def _page_not_found() -> web.Response:
    """What kube-apiserver answers for a path no API group serves: plain text, not a Status."""
    return web.Response(status=404, text="404 page not found\n", content_type="text/plain")


def _json_response(body: Any, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    headers: CIMultiDict[str] = CIMultiDict()
    for warning in warnings or []:
        text = warning.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
        headers.add("Warning", f'299 - "{text}"')  # quoted-string, as RFC 7234 warn-text is
    return web.Response(body=dumps(body), status=status, content_type="application/json", headers=headers)


def _error_response(error: ApiError) -> web.Response:
    response = _json_response(error.status(), error.code)
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def _accept_as(request: web.Request) -> str | None:
    """``Table`` or ``PartialObjectMetadata`` when the client asks for that transformation."""
    accept = request.headers.get("Accept", "")
    if "as=Table" in accept and "meta.k8s.io" in accept:
        return "Table"
    if "as=PartialObjectMetadata" in accept:
        return "PartialObjectMetadata"
    return None


def _int_param(params: Any, name: str) -> int | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise errors.bad_request(f'invalid value for {name}: "{raw}"') from None


def _path_parts(request: web.Request) -> list[str]:
    """The decoded segments of the URL path (split before decoding, so an encoded ``/`` stays)."""
    raw = request.raw_path.split("?", 1)[0]
    return [urllib.parse.unquote(p) for p in raw.split("/") if p]


def _truthy(params: Any, name: str) -> bool:
    return str(params.get(name, "")).lower() in ("true", "1")


class ApiServer:
    def __init__(self, cluster: Cluster, faults: FaultInjector) -> None:
        self.cluster = cluster
        self.faults = faults
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.app.router.add_route("*", "/{tail:.*}", self.dispatch)
        self.app.on_shutdown.append(self._on_shutdown)
        self._stopping = False

    async def _on_shutdown(self, app: web.Application) -> None:
        self._stopping = True
        self.cluster.store.close_watchers()

    # --- entry point ---------------------------------------------------------------------

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        try:
            if request.path.startswith("/_emulator/"):
                return await self._emulator_endpoint(request)
            fault = self.faults.match(request.method, request.path)
            if fault is not None:
                raise fault
            return await self._route(request)
        except ApiError as error:
            return _error_response(error)
        except web.HTTPException:
            raise
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception as exc:  # a bug in the emulator: say so instead of hanging up
            log.exception("emulator failed on %s %s", request.method, request.path_qs)
            return _error_response(ApiError(500, "InternalError", f"emulator error: {exc!r}"))

    async def _route(self, request: web.Request) -> web.StreamResponse:
        parts = _path_parts(request)
        method = request.method
        if not parts:
            return _json_response(
                {"paths": ["/api", "/api/v1", "/apis", "/openapi/v3", "/version", "/healthz"]}
            )
        head = parts[0]
        if head in ("healthz", "livez", "readyz"):
            return web.Response(text="ok")
        if head == "version":
            return _json_response(VERSION_INFO)
        if head == "openapi":
            return self._openapi(parts[1:])
        if head == "api":
            if len(parts) == 1:
                return _json_response(self.cluster.registry.api_versions(request.host))
            group, version, rest = "", parts[1], parts[2:]
        elif head == "apis":
            if len(parts) == 1:
                return _json_response(self.cluster.registry.api_group_list())
            if len(parts) == 2:
                doc = self.cluster.registry.api_group(parts[1])
                if doc is None:
                    return _page_not_found()
                return _json_response(doc)
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return _page_not_found()
        registry = self.cluster.registry
        # The discovery document is built only when asked for: every other request only needs to
        # know whether the group/version is served.
        if group and not registry.serves(group, version) and registry.api_group(group) is None:
            return _page_not_found()
        if not rest:
            doc = registry.resource_list(group, version)
            if doc is None or method != "GET":
                raise errors.resource_not_served()
            return _json_response(doc)
        return await self._resource(request, method, group, version, rest)

    def _openapi(self, rest: list[str]) -> web.Response:
        registry = self.cluster.registry
        if rest == ["v3"]:
            return _json_response(openapi.root_document(registry))
        if len(rest) >= 3 and rest[0] == "v3":
            if rest[1] == "api" and len(rest) == 3:
                doc = openapi.group_version_document(registry, "", rest[2])
            elif rest[1] == "apis" and len(rest) == 4:
                doc = openapi.group_version_document(registry, rest[2], rest[3])
            else:
                doc = None
            if doc is not None:
                return _json_response(doc)
        raise errors.resource_not_served()

    # --- resources -----------------------------------------------------------------------

    async def _resource(
        self, request: web.Request, method: str, group: str, version: str, rest: list[str]
    ) -> web.StreamResponse:
        namespace: str | None = None
        if (
            rest[0] == "namespaces"
            and len(rest) >= 3
            and not (len(rest) == 3 and rest[2] in _NAMESPACE_SUBRESOURCES)
        ):
            namespace, rest = rest[1], rest[2:]
        if len(rest) > 3:
            raise errors.resource_not_served()
        plural = rest[0]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        rt = self.cluster.registry.get(group, version, plural)
        if rt is None or (namespace is not None and not rt.namespaced):
            raise errors.resource_not_served()
        if sub is not None and sub not in rt.subresources:
            raise errors.resource_not_served()
        if rt.namespaced and namespace is None and not (method == "GET" and name is None):
            # Across all namespaces, a namespaced resource can only be listed and watched.
            if name is None:
                raise errors.method_not_allowed()
            raise errors.resource_not_served()
        ns = namespace or ""
        params = request.query
        if method == "GET":
            if sub == "log" and name:
                return self._pod_log(rt, ns, name, params)
            if name is None:
                if _truthy(params, "watch"):
                    return await self._watch(request, rt, namespace, params)
                return self._list(request, rt, namespace, params)
            return self._single(request, rt, self.cluster.get(rt, ns, name))
        if sub == "log":
            raise errors.method_not_allowed()
        dry_run = params.get("dryRun") == "All"
        validation = params.get("fieldValidation")
        if method == "POST":
            if name is not None:
                raise errors.method_not_allowed()
            body = await self._body(request, allow_yaml=True)
            obj, warnings = self.cluster.create(rt, ns, body, dry_run=dry_run, validation=validation)
            return _json_response(obj, 201, warnings)
        if name is None:
            if method == "DELETE":
                labels = parse_label_selector(params.get("labelSelector"))
                fields = parse_field_selector(params.get("fieldSelector"), rt.supports_field)
                options = await self._delete_options(request)
                return _json_response(
                    self.cluster.delete_collection(rt, namespace, labels, fields, options, dry_run=dry_run)
                )
            raise errors.method_not_allowed()
        if method == "PUT":
            body = await self._body(request, allow_yaml=True)
            obj, warnings = self.cluster.replace(
                rt, ns, name, body, subresource=sub, dry_run=dry_run, validation=validation
            )
            return _json_response(obj, 200, warnings)
        if method == "PATCH":
            content_type = request.content_type
            if content_type not in _PATCH_TYPES:
                raise errors.unsupported_media_type(content_type, list(_PATCH_TYPES))
            body = await self._body(request, allow_yaml=content_type == APPLY_PATCH)
            obj, created, warnings = self.cluster.patch(
                rt,
                ns,
                name,
                content_type,
                body,
                subresource=sub,
                field_manager=params.get("fieldManager"),
                dry_run=dry_run,
                validation=validation,
            )
            return _json_response(obj, 201 if created else 200, warnings)
        if method == "DELETE":
            if sub is not None:
                raise errors.method_not_allowed()
            options = await self._delete_options(request)
            return _json_response(self.cluster.delete(rt, ns, name, options, dry_run=dry_run))
        raise errors.method_not_allowed()

    async def _body(self, request: web.Request, *, allow_yaml: bool) -> Any:
        if (request.content_length or 0) > errors.MAX_REQUEST_BODY_BYTES:
            raise errors.request_too_large()
        raw = await request.read()
        if len(raw) > errors.MAX_REQUEST_BODY_BYTES:
            raise errors.request_too_large()
        content_type = request.content_type
        if content_type == "application/vnd.kubernetes.protobuf":
            try:
                return protobuf.decode(raw)
            except protobuf.ProtobufError as exc:
                raise errors.ApiError(415, "UnsupportedMediaType", str(exc)) from None
        if "protobuf" in content_type or "cbor" in content_type:
            raise errors.unsupported_media_type(content_type, ["application/json", "application/yaml"])
        if not raw.strip():
            raise errors.bad_request("the request body is empty")
        try:
            if "yaml" in content_type and allow_yaml:
                return yamlbody.load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as exc:
            raise errors.bad_request(f"couldn't get version/kind; json parse error: {exc}") from None

    async def _delete_options(self, request: web.Request) -> dict[str, Any]:
        options: dict[str, Any] = {}
        raw = await request.read()
        if raw.strip():
            try:
                parsed = json.loads(raw)
            except ValueError as exc:
                raise errors.bad_request(f"invalid DeleteOptions: {exc}") from None
            if isinstance(parsed, dict):
                options.update(parsed)
        params = request.query
        if "propagationPolicy" in params:
            options["propagationPolicy"] = params["propagationPolicy"]
        if "orphanDependents" in params:
            options["orphanDependents"] = _truthy(params, "orphanDependents")
        return options

    def _single(self, request: web.Request, rt: ResourceType, obj: dict[str, Any]) -> web.Response:
        transform = _accept_as(request)
        if transform == "Table":
            include = request.query.get("includeObject", "Metadata")
            return _json_response(
                to_table(
                    rt, [obj], resource_version=obj["metadata"]["resourceVersion"], include_object=include
                )
            )
        if transform == "PartialObjectMetadata":
            return _json_response(
                {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}
            )
        return _json_response(obj)

    def _list(
        self, request: web.Request, rt: ResourceType, namespace: str | None, params: Any
    ) -> web.Response:
        labels = parse_label_selector(params.get("labelSelector"))
        fields = parse_field_selector(params.get("fieldSelector"), rt.supports_field)
        result = self.cluster.list_objects(
            rt, namespace, labels, fields, _int_param(params, "limit"), params.get("continue")
        )
        transform = _accept_as(request)
        if transform == "Table":
            meta = {k: v for k, v in result["metadata"].items() if k != "resourceVersion"}
            return _json_response(
                to_table(
                    rt,
                    result["items"],
                    resource_version=result["metadata"]["resourceVersion"],
                    include_object=params.get("includeObject", "Metadata"),
                    list_meta=meta,
                )
            )
        if transform == "PartialObjectMetadata":
            items = [
                {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}
                for o in result["items"]
            ]
            return _json_response(
                {
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": result["metadata"],
                    "items": items,
                }
            )
        return _json_response(result)

    def _pod_log(self, rt: ResourceType, namespace: str, name: str, params: Any) -> web.Response:
        if rt.plural != "pods":
            raise errors.resource_not_served()
        pod = self.cluster.store.get(self.cluster.key(rt), namespace, name)
        if pod is None:
            raise errors.not_found("pods", "", name)
        text = self.cluster.pod_logs.read(
            pod, params.get("container"), _int_param(params, "tailLines"), _int_param(params, "limitBytes")
        )
        return web.Response(text=text, content_type="text/plain")

    # --- watch ---------------------------------------------------------------------------

    async def _watch(
        self, request: web.Request, rt: ResourceType, namespace: str | None, params: Any
    ) -> web.StreamResponse:
        labels = parse_label_selector(params.get("labelSelector"))
        fields = parse_field_selector(params.get("fieldSelector"), rt.supports_field)
        timeout = _int_param(params, "timeoutSeconds")
        scope = namespace if rt.namespaced and namespace else None
        matches = self.cluster.matcher(rt, scope, labels, fields)
        filtered = scope is not None or labels is not None or fields is not None
        send_initial = _truthy(params, "sendInitialEvents")
        bookmarks = _truthy(params, "allowWatchBookmarks")
        as_table = _accept_as(request) == "Table"
        include = params.get("includeObject", "Metadata")
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        try:
            initial, watcher = self.cluster.start_watch(
                rt, params.get("resourceVersion"), matches, send_initial
            )
        except ApiError as error:
            if error.code != 410:
                raise
            await response.prepare(request)
            await response.write(dumps({"type": "ERROR", "object": error.status()}) + b"\n")
            return response
        start_rv = self.cluster.store.rv
        headers_sent = False

        def encode(event_type: str, event: WatchEvent) -> bytes:
            nonlocal headers_sent
            obj = self.cluster.present(rt, event.obj)
            if as_table:
                table = to_table(
                    rt,
                    [obj],
                    resource_version=obj["metadata"]["resourceVersion"],
                    include_object=include,
                    headers=not headers_sent,
                )
                headers_sent = True
                return dumps({"type": event_type, "object": table}) + b"\n"
            cache_key = f"{event_type}|{rt.group}/{rt.version}/{rt.plural}"
            encoded = event.encoded.get(cache_key)
            if encoded is None:
                encoded = event.encoded[cache_key] = dumps({"type": event_type, "object": obj}) + b"\n"
            return encoded

        def visible(event: WatchEvent) -> str | None:
            if not filtered:
                return event.type
            if event.type == "MODIFIED":
                now_in = matches(event.obj)
                was_in = event.old is not None and matches(event.old)
                if now_in:
                    return "MODIFIED" if was_in else "ADDED"
                return "DELETED" if was_in else None
            return event.type if matches(event.obj) else None

        try:
            await response.prepare(request)
            # A watch without a resourceVersion starts with the current objects (already matched);
            # one with a resourceVersion replays the log, filtered like live events.
            synthetic = send_initial or params.get("resourceVersion") in (None, "", "0")
            parts = []
            for event in initial:
                event_type = "ADDED" if synthetic else visible(event)
                if event_type is not None:
                    parts.append(encode(event_type, event))
            chunk = b"".join(parts)
            if send_initial and bookmarks:
                marker = {
                    "kind": rt.kind,
                    "apiVersion": rt.api_version,
                    "metadata": {
                        "resourceVersion": str(start_rv),
                        "annotations": {"k8s.io/initial-events-end": "true"},
                    },
                }
                chunk += dumps({"type": "BOOKMARK", "object": marker}) + b"\n"
            if chunk:
                await response.write(chunk)
            deadline = time.monotonic() + timeout if timeout else None
            while not self._stopping:
                queued: WatchEvent | None
                try:
                    queued = watcher.queue.get_nowait()
                except asyncio.QueueEmpty:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        break
                    try:
                        queued = await asyncio.wait_for(watcher.queue.get(), remaining)
                    except TimeoutError:
                        break
                if queued is None:  # the watch was closed: shutdown, or its CRD is gone
                    break
                event_type = visible(queued)
                if event_type is not None:
                    await response.write(encode(event_type, queued))
        except (ConnectionResetError, ConnectionError):
            pass
        finally:
            self.cluster.store.unsubscribe(watcher)
        return response

    # --- emulator-only endpoints -----------------------------------------------------------

    async def _emulator_endpoint(self, request: web.Request) -> web.StreamResponse:
        parts = _path_parts(request)[1:]
        if parts == ["faults"] and request.method == "POST":
            body = await self._body(request, allow_yaml=False)
            if not isinstance(body, dict) or "path_regex" not in body or "status" not in body:
                raise errors.bad_request(
                    "a fault needs path_regex and status (and optionally method, count, message)"
                )
            try:
                self.faults.add(
                    body.get("method"),
                    str(body["path_regex"]),
                    int(body["status"]),
                    int(body.get("count", 1)),
                    str(body.get("message", "")),
                )
            except (ValueError, TypeError) as exc:
                raise errors.bad_request(str(exc)) from None
            return _json_response({"status": "Success"}, 201)
        if parts == ["faults"] and request.method == "DELETE":
            self.faults.clear()
            return _json_response({"status": "Success"})
        if len(parts) == 4 and parts[0] == "logs" and request.method == "PUT":
            text = (await request.read()).decode("utf-8", errors="replace")
            self.cluster.pod_logs.set(parts[1], parts[2], parts[3], text)
            return _json_response({"status": "Success"})
        if parts == ["watches"] and request.method == "GET":
            return _json_response(self.cluster.watch_counts())
        raise errors.resource_not_served()
