"""One kind's objects as the operator last saw them, with the indexes its reconcilers look up.

A :class:`Store` is fed by an informer (list, then watch) and by the operator's own writes (the
API's answer to a write is newer than anything the watch has delivered yet, so the next read is
not stale). Every change that reaches the store is handed back as a :class:`Change` exactly once,
whichever way it arrived: the informer dispatches it to the operator's event handlers.

Ordering uses ``resourceVersion``. The API calls it opaque, but every server in use (etcd's
revision, and the local emulator) hands out increasing integers; when a version is not an
integer the store falls back to "the newest event wins", which is what the watch order gives.

Objects are shared, not copied: readers must treat them as read-only (build a new dict to
change one). ``check_mutations`` makes the store verify that, for tests.

A store of a kind with one object per resource request (requests, Works, placements, Jobs,
bindings) can be ``packed``: each object is held as compressed bytes, with its resourceVersion
beside it, and the most recently used ones also decoded. Decoded JSON costs about twice its text
in Python objects, so with thousands of requests the cache would be most of the operator's memory;
packed against a preset dictionary (the kind's first object) it is a twentieth of that or less,
and a reconcile that reads the same objects again finds them decoded.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import logging
import marshal
import sys
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kratix_py.kube import Index

log = logging.getLogger(__name__)

ObjectKey = tuple[str, str]
"""(namespace, name); namespace is ``""`` for cluster-scoped objects."""
Transform = Callable[[dict[str, Any]], dict[str, Any]]

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"

_TOMBSTONES = 4096
"""Recently deleted objects remembered, so a late write result cannot bring one back."""

HOT = 64
"""Decoded objects a packed store keeps (the ones read or written last). A request's reconcile
reads its own few objects right after they changed, so a small window serves nearly every read;
each decoded object costs about 6 KB."""


@dataclass(frozen=True)
class Change:
    """A change the store took in: ``old`` is None for ADDED, ``new`` is None for DELETED."""

    type: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None

    @property
    def obj(self) -> dict[str, Any]:
        return self.new if self.new is not None else self.old  # type: ignore[return-value]


def object_key(obj: Mapping[str, Any]) -> ObjectKey:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def resource_version(obj: Mapping[str, Any] | None) -> int | None:
    """The object's resourceVersion as an integer, or None when it is not one."""
    try:
        return int((obj or {}).get("metadata", {}).get("resourceVersion"))
    except (TypeError, ValueError):
        return None


def strip_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """Server-side-apply bookkeeping is the largest part of many objects and never read here."""
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    return obj


def compact(value: Any) -> Any:
    """The same JSON value, with every string interned.

    Thousands of cached objects repeat the same keys, label values, condition messages and (a
    WorkPlacement copies its Work's files) workload contents; decoded JSON gives each its own copy.
    Interned, each distinct string is held once, which is most of the cache's memory.
    """
    if isinstance(value, str):
        return sys.intern(value)
    if isinstance(value, dict):
        return {
            sys.intern(key) if isinstance(key, str) else key: compact(item) for key, item in value.items()
        }
    if isinstance(value, list):
        return [compact(item) for item in value]
    return value


_ZDICT_SIZE = 32 * 1024
"""zlib looks back 32 KiB at most, so a longer preset dictionary would only cost memory."""


def pack(obj: dict[str, Any], zdict: bytes = b"") -> bytes:
    """An object as compact bytes. ``marshal`` is used because it is the fastest codec for plain
    JSON values and its output never leaves this process (it is not a format to exchange).

    ``zdict`` is a preset dictionary: objects of one kind repeat the same keys, labels and
    messages, so compressing against an earlier object of the kind makes a Job's bytes a seventh
    of what compressing it alone gives (and is faster). The same ``zdict`` must unpack it.
    """
    encoded = _encode(obj)
    if not zdict:
        return zlib.compress(encoded, 1)
    compressor = zlib.compressobj(1, zdict=zdict)
    return compressor.compress(encoded) + compressor.flush()


def unpack(blob: bytes, zdict: bytes = b"") -> dict[str, Any]:
    if not zdict:
        value: dict[str, Any] = marshal.loads(zlib.decompress(blob))
        return value
    decompressor = zlib.decompressobj(zdict=zdict)
    value = marshal.loads(decompressor.decompress(blob) + decompressor.flush())
    return value


