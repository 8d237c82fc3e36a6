"""HealthRecords into their request's ``status.healthStatus`` (kratix-behaviour.md §1.10).

The key is the *request* a record names, ``("health", promise, namespace, name)``: every change of
a record (including its deletion) and of the request recomputes that request's health from the
records that exist then. Deleting a record therefore needs no finalizer, and kratix-py adds none:
Kratix's ``kratix.io/health-record-cleanup`` blocks a record's deletion until its request's status
is rewritten, and sticks for ever when the request or Promise is gone first. A record that still
carries it (written while Kratix ran the platform) has it removed once the request's status no
longer lists it, or at once when there is no request. A record for a request that does not exist
is logged with the fix.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.core.health import GOOD_STATES, health_status, is_for
from kratix_py.operator import resources as r
from kratix_py.operator.queue import Key
from kratix_py.operator.reconciler import Reconciler, deleting
from kratix_py.operator.request_kinds import RequestKinds

log = logging.getLogger(__name__)

HealthKey = tuple[str, str, str, str]


def health_key(record: Mapping[str, Any]) -> HealthKey | None:
    """The request a HealthRecord is about, as a queue key (None: it names no request)."""
    data = record.get("data") or {}
    promise = (data.get("promiseRef") or {}).get("name")
    ref = data.get("resourceRef") or {}
    namespace = ref.get("namespace") or (record.get("metadata") or {}).get("namespace")
    if not promise or not ref.get("name") or not namespace:
        return None
    return ("health", str(promise), str(namespace), str(ref["name"]))


def _request_of(record: Mapping[str, Any]) -> str | None:
    key = health_key(record)
    return None if key is None else "/".join(key[1:])


BY_REQUEST = k.Index("request", _request_of)
"""HealthRecords by the request they name (``promise/namespace/name``): a request's events look
its records up in the cache without reading every record of the namespace."""


def records_for(kube: k.Kube, promise: str, namespace: str, name: str) -> list[dict[str, Any]]:
    """The HealthRecords that name this request."""
    found = kube.list_by(r.HEALTH_RECORDS, BY_REQUEST, f"{promise}/{namespace}/{name}", namespace)
    return [rec for rec in found if is_for(rec, promise, namespace, name)]


class HealthReconciler(Reconciler[dict[str, Any]]):
    """Reconciles one request's health per call; see the module docstring."""

    resource = r.HEALTH_RECORDS

    def __init__(self, kube: k.Kube, *, kinds: RequestKinds, **options: Any) -> None:
        super().__init__(kube, **options)
        self.kinds = kinds

    def __call__(self, key: Key) -> timedelta | None:
        if self.kinds.of_promise(str(key[1])) is None:
            return self.gone(key)  # no such Promise (or it offers no API): no request to show health on
        return super().__call__(key)

    def locate(self, key: Key) -> tuple[k.Resource, str | None, str]:
        """The request the key names: the status written is the request's (records have none)."""
        served = self.kinds.of_promise(str(key[1]))
        assert served is not None  # checked by __call__
        return (
            k.Resource(served.group, served.version, served.plural, True, served.kind),
            str(key[2]),
            str(key[3]),
        )

    def _records(self, key: Key) -> list[dict[str, Any]]:
        _, promise, namespace, name = (str(part) for part in key)
        return records_for(self.kube, promise, namespace, name)

    def gone(self, key: Key) -> timedelta | None:
        self._orphaned(self._records(key), key)
        return None

    def delete(self, key: Key, obj: dict[str, Any], parsed: dict[str, Any] | None) -> timedelta | None:
        self._orphaned(self._records(key), key)
        return None

    def reconcile(self, key: Key, obj: dict[str, Any], parsed: dict[str, Any]) -> timedelta | None:
        records = self._records(key)
        live = [rec for rec in records if not deleting(rec)]
        old = obj.get("status") or {}
        new = copy.deepcopy(old)
        wanted = health_status(live)
        if wanted is None:
            new.pop("healthStatus", None)
        else:
            new["healthStatus"] = wanted
        events = []
        before = (old.get("healthStatus") or {}).get("state")
        if wanted is not None and wanted["state"] != before:
            kind = "Normal" if wanted["state"] in GOOD_STATES else "Warning"
            events.append((kind, "HealthRecord", f"Health state is {wanted['state']}"))
        self.write_status(obj, old, new, events, resource=self.locate(key)[0])
        self._release(records)
        return None

    def _orphaned(self, records: list[dict[str, Any]], key: Key) -> None:
        _, promise, namespace, name = (str(part) for part in key)
        live = [rec for rec in records if not deleting(rec)]
        if live:
            log.warning(
                "HealthRecord %s names %s request %s/%s, which does not exist: create the request, "
                "fix data.promiseRef / data.resourceRef, or delete the record",
                ", ".join(sorted(str(rec["metadata"]["name"]) for rec in live)),
                promise,
                namespace,
                name,
            )
        self._release(records)

    def _release(self, records: list[dict[str, Any]]) -> None:
        """Let deleted records go (the status written above no longer lists them)."""
        for record in records:
            meta = record["metadata"]
            finalizers = list(meta.get("finalizers") or [])
            if not deleting(record) or c.FINALIZER_HEALTH_RECORD_CLEANUP not in finalizers:
                continue
            remaining = [f for f in finalizers if f != c.FINALIZER_HEALTH_RECORD_CLEANUP]
            patch = {"metadata": {"finalizers": remaining, "resourceVersion": meta["resourceVersion"]}}
            try:
                self.kube.patch(r.HEALTH_RECORDS, meta["name"], patch, meta["namespace"])
            except k.KubeError as error:
                if not error.not_found:
                    raise
