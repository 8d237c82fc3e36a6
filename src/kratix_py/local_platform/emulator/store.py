"""Object storage: the objects, the cluster-wide resourceVersion, per-resource event logs, watchers.

Everything here runs on the emulator's event loop thread, and no method awaits, so a list (which
reads the current resourceVersion) and a watch that starts from it cannot miss an event in
between. Stored dicts are never mutated in place: every write stores a new dict, so readers may
hold on to what they got.

Costs: a get/put is O(1); a list is O(objects of that resource in scope); a watch from an old
resourceVersion replays O(events since then) from the resource's own log.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from . import errors

StorageKey = tuple[str, str]  # (group, plural)

ETCD_MAX_REQUEST_BYTES = 1572864
"""etcd's default ``--max-request-bytes`` (1.5 MiB): a bigger write fails in etcd, after admission."""
ETCD_MAX_GRPC_BYTES = 2 * 1024 * 1024
"""The API server's gRPC limit towards etcd: bigger writes fail before etcd sees them."""
ObjectKey = tuple[StorageKey, str, str]  # (storage key, namespace or "", name)


def check_storage_size(obj: dict[str, Any]) -> None:
    size = len(json.dumps(obj, separators=(",", ":")).encode())
    if size > ETCD_MAX_GRPC_BYTES:
        message = (
            "rpc error: code = ResourceExhausted desc = trying to send message larger than max "
            f"({size} vs. {ETCD_MAX_GRPC_BYTES})"
        )
        raise errors.ApiError(500, "", message)
    if size > ETCD_MAX_REQUEST_BYTES:
        raise errors.ApiError(500, "", "etcdserver: request is too large")


@dataclass(slots=True)
class WatchEvent:
    rv: int
    type: str  # ADDED, MODIFIED or DELETED
    obj: dict[str, Any]  # the stored object after the change (its last state for DELETED)
    old: dict[str, Any] | None  # the state before, so a selector watch can see objects leave it
    encoded: dict[str, bytes] = field(default_factory=dict)  # per apiVersion, filled lazily


class EventLog:
    """The recent events of one resource; too old a resourceVersion is answered with 410."""

    def __init__(self, size: int) -> None:
        self._events: deque[WatchEvent] = deque(maxlen=size)
        self.evicted_rv = 0  # the newest resourceVersion no longer in the log

    def append(self, event: WatchEvent) -> None:
        if self._events.maxlen is not None and len(self._events) == self._events.maxlen:
            self.evicted_rv = self._events[0].rv
        self._events.append(event)

    def since(self, rv: int) -> list[WatchEvent] | None:
        """Events newer than ``rv``, oldest first; ``None`` if some were evicted."""
        if rv < self.evicted_rv:
            return None
        newer: list[WatchEvent] = []
        for event in reversed(self._events):
            if event.rv <= rv:
                break
            newer.append(event)
        newer.reverse()
        return newer


class Watcher:
    """One open watch: events of its resource are queued for the HTTP handler to filter and send."""

    def __init__(self, key: StorageKey) -> None:
        self.key = key
        self.queue: asyncio.Queue[WatchEvent | None] = asyncio.Queue()

    def close(self) -> None:
        self.queue.put_nowait(None)