def preset_dictionary(obj: dict[str, Any]) -> bytes:
    """A preset dictionary for packing a kind: the first object of it the store took in."""
    return _encode(obj)[-_ZDICT_SIZE:]


def _encode(obj: dict[str, Any]) -> bytes:
    try:
        return marshal.dumps(obj)
    except ValueError:  # a value JSON would not hold either: keep what the API would have sent
        return marshal.dumps(json.loads(json.dumps(obj, default=str)))


class _Held:
    """Objects by key, as plain dicts (the small kinds, read on every reconcile)."""

    def __init__(self) -> None:
        self._objects: dict[ObjectKey, dict[str, Any]] = {}

    def get(self, key: ObjectKey) -> dict[str, Any] | None:
        return self._objects.get(key)

    def version(self, key: ObjectKey) -> tuple[bool, int | None]:
        """(held?, its resourceVersion) without decoding anything."""
        obj = self._objects.get(key)
        return (obj is not None, resource_version(obj))

    def put(self, key: ObjectKey, obj: dict[str, Any]) -> None:
        self._objects[key] = obj

    def drop(self, key: ObjectKey) -> None:
        del self._objects[key]

    def keys(self) -> Iterable[ObjectKey]:
        return self._objects.keys()

    def __iter__(self) -> Iterator[ObjectKey]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._objects)


class _Packed(_Held):
    """Objects by key as packed bytes beside their resourceVersion, the last used ones decoded too."""

    def __init__(self, hot: int = HOT) -> None:  # no super().__init__(): it would hold plain dicts
        self._packed: dict[ObjectKey, tuple[int | None, bytes]] = {}
        self._hot: OrderedDict[ObjectKey, dict[str, Any]] = OrderedDict()
        self._hot_size = hot
        self._zdict = b""  # set by the first put, then fixed: every blob is packed against it

    def get(self, key: ObjectKey) -> dict[str, Any] | None:
        obj = self._hot.get(key)
        if obj is not None:
            self._hot.move_to_end(key)
            return obj
        held = self._packed.get(key)
        if held is None:
            return None
        obj = unpack(held[1], self._zdict)
        self._warm(key, obj)
        return obj

    def version(self, key: ObjectKey) -> tuple[bool, int | None]:
        held = self._packed.get(key)
        return (False, None) if held is None else (True, held[0])

    def put(self, key: ObjectKey, obj: dict[str, Any]) -> None:
        if not self._zdict:
            self._zdict = preset_dictionary(obj)
        self._packed[key] = (resource_version(obj), pack(obj, self._zdict))
        self._warm(key, obj)

    def drop(self, key: ObjectKey) -> None:
        del self._packed[key]
        self._hot.pop(key, None)

    def keys(self) -> Iterable[ObjectKey]:
        return self._packed.keys()

    def __len__(self) -> int:
        return len(self._packed)

    def _warm(self, key: ObjectKey, obj: dict[str, Any]) -> None:
        self._hot[key] = obj
        self._hot.move_to_end(key)
        while len(self._hot) > self._hot_size:
            self._hot.popitem(last=False)


class _Buckets:
    """Keys by an index value (a namespace, a label's value, a computed index).

    Most values index one object (a request's name labels its own Work, Job and binding), so a
    value with one key holds that key itself: a set of one would cost 200 bytes more, per request
    and per index.
    """

    __slots__ = ("_by_value",)

    def __init__(self) -> None:
        self._by_value: dict[str, ObjectKey | set[ObjectKey]] = {}

    def get(self, value: str) -> Collection[ObjectKey]:
        held = self._by_value.get(value)
        if held is None:
            return ()
        return held if isinstance(held, set) else (held,)

    def add(self, value: str, key: ObjectKey) -> None:
        held = self._by_value.get(value)
        if held is None:
            self._by_value[value] = key
        elif isinstance(held, set):
            held.add(key)
        elif held != key:
            self._by_value[value] = {held, key}

    def discard(self, value: str, key: ObjectKey) -> None:
        held = self._by_value.get(value)
        if isinstance(held, set):
            held.discard(key)
            if len(held) == 1:
                self._by_value[value] = next(iter(held))
        elif held == key:
            del self._by_value[value]


