"""The operator's reads come from its informers' stores; its writes go to the API and back into them.

:class:`ClusterCache` knows which informer holds which kind. :class:`CachedKube` is the
:class:`~kratix_py.kube.Kube` every reconciler gets: ``get`` and ``list`` are answered from the
store of a synced informer when it covers the query (an informer filtered by a label answers only
queries that include that label, and a miss there is checked with the API), everything else goes to
the API. Each write's answer is put into the store at once, so a reconcile that reads right after
its own write sees it, and the handlers hear of it without waiting for the watch.

A write refused with 409 (someone else wrote first) refreshes that object from the API before the
error goes up, so the retry reads what won instead of the same stale copy.

Objects returned are the store's own: read-only for callers (build a new dict to change one).
"""

from __future__ import annotations

import builtins
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from kratix_py import kube as k
from kratix_py.operator.informers import Informer

M = TypeVar("M", bound=BaseModel)
ModelReader = Callable[[type[M], Mapping[str, Any]], M]
"""``model.model_validate(obj)``, possibly remembered (:meth:`ClusterCache.model`)."""


def parse_model(model: type[M], obj: Mapping[str, Any]) -> M:
    return model.model_validate(obj)


ResourceId = tuple[str, str, str]
"""(group, version, plural)."""

_MODELS = 256
"""Parsed models kept (a Promise is parsed once per change, not once per request reconcile).

Bounded for memory: with thousands of requests in flight the small objects (Works, placements)
would fill any size, and they are cheap to parse again; the hot ones (Promises) stay.
"""


def resource_id(resource: k.Resource) -> ResourceId:
    return (resource.group, resource.version, resource.plural)


