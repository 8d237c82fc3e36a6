"""What the API server does with a request, independent of HTTP.

Create/get/list/replace/patch/delete with the semantics clients rely on: server-filled metadata,
optimistic concurrency, ``generation`` that moves only with the spec, no-op writes that change
nothing, the status subresource, finalizers and ``deletionTimestamp``, namespace termination, CRD
registration and clean-up, and owner-reference garbage collection (see :mod:`.gc`).

All methods are synchronous and run on the emulator's event-loop thread.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from collections.abc import Callable
from typing import Any

from . import crds, errors, gc, lifecycle, objectmeta, patch, schema
from .builtins import Hooks, builtin_types, field_value, shared_storage_key
from .errors import ApiError, Cause
from .jsonutil import deep_copy, json_equal
from .lifecycle import CRDS, NAMESPACES
from .podlogs import PodLogs
from .resources import Registry, ResourceType
from .selectors import FieldSelector, LabelSelector
from .store import StorageKey, Store, Watcher, WatchEvent

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")

_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_SERVER_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation")

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


class Cluster:
    """The state of one emulated cluster and the operations on it."""

    def __init__(self, event_log_size: int = 10000) -> None:
        self.store = Store(event_log_size)
        self.registry = Registry()
        for rt in builtin_types():
            self.registry.add_builtin(rt)
        self.pod_logs = PodLogs()
        self._random = random.Random(0)  # generated names are reproducible run to run
        self._next_ip = 10
        self.applied: dict[str, dict[str, dict[str, Any]]] = {}  # uid -> field manager -> config
        #: runs a callback soon, after the current request (the server sets the loop's call_soon)
        self.defer: Callable[[Callable[[], None]], object] = lambda fn: fn()
        self.gc = gc.GarbageCollector(self)
        self.lifecycle = lifecycle.Lifecycle(self)
        for name in DEFAULT_NAMESPACES:
            self.create(self.rt("", "v1", "namespaces"), "", {"metadata": {"name": name}})

    # --- helpers ---------------------------------------------------------------------------

    def rt(self, group: str, version: str, plural: str) -> ResourceType:
        found = self.registry.get(group, version, plural)
        if found is None:
            raise errors.resource_not_served()
        return found

    @staticmethod
    def key(rt: ResourceType) -> StorageKey:
        return shared_storage_key(rt)

    def rt_for_key(self, key: StorageKey) -> ResourceType | None:
        """A served resource type for a storage key, preferring the storage version."""
        candidates = [rt for rt in self.registry.all() if self.key(rt) == key]
        for rt in candidates:
            if rt.storage_version in (None, rt.version) and rt.group == key[0]:
                return rt
        return candidates[0] if candidates else None

    @staticmethod
    def storage_api_version(rt: ResourceType) -> str:
        if rt.is_custom:
            return f"{rt.group}/{rt.storage_version or rt.version}"
        return "v1" if shared_storage_key(rt) == ("", "events") else rt.api_version

    @staticmethod
    def present(rt: ResourceType, stored: dict[str, Any]) -> dict[str, Any]:
        """A stored object as the requested group/version shows it (no copy when unchanged)."""
        hooks: Hooks | None = rt.hooks
        if hooks is not None and type(hooks).from_storage is not Hooks.from_storage:
            return hooks.from_storage(stored, rt)
        if stored.get("apiVersion") == rt.api_version:
            return stored
        return {**stored, "apiVersion": rt.api_version}

    def allocate_cluster_ip(self) -> str:
        self._next_ip += 1
        return f"10.96.{self._next_ip // 250}.{self._next_ip % 250}"

    def _generate_name(self, prefix: str) -> str:
        prefix = prefix[:58]
        return prefix + "".join(self._random.choice(_NAME_ALPHABET) for _ in range(5))

    @staticmethod
    def _check_kind(rt: ResourceType, body: Any) -> None:
        if not isinstance(body, dict):
            raise errors.bad_request("the request body must be a JSON or YAML object")
        api_version = body.get("apiVersion")
        if api_version and api_version != rt.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version ({rt.api_version})"
            )
        kind = body.get("kind")
        if kind and kind != rt.kind:
            raise errors.bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})"
            )
        if "metadata" in body and not isinstance(body["metadata"], dict):
            raise errors.bad_request("metadata must be an object")

    def _crd_of(self, rt: ResourceType) -> dict[str, Any] | None:
        return self.store.get(CRDS, "", rt.crd_name) if rt.crd_name else None

    def _require_namespace(self, rt: ResourceType, namespace: str, name: str) -> None:
        ns = self.store.get(NAMESPACES, "", namespace)
        if ns is None:
            raise errors.not_found("namespaces", "", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise errors.ApiError(
                403,
                "Forbidden",
                f'{errors.qualified(rt.plural, rt.group)} "{name}" is forbidden: unable to create new content in '
                f"namespace {namespace} because it is being terminated",
                {
                    "name": name,
                    "group": rt.group,
                    "kind": rt.plural,
                    "causes": [
                        {
                            "reason": "NamespaceTerminating",
                            "message": f"namespace {namespace} is being terminated",
                            "field": "metadata.namespace",
                        }
                    ],
                },
            )

    @staticmethod
    def _unknown_fields(rt: ResourceType, unknown: list[str], validation: str | None) -> list[str]:
        """Warnings for dropped unknown fields, or a 400 under ``fieldValidation=Strict``."""
        if not unknown or validation == "Ignore":
            return []
        if validation == "Strict":
            details = ", ".join(f'unknown field "{p}"' for p in unknown)
            raise errors.bad_request(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: strict decoding error: {details}'
            )
        return [f'unknown field "{p}"' for p in unknown]

    def _admit(
        self, rt: ResourceType, obj: dict[str, Any], validation: str | None
    ) -> tuple[dict[str, Any], list[str]]:
        """Drop unknown fields: by the CRD schema (then default), or a built-in kind's top level."""
        if rt.is_custom:
            pruned, unknown = schema.prune(obj, rt.schema)
            warnings = self._unknown_fields(rt, unknown, validation)
            schema.apply_defaults(pruned, rt.schema)
            return pruned, warnings
        if rt.known_fields is None:
            return obj, []
        unknown = [k for k in obj if k not in rt.known_fields]
        if not unknown:
            return obj, []
        warnings = self._unknown_fields(rt, unknown, validation)
        return {k: v for k, v in obj.items() if k in rt.known_fields}, warnings

    def _validate(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        causes: list[Cause] = []
        meta = obj["metadata"]
        causes.extend(objectmeta.validate_object_meta(meta, rt.name_validator))
        if rt.is_custom:
            causes.extend(schema.validate(obj, rt.schema))
            causes.extend(schema.validate_rules(obj, old, rt.schema, causes))
        elif self.key(rt) == CRDS:
            causes.extend(crds.validate(obj, old))
        elif rt.hooks is not None:
            causes.extend(rt.hooks.validate(obj, old, rt))
        if old is not None and old["metadata"].get("deletionTimestamp"):
            added = set(meta.get("finalizers") or []) - set(old["metadata"].get("finalizers") or [])
            if added:
                causes.append(
                    Cause(
                        "FieldValueForbidden",
                        "Forbidden: no new finalizers can be added if the object is being deleted",
                        "metadata.finalizers",
                    )
                )
        if causes:
            raise errors.invalid(rt.kind, rt.group, str(meta.get("name", "")), causes)

    # --- create ----------------------------------------------------------------------------

    def create(
        self,
        rt: ResourceType,
        namespace: str,
        body: Any,
        *,
        dry_run: bool = False,
        validation: str | None = None,
    ) -> tuple[dict[str, Any], list[str]]:
        self._check_kind(rt, body)
        obj = deep_copy(body)
        if rt.hooks is not None:
            obj = rt.hooks.to_storage(obj, rt)
        meta = obj.setdefault("metadata", {})
        if rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if meta.get("resourceVersion"):
            raise errors.bad_request("resourceVersion should not be set on objects to be created")
        generated = not meta.get("name") and bool(meta.get("generateName"))
        if generated:
            meta["name"] = self._generate_name(str(meta["generateName"]))
        for field in [k for k in meta if k not in objectmeta.OBJECT_META_FIELDS]:
            del meta[field]
        for field in ("deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink"):
            meta.pop(field, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = objectmeta.now_timestamp()
        if rt.has_generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        objectmeta.normalize(meta)
        obj["apiVersion"] = self.storage_api_version(rt)
        obj["kind"] = rt.kind
        if rt.status_subresource:
            obj.pop("status", None)
        name = str(meta.get("name") or "")
        if rt.namespaced:
            self._require_namespace(rt, namespace, name)
        crd = self._crd_of(rt)
        if crd is not None and crd["metadata"].get("deletionTimestamp"):
            raise errors.method_not_allowed(
                "create not allowed while custom resource definition is terminating"
            )

        key = self.key(rt)
        obj, warnings = self._admit(rt, obj, validation)
        meta = obj["metadata"]
        if key == CRDS:
            crds.apply_defaults(obj)
        elif rt.hooks is not None:
            rt.hooks.prepare_create(obj, rt, self)
        self._validate(rt, obj, None)

        if self.store.get(key, meta.get("namespace", ""), meta["name"]) is not None:
            if not generated:
                raise errors.already_exists(rt.plural, rt.group, meta["name"])
            for _ in range(16):  # a real server answers 409 here; retrying is kinder and equivalent
                meta["name"] = self._generate_name(str(meta["generateName"]))
                if self.store.get(key, meta.get("namespace", ""), meta["name"]) is None:
                    break
            else:
                raise errors.already_exists(rt.plural, rt.group, meta["name"])
        if key == CRDS:
            obj["status"] = crds.compute_status(obj, None, meta["creationTimestamp"])
        if dry_run:
            return self.present(rt, obj), warnings
        stored = self.store.put(key, obj, "ADDED")
        if key == CRDS:
            self._register_crd(stored)
        if meta.get("ownerReferences"):
            okey = (key, meta.get("namespace", ""), meta["name"])
            self.defer(lambda: self.gc.check_owners_exist(okey))
        return self.present(rt, stored), warnings

    # --- read ------------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        return self.present(rt, self._require(rt, namespace, name))

    def _require(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        obj = self.store.get(self.key(rt), namespace if rt.namespaced else "", name)
        if obj is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return obj

    def matcher(
        self,
        rt: ResourceType,
        namespace: str | None,
        labels: LabelSelector | None,
        fields: FieldSelector | None,
    ) -> Callable[[dict[str, Any]], bool]:
        """A predicate on stored objects for the scope and selectors of a list or watch."""

        def matches(obj: dict[str, Any]) -> bool:
            meta = obj.get("metadata", {})
            if namespace and meta.get("namespace") != namespace:
                return False
            if labels is not None and not labels.matches(meta.get("labels")):
                return False
            return fields is None or fields.matches(obj, lambda o, f: field_value(o, rt, f))

        return matches

    def list_objects(
        self,
        rt: ResourceType,
        namespace: str | None,
        labels: LabelSelector | None = None,
        fields: FieldSelector | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> dict[str, Any]:
        scope = namespace if rt.namespaced and namespace else None
        matches = self.matcher(rt, scope, labels, fields)
        equal = [(r.key, r.values[0]) for r in (labels.requirements if labels else ()) if r.op == "="]
        candidates = (
            self.store.labelled(self.key(rt), equal, scope)
            if equal
            else self.store.objects(self.key(rt), scope)
        )
        items = [o for o in candidates if matches(o)]
        rv = self.store.rv
        if continue_token:
            # Later pages belong to the first page's list: they report its resourceVersion, so a
            # watch from it replays whatever changed while the pages were read (a real API server
            # serves them from that snapshot; this one serves current objects, which the replay
            # makes equivalent for a list+watch). A token older than the watch history is expired.
            snapshot, after = _decode_continue(continue_token)
            if snapshot < self.store.log(self.key(rt)).evicted_rv:
                raise errors.expired_continue()
            rv = snapshot
            items = [o for o in items if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > after]
        list_meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if limit and limit > 0 and len(items) > limit:
            remaining = len(items) - limit
            items = items[:limit]
            last = items[-1]["metadata"]
            list_meta["continue"] = _encode_continue(rv, last.get("namespace", ""), last["name"])
            list_meta["remainingItemCount"] = remaining
        return {
            "apiVersion": rt.api_version,
            "kind": rt.list_kind,
            "metadata": list_meta,
            "items": [self.present(rt, o) for o in items],
        }

    # --- watch -----------------------------------------------------------------------------

    def start_watch(
        self,
        rt: ResourceType,
        resource_version: str | None,
        matches: Callable[[dict[str, Any]], bool],
        send_initial: bool,
    ) -> tuple[list[WatchEvent], Watcher]:
        """The events to send first, and a watcher for what follows; atomic with respect to writes."""
        key = self.key(rt)
        if send_initial or resource_version in (None, "", "0"):
            initial = [
                WatchEvent(int(o["metadata"]["resourceVersion"]), "ADDED", o, None)
                for o in self.store.objects(key)
                if matches(o)
            ]
            return initial, self.store.subscribe(key)
        try:
            since = int(str(resource_version))
        except ValueError:
            raise errors.bad_request(f"invalid resourceVersion: {resource_version!r}") from None
        replay = self.store.log(key).since(since)
        if replay is None:
            raise errors.expired(since, self.store.log(key).evicted_rv)
        return replay, self.store.subscribe(key)

    # --- update ----------------------------------------------------------------------------

    def replace(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        validation: str | None = None,
    ) -> tuple[dict[str, Any], list[str]]:
        self._check_kind(rt, body)
        old = self._require(rt, namespace, name)
        new = deep_copy(body)
        if rt.hooks is not None:
            new = rt.hooks.to_storage(new, rt)
        meta = new.setdefault("metadata", {})
        rv = meta.get("resourceVersion")
        if not rv and (rt.is_custom or self.key(rt) == CRDS):
            raise errors.invalid(
                rt.kind,
                rt.group,
                name,
                [
                    Cause(
                        "FieldValueInvalid",
                        "Invalid value: 0x0: must be specified for an update",
                        "metadata.resourceVersion",
                    )
                ],
            )
        return self._update(rt, old, new, subresource=subresource, dry_run=dry_run, validation=validation)

    def _update(
        self,
        rt: ResourceType,
        old: dict[str, Any],
        new: dict[str, Any],
        *,
        subresource: str | None,
        dry_run: bool,
        validation: str | None,
    ) -> tuple[dict[str, Any], list[str]]:
        old_meta = old["metadata"]
        meta = new.setdefault("metadata", {})
        name = old_meta["name"]
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        if rt.namespaced and meta.get("namespace") and meta["namespace"] != old_meta.get("namespace"):
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        rv = meta.get("resourceVersion")
        if rv and str(rv) != old_meta["resourceVersion"]:
            raise errors.conflict(rt.plural, rt.group, name, errors.STALE)
        key = self.key(rt)

        if subresource == "status":
            # Only the status changes through /status; everything else is the stored object's.
            status = new.get("status")
            new = deep_copy(old)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
            meta = new["metadata"]
        else:
            if rt.status_subresource:
                if "status" in old:
                    new["status"] = old["status"]
                else:
                    new.pop("status", None)
            for field in [k for k in meta if k not in objectmeta.OBJECT_META_FIELDS]:
                del meta[field]
            meta.pop("managedFields", None)
            for field in (*_SERVER_META, "name", "namespace"):
                if field in old_meta:
                    meta[field] = old_meta[field]
                else:
                    meta.pop(field, None)
            objectmeta.normalize(meta)
        new["apiVersion"] = self.storage_api_version(rt)
        new["kind"] = rt.kind

        new, warnings = self._admit(rt, new, validation)
        meta = new["metadata"]
        if key == CRDS:
            crds.apply_defaults(new)
        elif rt.hooks is not None:
            rt.hooks.prepare_update(new, old, rt)
        self._validate(rt, new, old)

        if rt.has_generation:
            meta["generation"] = old_meta.get("generation", 1) + (1 if _spec_changed(rt, old, new) else 0)
        if key == CRDS:
            new["status"] = crds.compute_status(
                new, new.get("status") or old.get("status"), objectmeta.now_timestamp()
            )
        meta["resourceVersion"] = old_meta["resourceVersion"]
        if json_equal(new, old):
            return self.present(rt, old), warnings  # a no-op: same resourceVersion, no event
        if dry_run:
            return self.present(rt, new), warnings
        stored = self.lifecycle.write(key, new)
        if key == CRDS and self.store.get(CRDS, "", name) is not None:
            self._register_crd(stored)
        return self.present(rt, stored), warnings

    # --- patch -----------------------------------------------------------------------------

    def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        content_type: str,
        body: Any,
        *,
        subresource: str | None = None,
        field_manager: str | None = None,
        dry_run: bool = False,
        validation: str | None = None,
    ) -> tuple[dict[str, Any], bool, list[str]]:
        """Returns the patched object, whether it was created (apply), and warnings."""
        stored = self.store.get(self.key(rt), namespace if rt.namespaced else "", name)
        if content_type == APPLY_PATCH:
            if not field_manager:
                raise errors.invalid(
                    "PatchOptions",
                    "meta.k8s.io",
                    "",
                    [
                        errors.Cause(
                            "FieldValueRequired",
                            "Required value: is required for apply patch",
                            "fieldManager",
                        )
                    ],
                )
            self._check_kind(rt, body)
            if stored is None:
                if subresource:
                    raise errors.not_found(rt.plural, rt.group, name)
                body = deep_copy(body)
                body.setdefault("metadata", {}).setdefault("name", name)
                if body["metadata"]["name"] != name:
                    raise errors.bad_request(
                        f"the name of the object ({body['metadata']['name']}) does not match the name on the URL ({name})"
                    )
                created, warnings = self.create(rt, namespace, body, dry_run=dry_run, validation=validation)
                if not dry_run:
                    self.applied.setdefault(created["metadata"]["uid"], {})[field_manager] = deep_copy(body)
                return created, True, warnings
            uid = stored["metadata"]["uid"]
            previous = self.applied.get(uid, {}).get(field_manager)
            new = patch.apply_patch(
                self.present(rt, stored), body, previous, schema=rt.schema, builtin=not rt.is_custom
            )
            result, warnings = self._apply_patched(rt, stored, new, subresource, dry_run, validation)
            if not dry_run:
                self.applied.setdefault(uid, {})[field_manager] = deep_copy(body)
            return result, False, warnings
        if stored is None:
            raise errors.not_found(rt.plural, rt.group, name)
        current = self.present(rt, stored)
        try:
            if content_type == JSON_PATCH:
                new = patch.json_patch(current, body)
            elif content_type == MERGE_PATCH:
                if not isinstance(body, dict):
                    raise patch.PatchFormatError("a merge patch must be a JSON object")
                new = patch.merge_patch(deep_copy(current), body)
            elif content_type == STRATEGIC_PATCH:
                if rt.is_custom:
                    raise errors.unsupported_media_type(content_type, [JSON_PATCH, MERGE_PATCH, APPLY_PATCH])
                new = patch.strategic_merge_patch(current, body)
            else:
                raise errors.unsupported_media_type(
                    content_type, [JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH]
                )
        except patch.PatchError as exc:
            raise errors.unprocessable(str(exc)) from None
        except patch.PatchFormatError as exc:
            raise errors.bad_request(str(exc)) from None
        if not isinstance(new, dict):
            raise errors.unprocessable("the patched object is not a JSON object")
        result, warnings = self._apply_patched(rt, stored, new, subresource, dry_run, validation)
        return result, False, warnings

    def _apply_patched(
        self,
        rt: ResourceType,
        stored: dict[str, Any],
        new: dict[str, Any],
        subresource: str | None,
        dry_run: bool,
        validation: str | None,
    ) -> tuple[dict[str, Any], list[str]]:
        self._check_kind(rt, new)
        if rt.hooks is not None:
            new = rt.hooks.to_storage(new, rt)
        return self._update(rt, stored, new, subresource=subresource, dry_run=dry_run, validation=validation)

    # --- delete ----------------------------------------------------------------------------

    def delete(
        self, rt: ResourceType, namespace: str, name: str, options: dict[str, Any], *, dry_run: bool = False
    ) -> dict[str, Any]:
        """Returns the object still terminating (finalizers), or a Success Status once it is gone."""
        stored = self._require(rt, namespace, name)
        meta = stored["metadata"]
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != meta["uid"]:
            raise errors.conflict(
                rt.plural,
                rt.group,
                name,
                f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: {meta['uid']}",
            )
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
            raise errors.conflict(
                rt.plural,
                rt.group,
                name,
                f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, "
                f"ResourceVersion in object meta: {meta['resourceVersion']}",
            )
        policy = lifecycle.propagation(options, rt)
        if dry_run:
            return self.present(rt, stored)
        key = self.key(rt)
        final, removed = self.lifecycle.begin_delete(key, stored, policy)
        if removed and not rt.returns_deleted_object:
            details: dict[str, Any] = {"name": name, "kind": rt.plural, "uid": meta["uid"]}
            if rt.group:
                details["group"] = rt.group
            return {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": details,
            }
        return self.present(rt, final)

    def delete_collection(
        self,
        rt: ResourceType,
        namespace: str | None,
        labels: LabelSelector | None,
        fields: FieldSelector | None,
        options: dict[str, Any],
        *,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        scope = namespace if rt.namespaced and namespace else None
        matches = self.matcher(rt, scope, labels, fields)
        key = self.key(rt)
        policy = lifecycle.propagation(options, rt)
        deleted = []
        for obj in [o for o in self.store.objects(key, scope) if matches(o)]:
            current = self.store.get(key, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            if current is None:
                continue  # collected on the way, as the dependent of an earlier one
            if dry_run:
                deleted.append(self.present(rt, current))
            else:
                final, _ = self.lifecycle.begin_delete(key, current, policy)
                deleted.append(self.present(rt, final))
        return {
            "apiVersion": rt.api_version,
            "kind": rt.list_kind,
            "metadata": {"resourceVersion": str(self.store.rv)},
            "items": deleted,
        }

    # --- CRD registration ------------------------------------------------------------------

    def _register_crd(self, crd: dict[str, Any]) -> None:
        types = crds.resource_types(crd)
        self.registry.replace_crd(crd["metadata"]["name"], types)
        self._default_stored_objects(types)

    def _default_stored_objects(self, types: list[ResourceType]) -> None:
        """Apply the (possibly new) schema defaults to the objects already stored.

        A real API server defaults on every read from etcd, so a default added by a CRD update
        shows up on existing objects at once, without a new resourceVersion, generation or watch
        event. Defaulting the stored objects in place when the CRD changes is the same, observed
        from outside, and keeps reads free of copying.
        """
        storage = next((rt for rt in types if rt.storage_version in (None, rt.version)), None)
        if storage is None or storage.schema is None:
            return
        for obj in self.store.objects(self.key(storage)):
            schema.apply_defaults(obj, storage.schema)

    def unregister_crd(self, crd: dict[str, Any]) -> None:
        spec = crd.get("spec") or {}
        self.registry.remove_crd(crd["metadata"]["name"])
        # Watches of a CRD's resources end when it goes, as on a real server, and its history goes
        # with it, so a recreated CRD does not replay the events of the objects it had before.
        key = (spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))
        self.store.close_watchers(key)
        self.store.reset_log(key)

    # --- table & discovery support ----------------------------------------------------------

    def watch_counts(self) -> dict[str, int]:
        return {
            f"{plural}.{group}" if group else plural: n
            for (group, plural), n in self.store.watch_counts().items()
        }


def _spec_changed(rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether anything other than metadata (and status, with a status subresource) changed."""
    ignored = {"metadata", "apiVersion", "kind"}
    if rt.status_subresource:
        ignored.add("status")
    keys = (set(old) | set(new)) - ignored
    return any(not json_equal(old.get(k), new.get(k)) for k in keys)


def _encode_continue(rv: int, namespace: str, name: str) -> str:
    raw = json.dumps({"rv": rv, "ns": namespace, "name": name}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(data["rv"]), (str(data["ns"]), str(data["name"]))
    except (ValueError, KeyError, TypeError):
        raise ApiError(400, "BadRequest", "continue key is not valid: illegal base64 data") from None