class Store:
    """Objects by (namespace, name), indexed by namespace, by the label keys and by the computed
    indexes given (:class:`~kratix_py.kube.Index`)."""

    def __init__(
        self,
        *,
        index_labels: Sequence[str] = (),
        indexes: Sequence[Index] = (),
        transform: Transform | None = None,
        check_mutations: bool = False,
        packed: bool = False,
    ) -> None:
        self._lock = threading.Lock()
        self._objects: _Held = _Packed() if packed else _Held()
        self._packed = packed
        self._by_namespace = _Buckets()
        self._by_label: dict[str, _Buckets] = {key: _Buckets() for key in index_labels}
        self._tombstones: OrderedDict[ObjectKey, int] = OrderedDict()
        self._transform = transform
        self._check = check_mutations
        self._digests: dict[ObjectKey, str] = {}
        self.index_labels = tuple(index_labels)
        self._indexes = {index.name: index for index in indexes}
        self._by_index: dict[str, _Buckets] = {index.name: _Buckets() for index in indexes}

    # -- reading -------------------------------------------------------------------------------------
    def get(self, namespace: str | None, name: str) -> dict[str, Any] | None:
        with self._lock:
            return self._objects.get((namespace or "", name))

    def list(
        self, namespace: str | None = None, labels: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Objects in ``namespace`` (all if None) whose labels include ``labels``, sorted by key.

        The smallest matching index (a label equality or the namespace) gives the candidates, so a
        lookup costs what it finds, not the size of the store.
        """
        wanted = dict(labels or {})
        with self._lock:
            candidates: Iterable[ObjectKey] | None = None
            size = len(self._objects) + 1
            if namespace:
                bucket = self._by_namespace.get(namespace)
                candidates, size = bucket, len(bucket)
            for label, value in wanted.items():
                index = self._by_label.get(label)
                if index is None:
                    continue
                bucket = index.get(value)
                if len(bucket) < size:
                    candidates, size = bucket, len(bucket)
            keys = self._objects.keys() if candidates is None else candidates
            found = []
            for key in keys:
                if namespace and key[0] != namespace:
                    continue
                obj = self._objects.get(key)
                if obj is None:
                    continue
                if wanted:
                    have = (obj.get("metadata") or {}).get("labels") or {}
                    if any(have.get(k) != v for k, v in wanted.items()):
                        continue
                found.append((key, obj))
        found.sort(key=lambda pair: pair[0])
        return [obj for _, obj in found]

    def has_index(self, name: str) -> bool:
        return name in self._indexes

    def list_by(self, name: str, value: str, namespace: str | None = None) -> builtins.list[dict[str, Any]]:
        """Objects whose index ``name`` gives ``value`` (in ``namespace`` if given), sorted by key."""
        with self._lock:
            keys = sorted(self._by_index[name].get(value))
            found = [self._objects.get(key) for key in keys if not namespace or key[0] == namespace]
            return [obj for obj in found if obj is not None]

    def keys(self) -> builtins.list[ObjectKey]:
        with self._lock:
            return sorted(self._objects)

    def __len__(self) -> int:
        with self._lock:
            return len(self._objects)

    # -- changing ------------------------------------------------------------------------------------
    def upsert(self, obj: dict[str, Any], *, authoritative: bool = False) -> Change | None:
        """Take in an object seen on the watch, or returned by a write; the change, if any.

        An object older than the one held (by resourceVersion) is ignored, and so is a write's
        result for an object deleted since. ``authoritative`` (the watch and lists) lets a newer
        version bring back a deleted key; a write's result cannot.
        """
        if self._transform is not None:
            obj = self._transform(obj)
        if not self._packed:  # packed objects share nothing, their bytes are compact already
            obj = compact(obj)
        key = object_key(obj)
        version = resource_version(obj)
        with self._lock:
            present, held = self._objects.version(key)
            if present and version is not None and held is not None and version <= held:
                return None  # the common case of an echo of the operator's own write: nothing decoded
            old = self._objects.get(key) if present else None
            if old is None:
                deleted_at = self._tombstones.get(key)
                if deleted_at is not None and version is not None and version <= deleted_at:
                    return None
                if deleted_at is not None and not authoritative:
                    return None
                self._tombstones.pop(key, None)
            self._verify(key, old)
            self._put(key, old, obj)
        return Change(MODIFIED if old is not None else ADDED, old, obj)

    def remove(self, obj: Mapping[str, Any]) -> Change | None:
        """The object was deleted (a DELETED event carries its last state)."""
        key = object_key(obj)
        version = resource_version(obj)
        with self._lock:
            present, held = self._objects.version(key)
            if present and version is not None and held is not None and version < held:
                return None  # a newer incarnation (re-created since) is held
            old = self._objects.get(key) if present else None
            if old is not None:
                self._verify(key, old)
                self._drop(key, old)
            self._tombstones[key] = version if version is not None else 0
            self._tombstones.move_to_end(key)
            while len(self._tombstones) > _TOMBSTONES:
                self._tombstones.popitem(last=False)
        return Change(DELETED, old, None) if old is not None else None

    def replace(
        self, items: Iterable[dict[str, Any]], list_version: int | None, *, namespace: str | None = None
    ) -> builtins.list[Change]:
        """A fresh list (after a start or a 410): take it in and drop what it no longer has.

        Objects the operator wrote after the list was taken (newer than ``list_version``) stay.
        With ``namespace`` only that namespace is replaced (one informer per watched namespace).
        """
        changes: builtins.list[Change] = []
        seen: set[ObjectKey] = set()
        for item in items:
            seen.add(object_key(item))
            change = self.upsert(item, authoritative=True)
            if change is not None:
                changes.append(change)
        with self._lock:
            stale = [
                obj
                for key in builtins.list(self._objects.keys())
                if key not in seen
                and (namespace is None or key[0] == namespace)
                and not _newer_than_version(self._objects.version(key)[1], list_version)
                and (obj := self._objects.get(key)) is not None
            ]
        for obj in stale:
            change = self.remove(obj)
            if change is not None:
                changes.append(change)
        return changes

    def clear(self) -> builtins.list[Change]:
        """The kind is gone (its CRD was deleted): every object with it."""
        with self._lock:
            held = [obj for key in builtins.list(self._objects.keys()) if (obj := self._objects.get(key))]
        return [change for obj in held if (change := self.remove(obj)) is not None]

    # -- internals (lock held) -------------------------------------------------------------------------
    def _put(self, key: ObjectKey, old: dict[str, Any] | None, obj: dict[str, Any]) -> None:
        if old is not None:
            self._unindex(key, old)
        self._objects.put(key, obj)
        self._by_namespace.add(key[0], key)
        labels = (obj.get("metadata") or {}).get("labels") or {}
        for label, index in self._by_label.items():
            value = labels.get(label)
            if value is not None:
                index.add(str(value), key)
        for name, computed in self._indexes.items():
            indexed = computed.value_of(obj)
            if indexed is not None:
                self._by_index[name].add(indexed, key)
        if self._check:
            self._digests[key] = _digest(obj)

    def _drop(self, key: ObjectKey, old: dict[str, Any]) -> None:
        self._unindex(key, old)
        self._objects.drop(key)
        self._digests.pop(key, None)

    def _unindex(self, key: ObjectKey, old: dict[str, Any]) -> None:
        self._by_namespace.discard(key[0], key)
        labels = (old.get("metadata") or {}).get("labels") or {}
        for label, index in self._by_label.items():
            value = labels.get(label)
            if value is not None:
                index.discard(str(value), key)
        for name, computed in self._indexes.items():
            indexed = computed.value_of(old)
            if indexed is not None:
                self._by_index[name].discard(indexed, key)

    def _verify(self, key: ObjectKey, old: dict[str, Any] | None) -> None:
        if not self._check or old is None:
            return
        if self._digests.get(key) != _digest(old):
            # A reader changed a shared object: a bug that would corrupt every later read.
            log.error("cached object %s/%s was modified by a reader", *key)
            raise AssertionError(f"cached object {key[0]}/{key[1]} was modified by a reader")


def _newer_than_version(version: int | None, list_version: int | None) -> bool:
    return list_version is not None and version is not None and version > list_version


def _digest(obj: Mapping[str, Any]) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()
