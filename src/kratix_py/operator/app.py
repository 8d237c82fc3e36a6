"""The operator process: kopf watches, our work queue reconciles.

kopf gives the watch streams (with reconnects, resourceVersion bookkeeping and CRD re-scans, so
request kinds appear and disappear with their Promises), the liveness endpoint and a clean shutdown.
Every handler here only maps an event to the key of the object that must be reconciled and puts it
in the :class:`~kratix_py.operator.queue.WorkQueue`; the reconcilers do the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import kopf

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.core.pipelines import PipelineSettings
from kratix_py.core.request_crd import REQUEST_CATEGORY, InvalidAPI, RequestKind, request_kind
from kratix_py.operator import resources as r
from kratix_py.operator.destinations import DestinationReconciler, destination_key
from kratix_py.operator.leader import LeaderElection
from kratix_py.operator.placements import WorkPlacementReconciler, placement_key
from kratix_py.operator.promises import PromiseReconciler
from kratix_py.operator.queue import Key, WorkQueue
from kratix_py.operator.requests import RequestReconciler, request_key
from kratix_py.operator.settings import OperatorSettings
from kratix_py.operator.statestores import STATE_STORE_KINDS, StateStoreReconciler, StateStores, store_key
from kratix_py.operator.workflows import WorkflowRunner
from kratix_py.operator.works import WorkReconciler, work_key

log = logging.getLogger(__name__)


@dataclass
class Operator:
    """Everything one operator process holds: API access, reconcilers and the queue."""

    settings: OperatorSettings
    api_client: Any = None
    queue: WorkQueue = field(init=False)
    kube: k.Kube = field(init=False)
    stores: StateStores = field(init=False)
    _plurals: dict[tuple[str, str], str] = field(default_factory=dict, init=False)
    _queue_task: asyncio.Task[None] | None = field(default=None, init=False)
    _leader_task: asyncio.Task[None] | None = field(default=None, init=False)
    election: LeaderElection | None = field(default=None, init=False)
    leading: bool = field(default=False, init=False)
    """True while this replica holds the Lease (always True without leader election)."""
    _loop: asyncio.AbstractEventLoop | None = field(default=None, init=False)
    _destination_views: dict[str, tuple[Any, ...]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        if self.api_client is None:
            self.api_client = k.load_api_client(self.settings.kubeconfig)
        self.api_client.rest_client.pool_manager.connection_pool_kw["maxsize"] = self.settings.workers + 4
        self.kube = k.Kube(self.api_client)
        workflows = WorkflowRunner(
            self.kube,
            PipelineSettings(
                adapter_image=self.settings.pipeline_adapter_image,
                adapter_pull_secret=self.settings.pipeline_adapter_pull_secret,
                default_backoff_limit=self.settings.default_backoff_limit,
            ),
            jobs_to_keep=self.settings.jobs_to_keep,
            default_interval=self.settings.reconcile_interval,
        )
        self.stores = StateStores(self.kube, enqueue=self.enqueue, batch_window=self.settings.batch_window)
        self.queue = WorkQueue(
            {
                "promise": PromiseReconciler(self.kube, workflows, enqueue_requests=self.enqueue_requests),
                "request": RequestReconciler(self.kube, workflows),
                "work": WorkReconciler(self.kube),
                "workplacement": WorkPlacementReconciler(self.kube, self.stores),
                "destination": DestinationReconciler(self.kube, self.stores, enqueue=self.enqueue),
                "statestore": StateStoreReconciler(self.kube, self.stores, enqueue=self.enqueue),
            },
            workers=self.settings.workers,
        )

    # -- mapping events to keys ---------------------------------------------------------------------
    def enqueue(self, key: Key, delay: float = 0.0) -> None:
        """Add ``key`` to the queue from any thread (reconcilers and store batchers run in threads).

        The queue lives on the event loop; touching it from another thread would not wake the loop,
        so those calls are handed over with ``call_soon_threadsafe``.
        """
        loop = self._loop
        if loop is None or _in_loop(loop):
            self.queue.add(key, delay)
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: the operator is stopping
            loop.call_soon_threadsafe(self.queue.add, key, delay)

    def destination_moved(self, name: str) -> None:
        """A Destination appeared, changed or went away: reschedule every Work, and let its own
        placements write again (its path or store may be new)."""
        for work in self.kube.list(r.WORKS):
            meta = work["metadata"]
            self.enqueue(work_key(meta["namespace"], meta["name"]))
        selector = {c.LABEL_TARGET_DESTINATION_NAME: name}
        for placement in self.kube.list(r.WORKPLACEMENTS, None, labels=selector):
            meta = placement["metadata"]
            self.enqueue(placement_key(meta["namespace"], meta["name"]))

    def destination_changed(self, body: Mapping[str, Any], event_type: str | None) -> bool:
        """Whether a Destination event can change scheduling: labels, spec, deletion or existence.

        Status-only updates (the Destination's own Ready condition) do not reschedule every Work.
        """
        meta = body.get("metadata") or {}
        name = str(meta.get("name"))
        if event_type == "DELETED":
            self._destination_views.pop(name, None)
            return True
        view = (
            tuple(sorted((meta.get("labels") or {}).items())),
            meta.get("generation"),
            bool(meta.get("deletionTimestamp")),
        )
        if self._destination_views.get(name) == view:
            return False
        self._destination_views[name] = view
        return True

    def state_store_handler(self, kind: str) -> Any:
        """The kopf handler for one state-store kind: reconcile the store (it enqueues its dependents)."""

        async def on_state_store(name: str, **_: Any) -> None:
            self.queue.add(store_key(kind, name))

        return on_state_store

    def request_kind(self, promise_name: str | None) -> RequestKind | None:
        """The request kind a Promise offers (None if it has no API, is gone or its API is invalid)."""
        if not promise_name:
            return None
        promise = self.kube.get(_PROMISES, promise_name) or {}
        api = (promise.get("spec") or {}).get("api")
        if not api:
            return None
        try:
            return request_kind(api)
        except InvalidAPI:
            return None

    async def lead(self, election: LeaderElection) -> None:
        """Hold the Lease: reconcile while we have it, stand by while someone else does."""
        renew_every = election.lease_duration.total_seconds() / 3
        while True:
            try:
                holding = await asyncio.to_thread(election.try_acquire)
            except Exception as error:  # the API is unreachable: we cannot know, so we must not act
                log.warning("leader election: %s", getattr(error, "message", error))
                holding = False
            if holding and not self.leading:
                self.leading = True
                self.queue.resume()
                log.info("leading: reconciling as %s", election.identity)
            elif not holding and self.leading:
                self.leading = False
                self.queue.pause()
                log.error("lost the Lease %s: standing by until it is free again", election.name)
            elif not holding:
                log.debug("standing by: another replica holds the Lease %s", election.name)
            await asyncio.sleep(renew_every)

    def promises_requiring(self, name: str) -> list[str]:
        """Names of the Promises whose ``requiredPromises`` name ``name``."""
        return [
            promise["metadata"]["name"]
            for promise in self.kube.list(_PROMISES)
            if any(r.get("name") == name for r in (promise.get("spec") or {}).get("requiredPromises") or [])
        ]

    def enqueue_requests(self, promise_name: str) -> None:
        """Reconcile every request of a Promise (after the Promise changed)."""
        kind = self.request_kind(promise_name)
        if kind is None:
            return
        for request in self.kube.list(k.Resource(kind.group, kind.version, kind.plural)):
            meta = request["metadata"]
            self.enqueue(request_key(kind.group, kind.version, kind.plural, meta["namespace"], meta["name"]))

    def key_for_job(self, job: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The object a pipeline Job works for, from the annotations every pipeline Job carries."""
        meta = job.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        labels = meta.get("labels") or {}
        kind = annotations.get(c.ANNOTATION_JOB_RESOURCE_KIND)
        name = annotations.get(c.ANNOTATION_JOB_RESOURCE_NAME)
        if not kind or not name:
            return None
        if kind == "Promise":
            return ("promise", name)
        api_version = annotations.get(c.ANNOTATION_JOB_RESOURCE_API_VERSION, "")
        group, _, version = api_version.rpartition("/")
        plural = self._plural(labels.get(c.LABEL_PROMISE_NAME), group, kind)
        if plural is None:
            return None
        return request_key(
            group, version, plural, annotations.get(c.ANNOTATION_JOB_RESOURCE_NAMESPACE, ""), name
        )

    def key_for_work(self, work: Mapping[str, Any]) -> tuple[Any, ...] | None:
        labels = (work.get("metadata") or {}).get("labels") or {}
        promise_name = labels.get(c.LABEL_PROMISE_NAME)
        if not promise_name:
            return None
        if labels.get(c.LABEL_WORK_TYPE) != "resource":
            return ("promise", promise_name)
        kind = self.request_kind(promise_name)
        if kind is None:
            return None
        namespace = labels.get(c.LABEL_RESOURCE_NAMESPACE) or (work.get("metadata") or {}).get("namespace")
        return request_key(
            kind.group, kind.version, kind.plural, str(namespace), labels[c.LABEL_RESOURCE_NAME]
        )

    def _plural(self, promise_name: str | None, group: str, kind: str) -> str | None:
        """Request kinds never change their plural: cached after the first lookup."""
        cached = self._plurals.get((group, kind))
        if cached:
            return cached
        offered = self.request_kind(promise_name)
        if offered is None:
            return None
        self._plurals[(group, kind)] = offered.plural
        return offered.plural

    # -- kopf ------------------------------------------------------------------------------------
    def registry(self) -> kopf.OperatorRegistry:
        """A fresh kopf registry with this operator's handlers (one per process or test)."""
        registry = kopf.OperatorRegistry()
        operator = self

        @kopf.on.startup(registry=registry)
        async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
            settings.posting.level = logging.WARNING
            settings.watching.server_timeout = 300
            settings.networking.request_timeout = 60
            settings.peering.standalone = True
            await asyncio.to_thread(operator.ensure_system_namespace)
            loop = asyncio.get_running_loop()
            operator._loop = loop
            if operator.settings.leader_election:
                # kopf runs (watches, /healthz) on every replica; only the Lease holder reconciles.
                operator.queue.pause()
                operator.election = LeaderElection(operator.kube, c.SYSTEM_NAMESPACE)
                operator._leader_task = loop.create_task(operator.lead(operator.election))
            else:
                operator.leading = True
            operator._queue_task = loop.create_task(operator.queue.run())

        @kopf.on.cleanup(registry=registry)
        async def cleanup(**_: Any) -> None:
            operator.queue.stop()
            if operator._leader_task is not None:
                operator._leader_task.cancel()
            if operator._queue_task is not None:
                await asyncio.wait([operator._queue_task], timeout=5)
            if operator.election is not None and operator.leading:
                await asyncio.to_thread(operator.election.release)
            await asyncio.to_thread(operator.stores.close)
            operator._loop = None

        @kopf.on.login(registry=registry)
        def login(**_: Any) -> kopf.ConnectionInfo:
            return connection_info(operator.api_client)

        @kopf.on.event(c.GROUP, c.VERSION, "promises", registry=registry)
        async def on_promise(name: str, **_: Any) -> None:
            operator.queue.add(("promise", name))
            # Promises that require this one re-check their requirements at once (Kratix watches
            # the Promises in status.requiredBy for the same reason).
            for requirer in await asyncio.to_thread(operator.promises_requiring, name):
                operator.queue.add(("promise", requirer))

        @kopf.on.event(category=REQUEST_CATEGORY, registry=registry)
        async def on_request(resource: kopf.Resource, name: str, namespace: str | None, **_: Any) -> None:
            operator.queue.add(
                request_key(resource.group, resource.version, resource.plural, namespace or "", name)
            )

        @kopf.on.event("batch", "v1", "jobs", labels={c.LABEL_PROMISE_NAME: kopf.PRESENT}, registry=registry)
        async def on_job(body: kopf.Body, **_: Any) -> None:
            key = await asyncio.to_thread(operator.key_for_job, dict(body))
            if key is not None:
                operator.queue.add(key)

        @kopf.on.event(c.GROUP, c.VERSION, "works", registry=registry)
        async def on_work(body: kopf.Body, name: str, namespace: str | None, **_: Any) -> None:
            operator.queue.add(work_key(namespace or "", name))
            key = await asyncio.to_thread(operator.key_for_work, dict(body))
            if key is not None:
                operator.queue.add(key)

        @kopf.on.event(c.GROUP, c.VERSION, "workplacements", registry=registry)
        async def on_workplacement(body: kopf.Body, name: str, namespace: str | None, **_: Any) -> None:
            operator.queue.add(placement_key(namespace or "", name))
            work = ((body.get("metadata") or {}).get("labels") or {}).get(c.LABEL_WORK)
            if work:
                operator.queue.add(work_key(namespace or "", work))

        @kopf.on.event(c.GROUP, c.VERSION, "destinations", registry=registry)
        async def on_destination(body: kopf.Body, name: str, type: str | None, **_: Any) -> None:
            operator.queue.add(destination_key(name))
            if operator.destination_changed(body, type):
                await asyncio.to_thread(operator.destination_moved, name)

        for store_kind in STATE_STORE_KINDS:
            plural = r.STATE_STORES[store_kind].plural
            kopf.on.event(c.GROUP, c.VERSION, plural, id=f"on_{plural}", registry=registry)(
                operator.state_store_handler(store_kind)
            )

        @kopf.on.event("", "v1", "secrets", registry=registry)
        async def on_secret(name: str, namespace: str | None, **_: Any) -> None:
            # Only Secrets a state store has named matter; the rest are ignored here.
            for kind, store in operator.stores.stores_using_secret(namespace or "", name):
                operator.queue.add(store_key(kind, store))

        return registry

    def ensure_system_namespace(self) -> None:
        try:
            self.kube.create(
                k.NAMESPACES,
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": c.SYSTEM_NAMESPACE}},
            )
        except k.KubeError as error:
            if not error.conflict and error.status != 403:
                raise

    async def run(
        self,
        *,
        stop_flag: threading.Event | asyncio.Event | None = None,
        ready_flag: threading.Event | asyncio.Event | None = None,
        liveness_endpoint: str | None = None,
    ) -> None:
        await kopf.operator(
            registry=self.registry(),
            clusterwide=not self.settings.namespaces,
            namespaces=self.settings.namespaces,
            stop_flag=stop_flag,
            ready_flag=ready_flag,
            liveness_endpoint=liveness_endpoint,
            standalone=True,
        )


_PROMISES = k.Resource(c.GROUP, c.VERSION, "promises", namespaced=False, kind="Promise")


def _in_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def connection_info(api_client: Any) -> kopf.ConnectionInfo:
    """kopf's credentials from the same client configuration the reconcilers use."""
    configuration = api_client.configuration
    token = (configuration.api_key or {}).get("authorization") or (configuration.api_key or {}).get(
        "BearerToken"
    )
    scheme = None
    if token and " " in token:
        scheme, token = token.split(" ", 1)
    return kopf.ConnectionInfo(
        server=configuration.host,
        ca_path=configuration.ssl_ca_cert,
        insecure=not configuration.verify_ssl,
        username=configuration.username or None,
        password=configuration.password or None,
        scheme=scheme or ("Bearer" if token else None),
        token=token,
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
        default_namespace="default",
    )