class ClusterCache:
    """The running informers by kind (and namespace, for kinds watched per namespace)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._informers: dict[ResourceId, dict[str | None, Informer]] = {}
        self._models: OrderedDict[tuple[str, str, str, str], BaseModel] = OrderedDict()

    def add(self, informer: Informer) -> None:
        with self._lock:
            self._informers.setdefault(resource_id(informer.resource), {})[informer.namespace] = informer

    def remove(self, informer: Informer) -> None:
        with self._lock:
            scoped = self._informers.get(resource_id(informer.resource))
            if scoped is not None and scoped.get(informer.namespace) is informer:
                del scoped[informer.namespace]
                if not scoped:
                    del self._informers[resource_id(informer.resource)]

    def informers(self) -> builtins.list[Informer]:
        with self._lock:
            return [informer for scoped in self._informers.values() for informer in scoped.values()]

    def informer(self, resource: k.Resource, namespace: str | None) -> Informer | None:
        """The synced informer that sees ``namespace`` of this kind (any namespace if None)."""
        with self._lock:
            scoped = self._informers.get(resource_id(resource))
            if not scoped:
                return None
            found = scoped.get(None)
            if found is None and namespace is not None:
                found = scoped.get(namespace)
        return found if found is not None and found.synced.is_set() else None

    def informers_for(self, resource: k.Resource) -> builtins.list[Informer]:
        with self._lock:
            return list((self._informers.get(resource_id(resource)) or {}).values())

    def synced(self, resource: k.Resource) -> bool:
        found = self.informers_for(resource)
        return bool(found) and all(informer.synced.is_set() for informer in found)

    def model(self, model: type[M], obj: Mapping[str, Any]) -> M:
        """``model.model_validate(obj)``, remembered per object version (pydantic errors propagate)."""
        meta = obj.get("metadata") or {}
        key = (model.__name__, str(meta.get("uid") or meta.get("name")), str(meta.get("namespace") or ""),
               str(meta.get("resourceVersion") or ""))  # fmt: skip
        if not key[3]:
            return model.model_validate(obj)
        with self._lock:
            held = self._models.get(key)
            if held is not None:
                self._models.move_to_end(key)
                return held  # type: ignore[return-value]
        parsed = model.model_validate(obj)
        with self._lock:
            self._models[key] = parsed
            while len(self._models) > _MODELS:
                self._models.popitem(last=False)
        return parsed


class CachedKube(k.Kube):
    """A :class:`~kratix_py.kube.Kube` that reads from the cache where it can (see the module doc)."""

    def __init__(self, api_client: Any, cache: ClusterCache, **options: Any) -> None:
        super().__init__(api_client, **options)
        self.cache = cache

    # -- reads ---------------------------------------------------------------------------------------
    def get(self, resource: k.Resource, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        informer = self.cache.informer(resource, namespace)
        if informer is not None:
            found = informer.store.get(namespace if resource.namespaced else None, name)
            if found is not None or informer.label_selector is None:
                return found
        return super().get(resource, name, namespace)

    def list(
        self,
        resource: k.Resource,
        namespace: str | None = None,
        *,
        labels: Mapping[str, str] | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> builtins.list[dict[str, Any]]:
        if label_selector is None and field_selector is None:
            if namespace is None:
                informers = self.cache.informers_for(resource)
                if informers and all(self._covers(i, labels) and i.synced.is_set() for i in informers):
                    if len(informers) == 1:
                        return informers[0].store.list(None, labels)
                    # One store shared by per-namespace informers: ask it once.
                    return informers[0].store.list(None, labels)
            else:
                informer = self.cache.informer(resource, namespace)
                if informer is not None and self._covers(informer, labels):
                    return informer.store.list(namespace if resource.namespaced else None, labels)
        return super().list(
            resource, namespace, labels=labels, label_selector=label_selector, field_selector=field_selector
        )

    def list_by(
        self, resource: k.Resource, index: k.Index, value: str, namespace: str | None = None
    ) -> builtins.list[dict[str, Any]]:
        informer = self.cache.informer(resource, namespace)
        if informer is not None and informer.label_selector is None and informer.store.has_index(index.name):
            return informer.store.list_by(index.name, value, namespace if resource.namespaced else None)
        return super().list_by(resource, index, value, namespace)

    @staticmethod
    def _covers(informer: Informer, labels: Mapping[str, str] | None) -> bool:
        """Whether the informer's label filter is implied by the query's labels."""
        selector = informer.label_selector
        if selector is None:
            return True
        wanted = dict(labels or {})
        for requirement in selector.split(","):
            key, _, value = requirement.partition("=")
            if key not in wanted or (value and wanted[key] != value):
                return False
        return True

    # -- writes --------------------------------------------------------------------------------------
    def create(
        self, resource: k.Resource, body: Mapping[str, Any], namespace: str | None = None
    ) -> dict[str, Any]:
        return self._observed(resource, super().create(resource, body, namespace))

    def replace(self, resource: k.Resource, body: Mapping[str, Any]) -> dict[str, Any]:
        meta = body["metadata"]
        try:
            return self._observed(resource, super().replace(resource, body))
        except k.KubeError as error:
            self._refresh_on_conflict(error, resource, meta["name"], meta.get("namespace"))
            raise

    def patch(
        self,
        resource: k.Resource,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        subresource: str | None = None,
        content_type: str = k.MERGE_PATCH,
    ) -> dict[str, Any]:
        try:
            result = super().patch(
                resource, name, patch, namespace, subresource=subresource, content_type=content_type
            )
        except k.KubeError as error:
            self._refresh_on_conflict(error, resource, name, namespace)
            raise
        return self._observed(resource, result)

    def _observed(self, resource: k.Resource, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        for informer in self.cache.informers_for(resource):
            if informer.namespace is None or informer.namespace == meta.get("namespace"):
                obj.setdefault("apiVersion", resource.api_version)
                if resource.kind:
                    obj.setdefault("kind", resource.kind)
                informer.observe(obj)
                break
        return obj

    def _refresh_on_conflict(
        self, error: k.KubeError, resource: k.Resource, name: str, namespace: str | None
    ) -> None:
        """After a 409 (or 422 from a failed JSON-patch test) read the winner into the store."""
        if not (error.conflict or error.status == 422) or not self.cache.informers_for(resource):
            return
        try:
            fresh = super().get(resource, name, namespace)
        except k.KubeError:
            return
        if fresh is not None:
            self._observed(resource, fresh)
