"""The operator process: informers feed a shared cache, events become keys, the work queue reconciles.

**kopf runs the process** (the design card names it): start-up and clean-up phases, signal
handling, the liveness endpoint and the credentials it logs in with. **The watching is the
operator's own** (:mod:`~kratix_py.operator.informers`), for three things kopf's watch streams
cannot do: relist after ``410 Gone`` *and drop what disappeared meanwhile* (a shared cache needs
that, or it keeps deleted objects forever); watch one request kind by its exact group, version and
plural from the moment its CRD is established and stop that watch cleanly when it goes (kopf's
category selector resolves to each group's preferred version only, and its stream for a deleted
CRD can take the process down); and keep one list+watch per kind with indexes that every
reconciler reads instead of the API. kopf therefore registers no resource handlers here.

Each change an informer's store takes in (from the watch or from one of the operator's own writes)
goes to :meth:`Operator.route`, which maps it to the keys of the objects that must be reconciled;
the queue runs the reconcilers, which read from the cache and write to the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import kopf

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.core import conditions as cond
from kratix_py.core.pipelines import PipelineSettings
from kratix_py.operator import metrics
from kratix_py.operator import resources as r
from kratix_py.operator.cache import CachedKube, ClusterCache, resource_id
from kratix_py.operator.catalog import CatalogWriter
from kratix_py.operator.destinations import DestinationReconciler, destination_key
from kratix_py.operator.health import BY_REQUEST, HealthReconciler, health_key, records_for
from kratix_py.operator.informers import ApiSession, Informer
from kratix_py.operator.job_pods import POD_JOB_NAME_LABEL, JobPodReaper, job_pods_key, waits_for_ttl
from kratix_py.operator.leader import LeaderElection
from kratix_py.operator.logs import ObjectRef, ref_for_key
from kratix_py.operator.placements import WorkPlacementReconciler, placement_key
from kratix_py.operator.pod_failures import PodFailureRecorder, pod_failure_key, worth_recording
from kratix_py.operator.promises import PromiseReconciler, required_promise_names
from kratix_py.operator.queue import Key, NotLeading, WorkQueue
from kratix_py.operator.releases import PromiseReleaseReconciler, release_key
from kratix_py.operator.request_kinds import RequestKinds, ServedKind
from kratix_py.operator.requests import RequestReconciler, request_key
from kratix_py.operator.revisions import RevisionReconciler, revisions_key
from kratix_py.operator.settings import OperatorSettings, catalog_selector
from kratix_py.operator.statestores import (
    STATE_STORE_KINDS,
    StateStoreReconciler,
    StateStores,
    build_writer,
    store_key,
)
from kratix_py.operator.store import DELETED, Change, Store, Transform, strip_managed_fields
from kratix_py.operator.temproot import TempRoot
from kratix_py.operator.workflows import WorkflowRunner
from kratix_py.operator.works import WorkReconciler, work_key

log = logging.getLogger(__name__)

SYNC_WAIT = 20.0
"""Seconds start-up waits for the first lists before kopf reports ready (the queue waits longer)."""


@dataclass(frozen=True)
class Watched:
    """One kind the operator lists and watches."""

    resource: k.Resource
    index_labels: tuple[str, ...] = ()
    label_selector: str | None = None
    transform: Transform | None = None
    reads: bool = True
    """Serve reconcilers' reads from it (False: only its events matter, e.g. Secrets' metadata)."""
    indexes: tuple[k.Index, ...] = ()
    """Computed lookups kept beside the label indexes (see :meth:`kratix_py.kube.Kube.list_by`)."""
    packed: bool = False
    """Hold objects compressed (kinds with one object or more per request; see :mod:`.store`)."""


def _spec_changed(change: Change) -> bool:
    """Whether an object came, went or got a new spec (not only a status or label change)."""
    if change.old is None or change.new is None:
        return True
    return bool(change.old.get("spec") != change.new.get("spec"))


def _job_summary(job: dict[str, Any]) -> dict[str, Any]:
    """What the workflows read of a Job: metadata, ``spec.suspend`` and status (not the pod template,
    which is most of a Job and would cost memory for every Job kept)."""
    job = strip_managed_fields(job)
    spec = job.get("spec") or {}
    return {**job, "spec": {key: spec[key] for key in ("suspend", "backoffLimit") if key in spec}}


_POD_CONTAINER_FIELDS = ("name", "env", "envFrom")


def _pod_summary(pod: dict[str, Any]) -> dict[str, Any]:
    """What the operator reads of a pipeline pod: metadata, status, and of its spec only what says
    which Secrets it reads (to mask them in its log). There is a pod per pipeline run, so the
    container images, commands and mounts would cost memory for every run kept."""
    pod = strip_managed_fields(pod)
    status = pod.get("status") or {}
    if status.get("phase") == "Succeeded":
        # Nothing failed in it to read: kept only to be found by its Job (pod TTL), by labels.
        return {**pod, "spec": {}, "status": {"phase": "Succeeded"}}
    spec = pod.get("spec") or {}
    kept: dict[str, Any] = {}
    for field in ("initContainers", "containers"):
        if field in spec:
            kept[field] = [
                {key: container[key] for key in _POD_CONTAINER_FIELDS if key in container}
                for container in spec[field] or []
            ]
    volumes = [volume for volume in spec.get("volumes") or [] if "secret" in volume or "projected" in volume]
    if volumes:
        kept["volumes"] = volumes
    return {**pod, "spec": kept}


def _secret_metadata(secret: dict[str, Any]) -> dict[str, Any]:
    """Secrets are watched for their versions only (a rotated store Secret re-checks the store):
    their values never enter the cache."""
    meta = secret.get("metadata") or {}
    kept = {key: meta[key] for key in ("name", "namespace", "uid", "resourceVersion") if key in meta}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": kept}


_BY_PROMISE = (c.LABEL_PROMISE_NAME,)
_PROMISE_LABELLED = c.LABEL_PROMISE_NAME

WATCHED: tuple[Watched, ...] = (
    Watched(r.PROMISES, transform=strip_managed_fields),
    Watched(r.DESTINATIONS, transform=strip_managed_fields),
    Watched(r.PROMISE_RELEASES, transform=strip_managed_fields),
    Watched(r.HEALTH_RECORDS, indexes=(BY_REQUEST,), transform=strip_managed_fields),
    Watched(r.PROMISE_REVISIONS, index_labels=_BY_PROMISE, transform=strip_managed_fields),
    Watched(
        r.RESOURCE_BINDINGS,
        index_labels=(c.LABEL_PROMISE_NAME, c.LABEL_RESOURCE_NAME),
        transform=strip_managed_fields,
        packed=True,
    ),
    Watched(r.GIT_STATE_STORES, transform=strip_managed_fields),
    Watched(r.BUCKET_STATE_STORES, transform=strip_managed_fields),
    Watched(
        r.WORKS,
        index_labels=(c.LABEL_PROMISE_NAME, c.LABEL_RESOURCE_NAME),
        transform=strip_managed_fields,
        packed=True,
    ),
    Watched(
        r.WORKPLACEMENTS,
        index_labels=(c.LABEL_WORK, c.LABEL_TARGET_DESTINATION_NAME),
        transform=strip_managed_fields,
        packed=True,
    ),
    Watched(
        k.JOBS,
        index_labels=(c.LABEL_PROMISE_NAME, c.LABEL_RESOURCE_NAME),
        label_selector=_PROMISE_LABELLED,
        transform=_job_summary,
        packed=True,
    ),
    Watched(
        k.CRDS, index_labels=_BY_PROMISE, label_selector=_PROMISE_LABELLED, transform=strip_managed_fields
    ),
    Watched(k.SECRETS, transform=_secret_metadata, reads=False),
    # Pipeline pods: a failed one is read while it exists (the Job controller deletes it when the
    # Job fails under restartPolicy OnFailure) and what it said is kept on its Job.
    Watched(
        k.PODS,
        index_labels=(POD_JOB_NAME_LABEL,),
        label_selector=_PROMISE_LABELLED,
        transform=_pod_summary,
        packed=True,
    ),
    # What pipelines get (r.PIPELINE_RBAC_AND_CONFIG): applied on every run, so read from here.
    Watched(k.SERVICEACCOUNTS, _BY_PROMISE, _PROMISE_LABELLED, strip_managed_fields),
    Watched(k.CONFIGMAPS, _BY_PROMISE, _PROMISE_LABELLED, strip_managed_fields),
    Watched(k.ROLES, _BY_PROMISE, _PROMISE_LABELLED, strip_managed_fields),
    Watched(k.ROLEBINDINGS, _BY_PROMISE, _PROMISE_LABELLED, strip_managed_fields),
    Watched(k.CLUSTERROLES, _BY_PROMISE, _PROMISE_LABELLED, strip_managed_fields),
    Watched(k.CLUSTERROLEBINDINGS, _BY_PROMISE, _PROMISE_LABELLED, strip_managed_fields),
)
"""Every kind the operator reads, and how it is kept (request kinds come and go with their CRDs)."""


class Operator:
    """Everything one operator process holds: API access, the cache, reconcilers and the queue."""

    def __init__(self, settings: OperatorSettings, api_client: Any = None) -> None:
        self.settings = settings
        self.api_client = api_client if api_client is not None else k.load_api_client(settings.kubeconfig)
        self.api_client.rest_client.pool_manager.connection_pool_kw["maxsize"] = settings.workers + 8
        self.cache = ClusterCache()
        self.kinds = RequestKinds()
        self.leading = False
        """True while this replica may write: it holds the Lease (always, without leader election)."""
        self.term = 0
        """Counts the times this replica became the leader; a batch of an older term never lands."""
        self.kube = CachedKube(
            self.api_client, self.cache, on_request=_count_request, fence=self.check_leading
        )
        self.plain_kube = k.Kube(self.api_client, on_request=_count_request)
        """Unfenced, for the Lease itself and start-up chores every replica may do."""
        workflows = WorkflowRunner(
            self.kube,
            pipeline_settings(settings),
            jobs_to_keep=settings.jobs_to_keep,
            default_interval=settings.reconcile_interval,
            reconcile_after_failure=settings.reconcile_after_failure,
        )
        # Clones and credential files live in a folder of our own; what killed operators left
        # behind in the same temp root is removed now (issue 11, item 12).
        self.temp_root = TempRoot.claim()
        self.stores = StateStores(
            self.kube,
            enqueue=self.enqueue,
            batch_window=settings.batch_window,
            fence=self.check_leading,
            writer_factory=functools.partial(build_writer, temp_root=self.temp_root),
        )
        self.catalog = CatalogWriter(self.kube, catalog_selector(settings.backstage_catalog_selector))
        self.requests = RequestReconciler(
            self.kube,
            workflows,
            kinds=self.kinds,
            catalog=self.catalog,
            model=self.cache.model,
            binding_strategy=settings.binding_version_strategy,
        )
        ttl = settings.pod_ttl_seconds_after_finished
        self.job_pods = JobPodReaper(self.kube, ttl) if ttl else None
        """Deletes finished pipeline Jobs' pods (Kratix's podTTLSecondsAfterFinished); None: pods stay."""
        self.queue = WorkQueue(
            {
                "promise": PromiseReconciler(
                    self.kube,
                    workflows,
                    enqueue_requests=self.enqueue_requests,
                    catalog=self.catalog,
                    model=self.cache.model,
                ),
                "request": self.requests,
                "work": WorkReconciler(self.kube, model=self.cache.model),
                "workplacement": WorkPlacementReconciler(
                    self.kube,
                    self.stores,
                    rewrite_interval=settings.state_store_reconciliation_interval,
                    model=self.cache.model,
                    enqueue=self.enqueue,
                ),
                "destination": DestinationReconciler(
                    self.kube, self.stores, enqueue=self.enqueue, model=self.cache.model
                ),
                "statestore": StateStoreReconciler(self.kube, self.stores, enqueue=self.enqueue),
                "promiserelease": PromiseReleaseReconciler(self.kube, model=self.cache.model),
                "health": HealthReconciler(self.kube, kinds=self.kinds),
                "revisions": RevisionReconciler(self.kube),
                **({"jobpods": self.job_pods} if self.job_pods is not None else {}),
                "podfailure": PodFailureRecorder(
                    self.kube, secret_values=workflows.secret_values, log_tail=workflows.log_tail
                ),
            },
            workers=settings.workers,
            describe=self.describe_key,
        )
        self.queue.pause()  # until the caches are synced (and, with leader election, the Lease held)
        self.election: LeaderElection | None = None
        self._api: ApiSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._fixed: list[Informer] = []
        self._request_informers: dict[str, tuple[ServedKind, list[Informer]]] = {}
        self._destination_views: dict[str, tuple[Any, ...]] = {}
        self._views_lock = threading.Lock()

    # -- leadership -------------------------------------------------------------------------------------
    def check_leading(self) -> None:
        """The write fence: every API write and state-store push asks it first."""
        if not self.leading:
            raise NotLeading("this replica does not hold the Lease: nothing is written")

    def _gain(self) -> None:
        self.term += 1
        self.leading = True
        self.stores.resume(self.term)
        self.queue.resume()
        log.info("leading (term %d): reconciling", self.term)

    def _lose(self, why: str) -> None:
        # Fence first: from here no write leaves this replica, whatever is still running.
        self.leading = False
        self.queue.pause()
        self.stores.pause()
        log.error("stopped leading: %s; standing by until the Lease is free again", why)

    async def lead(self, election: LeaderElection) -> None:
        """Hold the Lease: reconcile while we have it, stand by while someone else does."""
        renew_every = election.lease_duration.total_seconds() / 3
        deadline = election.renew_deadline.total_seconds()
        renewed_at: float | None = None
        while True:
            holding: bool | None
            try:
                holding = await asyncio.to_thread(election.try_acquire)
            except Exception as error:  # the API is unreachable: we cannot know yet
                log.warning("leader election: %s", getattr(error, "message", error))
                holding = None
            now = time.monotonic()
            if holding:
                renewed_at = now
                if not self.leading:
                    self._gain()
            elif self.leading:
                if holding is False:
                    self._lose(f"another replica holds the Lease {election.name}")
                elif renewed_at is None or now - renewed_at > deadline:
                    self._lose(f"the Lease {election.name} could not be renewed for {deadline:.0f}s")
            await asyncio.sleep(renew_every)

    # -- events -> keys ---------------------------------------------------------------------------------
    def enqueue(self, key: Key, delay: float = 0.0) -> None:
        """Add ``key`` to the queue (from any thread)."""
        self.queue.add(key, delay)

    def route(self, resource: k.Resource, change: Change) -> None:
        """Map one change of the cluster to the keys of the objects that must be reconciled."""
        obj = change.obj
        meta = obj.get("metadata") or {}
        name, namespace = str(meta.get("name") or ""), str(meta.get("namespace") or "")
        rid = resource_id(resource)
        if rid == resource_id(r.PROMISES):
            self.enqueue(("promise", name))
            self.enqueue(revisions_key(name))
            # Promises that require this one re-check their requirements at once (Kratix watches
            # the Promises in status.requiredBy for the same reason).
            for requirer in self.promises_requiring(name):
                self.enqueue(("promise", requirer))
            # The Promises this one requires (before and after the change) keep status.requiredBy.
            for required in required_promise_names(change.old) | required_promise_names(change.new):
                self.enqueue(("promise", required))
            release = (meta.get("labels") or {}).get(c.LABEL_PROMISE_RELEASE_NAME)
            if release:  # a released Promise that changed or went is the release's business too
                self.enqueue(release_key(str(release)))
        elif rid == resource_id(r.PROMISE_REVISIONS):
            promise = (meta.get("labels") or {}).get(c.LABEL_PROMISE_NAME)
            if promise:
                self.enqueue(revisions_key(str(promise)))
                if _spec_changed(change):
                    # Requests pinned to this version run its new spec (one pass per revision
                    # change, not per request reconcile).
                    self.enqueue_requests(str(promise))
        elif rid == resource_id(r.RESOURCE_BINDINGS):
            spec = obj.get("spec") or {}
            served = self.kinds.of_promise(str((spec.get("promiseRef") or {}).get("name") or ""))
            request = (spec.get("resourceRef") or {}).get("name")
            if served is not None and request:
                self.enqueue(
                    request_key(served.group, served.version, served.plural, namespace, str(request))
                )
        elif rid == resource_id(r.PROMISE_RELEASES):
            self.enqueue(release_key(name))
        elif rid == resource_id(r.HEALTH_RECORDS):
            target = health_key(obj)
            if target is not None:
                self.enqueue(target)
        elif rid == resource_id(r.WORKS):
            self.enqueue(work_key(namespace, name))
            owner = self.key_for_work(obj)
            if owner is not None:
                self.enqueue(owner)
        elif rid == resource_id(r.WORKPLACEMENTS):
            self.enqueue(placement_key(namespace, name))
            work = (meta.get("labels") or {}).get(c.LABEL_WORK)
            if work:
                self.enqueue(work_key(namespace, str(work)))
        elif rid == resource_id(k.JOBS):
            owner = self.key_for_job(obj)
            if owner is not None:
                self.enqueue(owner)
            if self.job_pods is not None and change.type != DELETED and waits_for_ttl(obj):
                # Looked at again when the TTL is due: a delay in the queue, not a timer per Job.
                due = self.job_pods.due(obj) - datetime.now(UTC)
                self.enqueue(job_pods_key(namespace, name), max(due.total_seconds(), 0.0))
        elif rid == resource_id(k.PODS):
            # A failed pod's deletion too: the recorder then forgets the pod.
            if worth_recording(obj):
                self.enqueue(pod_failure_key(namespace, name))
        elif rid == resource_id(r.DESTINATIONS):
            self.enqueue(destination_key(name))
            if self.destination_changed(change):
                self.destination_moved(name)
                if change.type != DELETED and self.catalog.selects(obj):
                    # The first (or a changed) catalog Destination: every Promise and request
                    # writes its catalog Work now rather than at its next change.
                    for listed in self.kube.list(r.PROMISES):
                        self.enqueue(("promise", listed["metadata"]["name"]))
                        self.enqueue_requests(listed["metadata"]["name"])
        elif rid in {resource_id(r.STATE_STORES[kind]) for kind in STATE_STORE_KINDS}:
            kind = next(kind for kind in STATE_STORE_KINDS if resource_id(r.STATE_STORES[kind]) == rid)
            self.enqueue(store_key(kind, name))
        elif rid == resource_id(k.SECRETS):
            # Only Secrets a state store has named matter; the rest are ignored here.
            for kind, store in self.stores.stores_using_secret(namespace, name):
                self.enqueue(store_key(kind, store))
        elif rid == resource_id(k.CRDS):
            self.kinds.update(obj, deleted=change.type == DELETED)
            promise = (meta.get("labels") or {}).get(c.LABEL_PROMISE_NAME)
            if promise:
                self.enqueue(("promise", str(promise)))
            self._on_loop(self._sync_request_informers)
        else:
            served = self.kinds.by_plural(resource.group, resource.plural)
            if served is not None and served.version == resource.version:
                self.enqueue(request_key(served.group, served.version, served.plural, namespace, name))
                # A request that (re)appears after its HealthRecords shows them; one that goes
                # lets records that still carry Kratix's finalizer go.
                if records_for(self.kube, served.promise, str(namespace), name):
                    self.enqueue(("health", served.promise, namespace, name))

    def describe_key(self, key: Key) -> ObjectRef:
        """How log lines name a key's object: a request by its Kind, not its plural."""
        if key and key[0] == "request" and len(key) == 6:
            served = self.kinds.by_plural(str(key[1]), str(key[3]))
            return ref_for_key(key, served.kind if served is not None else None)
        return ref_for_key(key)

    def destination_changed(self, change: Change) -> bool:
        """Whether a Destination event can change scheduling: labels, spec, deletion or existence.

        Status-only updates (the Destination's own Ready condition) do not reschedule every Work.
        """
        meta = change.obj.get("metadata") or {}
        name = str(meta.get("name"))
        with self._views_lock:
            if change.type == DELETED:
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

    def destination_moved(self, name: str) -> None:
        """A Destination appeared, changed or went away: reschedule every Work, and let its own
        placements write again (its path or store may be new).

        Before a kind's cache has synced this reads nothing of it: its first list enqueues every
        object anyway, and asking the API here instead (at start, while it may still answer 429)
        would only fail inside an event handler."""
        if not (self.cache.synced(r.WORKS) and self.cache.synced(r.WORKPLACEMENTS)):
            return
        for work in self.kube.list(r.WORKS):
            meta = work["metadata"]
            self.enqueue(work_key(meta["namespace"], meta["name"]))
        for placement in self.kube.list(r.WORKPLACEMENTS, labels={c.LABEL_TARGET_DESTINATION_NAME: name}):
            meta = placement["metadata"]
            self.enqueue(placement_key(meta["namespace"], meta["name"]))
        # A Destination refused for a path another one had may have its directory now.
        for other in self.kube.list(r.DESTINATIONS):
            ready = cond.find((other.get("status") or {}).get("conditions"), c.CONDITION_READY) or {}
            if ready.get("reason") == "PathConflict":
                self.enqueue(destination_key(str(other["metadata"]["name"])))

    def promises_requiring(self, name: str) -> list[str]:
        """Names of the Promises whose ``requiredPromises`` name ``name``."""
        return [
            promise["metadata"]["name"]
            for promise in self.kube.list(r.PROMISES)
            if name in required_promise_names(promise)
        ]

    def enqueue_requests(self, promise_name: str) -> None:
        """Reconcile every request of a Promise (after the Promise changed)."""
        served = self.kinds.of_promise(promise_name)
        if served is None:
            return
        requests = k.Resource(served.group, served.version, served.plural, True, served.kind)
        for request in self.kube.list(requests):
            meta = request["metadata"]
            self.enqueue(
                request_key(served.group, served.version, served.plural, meta["namespace"], meta["name"])
            )

    def key_for_job(self, job: Mapping[str, Any]) -> Key | None:
        """The object a pipeline Job works for, from the annotations every pipeline Job carries."""
        annotations = (job.get("metadata") or {}).get("annotations") or {}
        kind = annotations.get(c.ANNOTATION_JOB_RESOURCE_KIND)
        name = annotations.get(c.ANNOTATION_JOB_RESOURCE_NAME)
        if not kind or not name:
            return None
        if kind == "Promise":
            return ("promise", name)
        group = str(annotations.get(c.ANNOTATION_JOB_RESOURCE_API_VERSION, "")).rpartition("/")[0]
        served = self.kinds.by_kind(group, str(kind))
        if served is None:
            return None
        namespace = str(annotations.get(c.ANNOTATION_JOB_RESOURCE_NAMESPACE, ""))
        return request_key(served.group, served.version, served.plural, namespace, str(name))

    def key_for_work(self, work: Mapping[str, Any]) -> Key | None:
        labels = (work.get("metadata") or {}).get("labels") or {}
        promise_name = labels.get(c.LABEL_PROMISE_NAME)
        if not promise_name:
            return None
        if labels.get(c.LABEL_WORK_TYPE) != "resource":
            return ("promise", promise_name)
        served = self.kinds.of_promise(promise_name)
        resource_name = labels.get(c.LABEL_RESOURCE_NAME)
        if served is None or not resource_name:
            return None
        namespace = labels.get(c.LABEL_RESOURCE_NAMESPACE) or (work.get("metadata") or {}).get("namespace")
        return request_key(served.group, served.version, served.plural, str(namespace), str(resource_name))

    # -- informers --------------------------------------------------------------------------------------
    def _informer(
        self, watched: Watched, namespace: str | None = None, store: Store | None = None
    ) -> Informer:
        assert self._api is not None
        informer = Informer(
            self._api,
            watched.resource,
            store
            or Store(
                index_labels=watched.index_labels,
                indexes=watched.indexes,
                transform=watched.transform,
                check_mutations=self.settings.check_cache_mutations,
                packed=watched.packed,
            ),
            self.route,
            namespace=namespace,
            label_selector=watched.label_selector,
        )
        if watched.reads:
            self.cache.add(informer)
        return informer

    def _sync_request_informers(self) -> None:
        """Watch exactly the request kinds whose CRDs are established; stop the others (on the loop)."""
        wanted = {kind.crd_name: kind for kind in self.kinds.all() if kind.established}
        for crd_name, (watching, informers) in list(self._request_informers.items()):
            kind = wanted.get(crd_name)
            if kind == watching:
                continue
            del self._request_informers[crd_name]
            for informer in informers:
                self.cache.remove(informer)
                self._spawn(informer.stop())
            if kind is None:
                log.info("stopped watching %s", crd_name)
        for crd_name, kind in wanted.items():
            if crd_name not in self._request_informers:
                # A new CRD generation restarts the watch too: the API server applies a new
                # schema's defaults when objects are read, with no watch event, so only a fresh
                # list shows requests as the pipelines will see them.
                self._request_informers[crd_name] = (kind, self._watch_requests(kind))

    def _watch_requests(self, kind: ServedKind) -> list[Informer]:
        resource = k.Resource(kind.group, kind.version, kind.plural, True, kind.kind)
        watched = Watched(resource, transform=strip_managed_fields, packed=True)
        namespaces: tuple[str | None, ...] = self.settings.namespaces or (None,)
        store = Store(
            transform=watched.transform, check_mutations=self.settings.check_cache_mutations, packed=True
        )
        informers = [self._informer(watched, namespace, store).start() for namespace in namespaces]
        log.info("watching %s requests (%s, Promise %s)", kind.kind, kind.resource.api_version, kind.promise)
        return informers

    def _on_loop(self, action: Callable[[], None]) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            action()
        else:
            with contextlib.suppress(RuntimeError):  # the loop is closed: the operator is stopping
                loop.call_soon_threadsafe(action)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.append(task)
        task.add_done_callback(lambda done: self._tasks.remove(done) if done in self._tasks else None)

    def _secret_version(self, namespace: str, name: str) -> str | None:
        secrets = next((i for i in self._fixed if i.resource == k.SECRETS), None)
        if secrets is None or not secrets.synced.is_set():
            return None
        found = secrets.store.get(namespace, name)
        return str(found["metadata"].get("resourceVersion")) if found is not None else None

    def informers_synced(self) -> bool:
        return all(informer.synced.is_set() for informer in self._fixed)

    async def _wait_synced(self, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.informers_synced():
            if deadline is not None and time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    async def _activate(self) -> None:
        """Reconcile once every cache is filled: a missing object in a half-filled cache proves nothing."""
        if not await self._wait_synced(None):
            return
        log.info("caches synced (%s)", ", ".join(f"{i.name}: {len(i.store)}" for i in self._fixed))
        if self.settings.leader_election:
            self.election = LeaderElection(self.plain_kube, c.SYSTEM_NAMESPACE)
            self._spawn(self.lead(self.election))
        else:
            self._gain()

    # -- kopf -------------------------------------------------------------------------------------------
    def registry(self) -> kopf.OperatorRegistry:
        """A fresh kopf registry with this operator's start-up and clean-up (one per process or test)."""
        registry = kopf.OperatorRegistry()
        operator = self

        @kopf.on.startup(registry=registry)
        async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
            settings.posting.level = logging.WARNING
            settings.networking.request_timeout = 60
            settings.peering.standalone = True
            operator._loop = asyncio.get_running_loop()
            operator._api = ApiSession(operator.api_client.configuration)
            await asyncio.to_thread(operator.ensure_system_namespace)
            operator._fixed = [operator._informer(watched).start() for watched in WATCHED]
            operator.stores.secret_version = operator._secret_version
            operator._spawn(operator.queue.run())
            operator._spawn(operator._activate())
            if not await operator._wait_synced(SYNC_WAIT):
                log.warning(
                    "the caches are not filled after %.0fs; reconciling starts once they are", SYNC_WAIT
                )

        @kopf.on.cleanup(registry=registry)
        async def cleanup(**_: Any) -> None:
            await operator.shutdown()

        @kopf.on.login(registry=registry)
        def login(**_: Any) -> kopf.ConnectionInfo:
            return connection_info(operator.api_client)

        return registry

    async def shutdown(self) -> None:
        """Stop reconciling, hand the Lease over, close the stores and the watches."""
        self.queue.stop()
        await self.queue.drain(timeout=5)
        if self.election is not None and self.leading:
            self.leading = False
            await asyncio.to_thread(self.election.release)
        self.leading = False
        await asyncio.to_thread(self.stores.close)
        for _, informers in self._request_informers.values():
            for informer in informers:
                await informer.stop()
        for informer in self._fixed:
            await informer.stop()
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._api is not None:
            await self._api.close()
        self._loop = None

    def ensure_system_namespace(self) -> None:
        try:
            self.plain_kube.create(
                k.NAMESPACES,
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": c.SYSTEM_NAMESPACE}},
            )
        except k.KubeError as error:
            if not error.conflict and error.status != 403:
                log.warning("could not create the namespace %s: %s", c.SYSTEM_NAMESPACE, error.message)

    async def run(
        self,
        *,
        stop_flag: threading.Event | asyncio.Event | None = None,
        ready_flag: threading.Event | asyncio.Event | None = None,
        liveness_endpoint: str | None = None,
    ) -> None:
        try:
            await kopf.operator(
                registry=self.registry(),
                clusterwide=True,
                stop_flag=stop_flag,
                ready_flag=ready_flag,
                liveness_endpoint=liveness_endpoint,
                standalone=True,
            )
        finally:
            self.temp_root.release()


def pipeline_settings(settings: OperatorSettings) -> PipelineSettings:
    """What pipeline Jobs are built with; unset defaults keep PipelineSettings' own."""
    defaults: dict[str, Any] = {}
    if settings.default_container_security_context is not None:
        defaults["default_container_security_context"] = settings.default_container_security_context or None
    if settings.default_container_resources is not None:
        defaults["default_container_resources"] = settings.default_container_resources
    return PipelineSettings(
        adapter_image=settings.pipeline_adapter_image,
        adapter_pull_secret=settings.pipeline_adapter_pull_secret,
        default_backoff_limit=settings.default_backoff_limit,
        default_active_deadline_seconds=settings.default_active_deadline_seconds,
        default_image_pull_policy=settings.default_image_pull_policy,
        **defaults,
    )


def _count_request(verb: str, code: int) -> None:
    metrics.API_REQUESTS.labels(verb, str(code)).inc()


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