class Store:
    def __init__(self, event_log_size: int) -> None:
        self._size = event_log_size
        self.rv = 1  # the last resourceVersion handed out
        self._objects: dict[StorageKey, dict[str, dict[str, dict[str, Any]]]] = {}
        self._logs: dict[StorageKey, EventLog] = {}
        self._watchers: dict[StorageKey, set[Watcher]] = {}
        self._by_uid: dict[str, ObjectKey] = {}
        self._dependents: dict[str, set[ObjectKey]] = {}  # owner uid -> dependents
        # (label, value) -> (namespace, name) of the objects that carry it, per resource: a list
        # by label (a work-creator looking up its Work) costs what it finds, not every object.
        self._labelled: dict[StorageKey, dict[tuple[str, str], set[tuple[str, str]]]] = {}

    # --- reads ---

    def get(self, key: StorageKey, namespace: str, name: str) -> dict[str, Any] | None:
        return self._objects.get(key, {}).get(namespace, {}).get(name)

    def get_by_key(self, okey: ObjectKey) -> dict[str, Any] | None:
        return self.get(*okey)

    def locate_uid(self, uid: str) -> ObjectKey | None:
        return self._by_uid.get(uid)

    def objects(self, key: StorageKey, namespace: str | None = None) -> list[dict[str, Any]]:
        """Objects sorted by namespace then name, the order etcd keys give a real server."""
        buckets = self._objects.get(key, {})
        if namespace is not None:
            bucket = buckets.get(namespace, {})
            return [bucket[n] for n in sorted(bucket)]
        return [buckets[ns][n] for ns in sorted(buckets) for n in sorted(buckets[ns])]

    def labelled(
        self, key: StorageKey, pairs: list[tuple[str, str]], namespace: str | None = None
    ) -> list[dict[str, Any]]:
        """The objects carrying the rarest of the ``(label, value)`` pairs (the caller checks
        the rest), in the order of :meth:`objects`. Picking the rarest matters: a selector's
        first label is often one every object of the kind has (``kratix.io/promise-name``)."""
        index = self._labelled.get(key, {})
        found = min((index.get(pair, set()) for pair in pairs), key=len)
        buckets = self._objects.get(key, {})
        return [buckets[ns][name] for ns, name in sorted(found) if namespace is None or ns == namespace]

    def _index_labels(
        self, key: StorageKey, where: tuple[str, str], old: dict[str, Any] | None, new: dict[str, Any] | None
    ) -> None:
        def pairs(obj: dict[str, Any] | None) -> set[tuple[str, str]]:
            labels = (obj or {}).get("metadata", {}).get("labels") or {}
            return {(k, v) for k, v in labels.items() if isinstance(v, str)}

        before, after = pairs(old), pairs(new)
        if before == after:
            return
        index = self._labelled.setdefault(key, {})
        for pair in before - after:
            holders = index.get(pair)
            if holders is not None:
                holders.discard(where)
                if not holders:
                    del index[pair]
        for pair in after - before:
            index.setdefault(pair, set()).add(where)

    def count(self, key: StorageKey) -> int:
        return sum(len(b) for b in self._objects.get(key, {}).values())

    def namespace_keys(self, namespace: str) -> Iterator[ObjectKey]:
        for key, buckets in self._objects.items():
            for name in list(buckets.get(namespace, {})):
                yield (key, namespace, name)

    def namespace_is_empty(self, namespace: str) -> bool:
        return not any(buckets.get(namespace) for buckets in self._objects.values())

    def dependents(self, owner_uid: str) -> list[ObjectKey]:
        return sorted(self._dependents.get(owner_uid, ()))

    def log(self, key: StorageKey) -> EventLog:
        log = self._logs.get(key)
        if log is None:
            log = self._logs[key] = EventLog(self._size)
        return log

    def reset_log(self, key: StorageKey) -> None:
        """Forget a resource's history (its CRD is gone): older resourceVersions now get 410."""
        log = self._logs[key] = EventLog(self._size)
        log.evicted_rv = self.rv

    # --- writes ---

    def next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def _index_owners(self, okey: ObjectKey, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        def uids(obj: dict[str, Any] | None) -> set[str]:
            refs = (obj or {}).get("metadata", {}).get("ownerReferences") or []
            return {str(r["uid"]) for r in refs if isinstance(r, dict) and r.get("uid")}

        before, after = uids(old), uids(new)
        for uid in before - after:
            deps = self._dependents.get(uid)
            if deps is not None:
                deps.discard(okey)
                if not deps:
                    del self._dependents[uid]
        for uid in after - before:
            self._dependents.setdefault(uid, set()).add(okey)

    def put(self, key: StorageKey, obj: dict[str, Any], event_type: str) -> dict[str, Any]:
        """Store ``obj`` (ADDED or MODIFIED) with a fresh resourceVersion, and notify watchers.

        An object too big for etcd is refused as a real API server refuses it: 500 with etcd's
        own words, nothing stored (the size is measured as compact JSON, which is how custom
        objects are stored; built-ins are stored as protobuf, a little smaller).
        """
        check_storage_size(obj)
        rv = self.next_rv()
        meta = obj["metadata"]
        meta["resourceVersion"] = str(rv)
        namespace = meta.get("namespace", "")
        name = meta["name"]
        bucket = self._objects.setdefault(key, {}).setdefault(namespace, {})
        old = bucket.get(name)
        bucket[name] = obj
        okey = (key, namespace, name)
        self._by_uid[meta["uid"]] = okey
        self._index_owners(okey, old, obj)
        self._index_labels(key, (namespace, name), old, obj)
        self._publish(key, WatchEvent(rv, event_type, obj, old))
        return obj

    def remove(self, key: StorageKey, obj: dict[str, Any]) -> dict[str, Any]:
        """Delete ``obj`` (its final state), with a fresh resourceVersion on the DELETED event."""
        rv = self.next_rv()
        meta = {**obj["metadata"], "resourceVersion": str(rv)}
        obj = {**obj, "metadata": meta}  # the stored dict may be held by readers: do not mutate it
        namespace = meta.get("namespace", "")
        buckets = self._objects.get(key, {})
        bucket = buckets.get(namespace, {})
        old = bucket.pop(meta["name"], None)
        if not bucket:
            buckets.pop(namespace, None)
        self._by_uid.pop(meta.get("uid", ""), None)
        self._index_owners((key, namespace, meta["name"]), old, None)
        self._index_labels(key, (namespace, meta["name"]), old, None)
        self._publish(key, WatchEvent(rv, "DELETED", obj, old))
        return obj

    def _publish(self, key: StorageKey, event: WatchEvent) -> None:
        self.log(key).append(event)
        for watcher in self._watchers.get(key, ()):
            watcher.queue.put_nowait(event)

    # --- watchers ---

    def subscribe(self, key: StorageKey) -> Watcher:
        watcher = Watcher(key)
        self._watchers.setdefault(key, set()).add(watcher)
        return watcher

    def unsubscribe(self, watcher: Watcher) -> None:
        watchers = self._watchers.get(watcher.key)
        if watchers is not None:
            watchers.discard(watcher)
            if not watchers:
                del self._watchers[watcher.key]

    def watch_counts(self) -> dict[StorageKey, int]:
        return {key: len(ws) for key, ws in self._watchers.items() if ws}

    def close_watchers(self, key: StorageKey | None = None) -> None:
        """End open watches (of one resource, or all on shutdown)."""
        keys = [key] if key is not None else list(self._watchers)
        for k in keys:
            for watcher in list(self._watchers.get(k, ())):
                watcher.close()
