"""List and watch one kind into a :class:`~kratix_py.operator.store.Store`, as client-go's informers do.

An :class:`Informer` lists its kind page by page (``limit``/``continue``), hands the list to its
store (which drops what disappeared), then watches from the list's ``resourceVersion`` with
bookmarks. A watch that ends is resumed from the last version seen; ``410 Gone`` means that
version is too old, so it lists again. Each change the store takes in goes to ``dispatch`` once.

Failures never end an informer: an API outage, a 403 (a missing permission), a 404 (the kind's
CRD was deleted) or a broken stream each log one line when they start and one when they end, and
the informer tries again with backoff until it is stopped. Stopping is cancelling its task.

The watches run on the operator's asyncio loop over aiohttp (a dependency of kopf's already),
with the credentials of the official client's configuration, so they cost no thread each.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import ssl
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import aiohttp

from kratix_py import kube as k
from kratix_py.operator import metrics
from kratix_py.operator.store import Change, Store, resource_version

log = logging.getLogger(__name__)

Dispatch = Callable[[k.Resource, Change], None]

PAGE_SIZE = 500
WATCH_TIMEOUT = (240, 480)
"""Seconds the server keeps one watch open, chosen at random in this range (as client-go does, so
that many informers do not reconnect at the same moment)."""
BACKOFF = (0.5, 30.0)


class ApiError(Exception):
    """The API answered a list or watch with an error status."""

    def __init__(self, status: int, message: str, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after
        """Seconds the server asked to wait (HTTP 429), 0 otherwise."""

    @classmethod
    def from_answer(cls, response: aiohttp.ClientResponse, body: bytes) -> ApiError:
        wait = k.retry_after(response.headers.get("Retry-After"), body) if response.status == 429 else 0.0
        return cls(response.status, _message(body, response.reason), wait)


class _Gone(Exception):
    """410: the resourceVersion (or continue token) is too old; list again."""


class ApiSession:
    """aiohttp access to the API server with the credentials of a kubernetes client Configuration.

    The token is read from the configuration at every request, so a refreshed one (the in-cluster
    service-account token rotates) is used as soon as the client has it.
    """

    def __init__(self, configuration: Any) -> None:
        self.configuration = configuration
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ApiSession:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def _ssl(self) -> ssl.SSLContext | bool:
        config = self.configuration
        if not str(config.host).startswith("https"):
            return False
        context = ssl.create_default_context(cafile=config.ssl_ca_cert or None)
        if getattr(config, "ca_cert_data", None):
            data = config.ca_cert_data
            context.load_verify_locations(cadata=data.decode() if isinstance(data, bytes) else data)
        if config.cert_file:
            context.load_cert_chain(config.cert_file, config.key_file or None)
        if not config.verify_ssl:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self._ssl(), limit=0)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        auth = self.configuration.auth_settings().get("BearerToken")
        if auth and auth.get("value"):
            headers["Authorization"] = str(auth["value"])
        elif self.configuration.username:
            headers["Authorization"] = str(self.configuration.get_basic_auth_token())
        return headers

    def url(self, path: str) -> str:
        return str(self.configuration.host).rstrip("/") + path

    async def get(self, path: str, params: Mapping[str, str], timeout: float = 60) -> dict[str, Any]:
        """One GET answered with JSON; :class:`ApiError` for an error status."""
        async with self.session().get(
            self.url(path),
            params=dict(params),
            headers=self.headers(),
            proxy=self.configuration.proxy or None,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            metrics.API_REQUESTS.labels("list", str(response.status)).inc()
            body = await response.read()
            if response.status >= 400:
                raise ApiError.from_answer(response, body)
            return dict(json.loads(body))

    async def stream(
        self, path: str, params: Mapping[str, str], read_timeout: float
    ) -> AsyncIterator[dict[str, Any]]:
        """The events of one watch request, decoded, until the server ends it."""
        async with self.session().get(
            self.url(path),
            params=dict(params),
            headers=self.headers(),
            proxy=self.configuration.proxy or None,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=read_timeout),
        ) as response:
            metrics.API_REQUESTS.labels("watch", str(response.status)).inc()
            if response.status >= 400:
                raise ApiError.from_answer(response, await response.read())
            buffer = b""
            # Lines are split here, not by aiohttp's readline: one event may be megabytes long.
            async for chunk in response.content.iter_any():
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
            if buffer.strip():
                yield json.loads(buffer)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class Informer:
    """Keeps ``store`` in step with one kind (optionally one namespace and a label selector)."""

    def __init__(
        self,
        api: ApiSession,
        resource: k.Resource,
        store: Store,
        dispatch: Dispatch,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        page_size: int = PAGE_SIZE,
        watch_timeout: tuple[int, int] = WATCH_TIMEOUT,
    ) -> None:
        self.api = api
        self.resource = resource
        self.store = store
        self.dispatch = dispatch
        self.namespace = namespace
        self.label_selector = label_selector
        self.page_size = page_size
        self.watch_timeout = watch_timeout
        self.synced = threading.Event()
        """Set once the first list is in the store: until then a missing object proves nothing."""
        self.lists = 0
        """Lists taken so far (the first, then one per 410 or reconnect that needed one)."""
        self._task: asyncio.Task[None] | None = None
        self._failures = 0

    @property
    def name(self) -> str:
        where = f" in {self.namespace}" if self.namespace else ""
        return f"{self.resource.plural}.{self.resource.group or 'core'}/{self.resource.version}{where}"

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> Informer:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name=f"informer {self.name}")
        return self

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def run(self) -> None:
        version: int | str | None = None
        while True:
            try:
                if version is None:
                    version = await self._list()
                version = await self._watch(version)
            except asyncio.CancelledError:
                raise
            except _Gone:
                log.debug("%s: resourceVersion %s is too old; listing again", self.name, version)
                version = None
            except ApiError as error:
                if error.status == 410:  # some servers answer a too-old version with HTTP 410
                    version = None
                elif error.status == 404:
                    # Normal while a Promise's CRD goes away (the operator stops this informer
                    # when it sees the CRD deleted): not worth a warning.
                    self._gone_kind()
                    version = None
                    await self._backoff(f"HTTP 404: {error.message}", quiet=True)
                elif error.status == 429:
                    # The server asks to wait: at start-up, or while a new CRD's watch cache
                    # fills ("storage is (re)initializing"). Normal; no warning.
                    await self._backoff(f"HTTP 429: {error.message}", quiet=True, at_least=error.retry_after)
                else:
                    await self._backoff(f"HTTP {error.status}: {error.message}")
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as error:
                await self._backoff(f"{type(error).__name__}: {error}".rstrip(": "))
            except Exception as error:  # a bug in a handler or here: keep the cache alive
                log.exception("%s: unexpected error while watching", self.name)
                await self._backoff(f"unexpected {type(error).__name__}")

    # -- list and watch ------------------------------------------------------------------------------
    async def _list(self) -> str:
        items: list[dict[str, Any]] = []
        params: dict[str, str] = {"limit": str(self.page_size)}
        if self.label_selector:
            params["labelSelector"] = self.label_selector
        first_version: str | None = None
        while True:
            try:
                page = await self.api.get(self.resource.path(self.namespace), params)
            except ApiError as error:
                if error.status == 410 and "continue" in params:
                    # The continue token expired mid-list: start the list again.
                    params.pop("continue")
                    items.clear()
                    first_version = None
                    continue
                raise
            meta = page.get("metadata") or {}
            if first_version is None:
                first_version = str(meta.get("resourceVersion") or "")
            kind = self.resource.kind or str(page.get("kind") or "").removesuffix("List")
            for item in page.get("items") or []:
                item.setdefault("apiVersion", self.resource.api_version)
                item.setdefault("kind", kind)
                items.append(item)
            token = meta.get("continue")
            if not token:
                break
            params["continue"] = str(token)
        listed_at = _int_or_none(first_version)
        for change in self.store.replace(items, listed_at, namespace=self.namespace):
            self._dispatch(change)
        self.lists += 1
        self.synced.set()
        self._recovered()
        if not first_version:
            raise ValueError("the list answer had no resourceVersion to watch from")
        return first_version

    async def _watch(self, version: int | str) -> int | str:
        params = {
            "watch": "true",
            "resourceVersion": str(version),
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(random.randint(*self.watch_timeout)),
        }
        if self.label_selector:
            params["labelSelector"] = self.label_selector
        read_timeout = float(params["timeoutSeconds"]) + 30
        async for event in self.api.stream(self.resource.path(self.namespace), params, read_timeout):
            kind = event.get("type")
            obj = event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise _Gone()
                raise ApiError(int(obj.get("code") or 500), str(obj.get("message") or obj))
            new_version = (obj.get("metadata") or {}).get("resourceVersion")
            if kind == "BOOKMARK":
                version = new_version or version
                continue
            obj.setdefault("apiVersion", self.resource.api_version)
            if self.resource.kind:
                obj.setdefault("kind", self.resource.kind)
            change = (
                self.store.remove(obj) if kind == "DELETED" else self.store.upsert(obj, authoritative=True)
            )
            if change is not None:
                self._dispatch(change)
            version = new_version or version
            self._recovered()
        return version

    # -- the operator's own writes -------------------------------------------------------------------
    def observe(self, obj: dict[str, Any]) -> None:
        """A write's result: into the store (if newer), and to the handlers like a watch event."""
        namespace = (obj.get("metadata") or {}).get("namespace")
        if self.namespace and namespace and namespace != self.namespace:
            return
        change = self.store.upsert(obj)
        if change is not None:
            self._dispatch(change)

    # -- helpers -------------------------------------------------------------------------------------
    def _dispatch(self, change: Change) -> None:
        try:
            self.dispatch(self.resource, change)
        except Exception:
            log.exception("%s: handling a %s event failed", self.name, change.type)

    def _gone_kind(self) -> None:
        """404 on the kind itself: its CRD is gone, and so is every object of it."""
        if self._failures == 0:
            log.info("%s is not served (its CRD is gone); looking again with backoff", self.name)
        self.synced.clear()
        for change in self.store.clear():
            self._dispatch(change)

    async def _backoff(self, reason: str, *, quiet: bool = False, at_least: float = 0.0) -> None:
        self._failures += 1
        if self._failures == 1 and not quiet:
            log.warning("watching %s failed (%s); retrying", self.name, reason)
        else:
            log.debug("watching %s failed again (%s)", self.name, reason)
        first, longest = BACKOFF
        delay = min(first * 2 ** (self._failures - 1), longest)
        await asyncio.sleep(max(delay * random.uniform(0.8, 1.2), at_least))

    def _recovered(self) -> None:
        if self._failures:
            log.info("watching %s again after %d failed attempts", self.name, self._failures)
            self._failures = 0


def _message(body: bytes, reason: str | None) -> str:
    try:
        return str(json.loads(body).get("message") or reason or "")
    except (ValueError, AttributeError):
        return (body.decode("utf-8", "replace")[:300] or reason or "").strip()


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


__all__ = ["ApiError", "ApiSession", "Dispatch", "Informer", "resource_version"]
