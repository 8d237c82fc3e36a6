"""Backstage catalog entities for what the operator runs, and the Works that carry them (pure).

SKE (Syntasso Kratix Enterprise) shows every Promise and every request in Backstage; this module
does the same through the normal Kratix route, so no Backstage credentials live in the operator:

* per Promise: a Component (type ``kratix-promise``), an API (its request CRD) and the
  Scaffolder Template (:mod:`kratix_py.core.scaffolder`), in one Work;
* per request: a Component (type ``kratix-resource``) that ``dependsOn`` the Promise's Component,
  with the request's status (Reconciled, Works, Destinations) in its description and in SKE's
  ``kratix.io/status`` annotation, links to its folders in the state stores, and the
  annotations of the Backstage Kubernetes plugin; in one Work per request.

Each Work has one workload group, directory ``backstage``, selected by ``environment:
backstage`` (:data:`DEFAULT_SELECTOR`, as SKE's Backstage Destination is labelled). A Destination
with that label (:func:`backstage_destination`) writes the files into the state store, and
Backstage reads that directory as a catalog location::

    <destination path>/dependencies/<promise>/<id5>/backstage/catalog-info.yaml   Component + API
    <destination path>/dependencies/<promise>/<id5>/backstage/template.yaml       Template
    <destination path>/resources/<namespace>/<promise>/<request>/<id5>/backstage/catalog-info.yaml

Every file there is an entity file (the Destination has ``strictMatchLabels`` and no canaries),
so the location is simply ``<that directory>/**/*.yaml`` (GitHub) or the prefix (S3).

Wiring, for the operator (nothing here reads or writes the API):

* Promise reconcile, once its API CRD is installed: ``kube.apply(WORKS,
  catalog_work_for_promise(promise_obj, options))``. The manifest is the same for the same
  Promise, so an unchanged Promise changes nothing. A Promise without ``spec.api`` raises
  :class:`CatalogError` (nothing to offer); so does a schema no form can show: put the message in
  an Event (or a condition) and carry on; the Promise itself is fine.
* Request reconcile, after its status is written: ``kube.apply(WORKS,
  catalog_work_for_request(promise_obj, request_obj, works=..., placements=...,
  destinations=..., state_stores=..., options=options))`` with the request's own Works (labels
  ``kratix.io/work-type: resource``) and their WorkPlacements. The Work changes only when what
  Backstage shows changes (no timestamps in it), so a quiet request writes nothing.
* Removal: each Work has the Promise or the request as its controller owner (the uid the
  operator's ownership check asks of every Work that names a Promise or request), so garbage
  collection deletes it when the owner goes, and the Work's own finalizer removes the files. An
  operator that wants the files gone before the owner's finalizers finish deletes
  ``catalog_work_name_for_request(...)`` in ``namespace`` (and the Promise's in
  ``options.namespace``) itself.
* The catalog Works are not the request's Works: they carry none of the labels the request's
  ``WorksSucceeded`` is computed from (``kratix.io/work-type``, ``kratix.io/promise-name``,
  ``kratix.io/resource-name``), so a status change never feeds back into the status.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import ValidationError

from kratix_py import contract as c
from kratix_py.api import Promise, RequestGVK, validation_message
from kratix_py.core import catalog_names as n
from kratix_py.core import conditions as cond
from kratix_py.core.hashing import md5_hex
from kratix_py.core.request_crd import build_request_crd
from kratix_py.core.scaffolder import FLAVOUR_PULL_REQUEST, TemplateOptions, describe, scaffolder_template
from kratix_py.core.workloads import encode_content

DEFAULT_OWNER = "platform-team"
DEFAULT_LIFECYCLE = "production"
DEFAULT_SELECTOR: Mapping[str, str] = {"environment": "backstage"}
CATALOG_DIRECTORY = "backstage"
CATALOG_GROUP_ID = md5_hex(CATALOG_DIRECTORY)
CATALOG_FILE = "catalog-info.yaml"
TEMPLATE_FILE = "template.yaml"
LABEL_CATALOG = "backstage.kratix-py.io/catalog"
"""On catalog Works: ``promise`` or ``request``; what they are, and how to list them."""

_MAX_WORK_NAME = 253
"""Works are named like any object: a DNS subdomain."""

CatalogError = n.CatalogError


@dataclass(frozen=True)
class CatalogOptions:
    """How the entities are made. Owner, system and lifecycle, when None, come from the Promise's
    ``backstage.io/owner``, ``backstage.io/system`` and ``backstage.io/lifecycle`` annotation (or
    label), else the defaults."""

    owner: str | None = None
    system: str | None = None
    lifecycle: str | None = None
    flavour: str = FLAVOUR_PULL_REQUEST
    requests_path: str | None = None
    repo_url: str | None = None
    target_branch: str | None = None
    destination_selector: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SELECTOR))
    namespace: str = c.SYSTEM_NAMESPACE
    """Where the Promises' catalog Works live (requests' live in the request's namespace)."""


# -- reading the inputs -----------------------------------------------------------------------------


def parse_promise(promise: Promise | Mapping[str, Any]) -> Promise:
    if isinstance(promise, Promise):
        return promise
    try:
        return Promise.model_validate(promise)
    except ValidationError as error:
        name = (promise.get("metadata") or {}).get("name")
        raise CatalogError(f"Promise {name or '(unnamed)'} is invalid: {validation_message(error)}") from None


def _gvk(promise: Promise) -> RequestGVK:
    gvk = promise.request_gvk()
    if gvk is None:
        raise CatalogError(
            f"Promise {promise.name} has no spec.api, so it has no requests to show in Backstage"
        )
    return gvk


@dataclass(frozen=True)
class Identity:
    owner: str
    system: str | None
    lifecycle: str


def promise_identity(promise: Promise | Mapping[str, Any], options: CatalogOptions) -> Identity:
    """Owner, system and lifecycle: the options, else the Promise's metadata, else the defaults."""
    obj = promise.to_dict() if isinstance(promise, Promise) else promise
    owner = options.owner or n.metadata_value(obj, n.METADATA_OWNER) or DEFAULT_OWNER
    system = options.system or n.metadata_value(obj, n.METADATA_SYSTEM)
    lifecycle = options.lifecycle or n.metadata_value(obj, n.METADATA_LIFECYCLE) or DEFAULT_LIFECYCLE
    name = (obj.get("metadata") or {}).get("name")
    n.check_entity_ref(owner, f"Promise {name}: owner")
    if system:
        n.check_entity_ref(system, f"Promise {name}: system")
    n.check_text(lifecycle, f"Promise {name}: lifecycle")
    return Identity(owner, system, lifecycle)


def template_options(identity: Identity, options: CatalogOptions) -> TemplateOptions:
    return TemplateOptions(
        flavour=options.flavour,
        owner=identity.owner,
        lifecycle=identity.lifecycle,
        system=identity.system,
        requests_path=options.requests_path,
        repo_url=options.repo_url,
        target_branch=options.target_branch,
    )


# -- Promise entities --------------------------------------------------------------------------------


def _status_json(fields: Mapping[str, Any]) -> str:
    return json.dumps({key: value for key, value in fields.items() if value not in (None, "", [])})


def promise_entities(
    promise_obj: Promise | Mapping[str, Any], options: CatalogOptions
) -> list[dict[str, Any]]:
    """The Promise's Component, its API and its Template, in that order."""
    promise = parse_promise(promise_obj)
    gvk = _gvk(promise)
    identity = promise_identity(promise_obj, options)
    template = scaffolder_template(promise, template_options(identity, options))
    status = promise.status
    annotations = {
        n.ANNOTATION_PROMISE_NAME: promise.name,
        n.ANNOTATION_API_NAME: gvk.kind,
        n.ANNOTATION_API_GROUP: gvk.group,
        n.ANNOTATION_PROMISE_TEMPLATE: template["metadata"]["name"],
    }
    if status.status or status.message:
        # Only from the operator: a Component written by hand from a Promise file has no status.
        annotations[n.ANNOTATION_STATUS] = _status_json(
            {"message": status.message or status.status, "status": status.status}
        )
    annotations |= {
        n.ANNOTATION_REQUEST_KIND: gvk.kind,
        n.ANNOTATION_REQUEST_API_VERSION: gvk.api_version,
        n.ANNOTATION_KUBERNETES_ID: n.promise_component_name(promise.name),
    }
    if n.is_label_value(promise.name):
        annotations[n.ANNOTATION_KUBERNETES_LABEL_SELECTOR] = f"{c.LABEL_PROMISE_NAME}={promise.name}"
    if promise.promise_version:
        annotations[n.ANNOTATION_PROMISE_VERSION] = promise.promise_version
    api_name = n.promise_api_name(promise.name)
    component_spec: dict[str, Any] = {
        "type": n.PROMISE_TYPE,
        "lifecycle": identity.lifecycle,
        "owner": identity.owner,
        "providesApis": [n.entity_ref("API", api_name)],
    }
    required = sorted({r.name for r in promise.spec.required_promises})
    if required:
        component_spec["dependsOn"] = [
            n.entity_ref("Component", n.promise_component_name(r)) for r in required
        ]
    api_spec: dict[str, Any] = {
        "type": n.API_TYPE,
        "lifecycle": identity.lifecycle,
        "owner": identity.owner,
        "definition": yaml.safe_dump(
            build_request_crd(promise.name, promise.spec.api or {}), sort_keys=False, default_flow_style=False
        ),
    }
    if identity.system:
        component_spec["system"] = identity.system
        api_spec["system"] = identity.system
    tags = _tags(promise.name, "promise")
    component = {
        "apiVersion": n.CATALOG_API_VERSION,
        "kind": "Component",
        "metadata": {
            "name": n.promise_component_name(promise.name),
            "title": f"{gvk.kind} Promise",
            "description": describe(promise, gvk),
            "annotations": annotations,
            "tags": tags,
        },
        "spec": component_spec,
    }
    api = {
        "apiVersion": n.CATALOG_API_VERSION,
        "kind": "API",
        "metadata": {
            "name": api_name,
            "title": f"{gvk.kind} API",
            "description": f"The {gvk.kind} ({gvk.api_version}) requests Promise {promise.name} fulfils.",
            "annotations": {
                key: annotations[key]
                for key in (n.ANNOTATION_PROMISE_NAME, n.ANNOTATION_API_NAME, n.ANNOTATION_API_GROUP)
            },
            "tags": _tags(promise.name, "crd"),
        },
        "spec": api_spec,
    }
    return [component, api, template]


def _tags(*values: str) -> list[str]:
    tags = ["kratix"]
    for value in values:
        tagged = n.tag(value)
        if tagged and tagged not in tags:
            tags.append(tagged)
    return tags


# -- request entities --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestStatus:
    """What Backstage shows of a request's status."""

    reconciled: str
    """True, False or Unknown (the Reconciled condition)."""
    message: str | None
    works_ready: int
    works_total: int
    destinations: tuple[str, ...]

    def summary(self) -> str:
        parts = [f"Reconciled: {self.reconciled}" + (f" ({self.message})" if self.message else "")]
        parts.append(f"Works: {self.works_ready}/{self.works_total} ready")
        parts.append("Destinations: " + (", ".join(self.destinations) if self.destinations else "none yet"))
        return "; ".join(parts)


def _is_catalog(obj: Mapping[str, Any]) -> bool:
    return LABEL_CATALOG in ((obj.get("metadata") or {}).get("labels") or {})


def request_status(
    request_obj: Mapping[str, Any],
    works: Sequence[Mapping[str, Any]] = (),
    placements: Sequence[Mapping[str, Any]] = (),
) -> RequestStatus:
    """The request's Reconciled condition, its Works' readiness and the Destinations they are on."""
    status = request_obj.get("status") or {}
    reconciled = cond.find(status.get("conditions"), c.CONDITION_RECONCILED) or {}
    own_works = [w for w in works if not _is_catalog(w)]
    ready = sum(
        1 for w in own_works if cond.is_true((w.get("status") or {}).get("conditions"), c.CONDITION_READY)
    )
    names = {str((w.get("metadata") or {}).get("name")) for w in own_works}
    destinations = sorted(
        {
            str((p.get("spec") or {}).get("targetDestinationName"))
            for p in placements
            if not (p.get("metadata") or {}).get("deletionTimestamp")
            and ((p.get("metadata") or {}).get("labels") or {}).get(c.LABEL_WORK) in names
            and (p.get("spec") or {}).get("targetDestinationName")
        }
    )
    message = reconciled.get("message") or status.get("message")
    return RequestStatus(
        reconciled=str(reconciled.get("status") or "Unknown"),
        message=str(message) if message else None,
        works_ready=ready,
        works_total=len(own_works),
        destinations=tuple(destinations),
    )


def browse_url(store_kind: str, store: Mapping[str, Any], path: str) -> str | None:
    """A URL a person can open for ``path`` in a state store, or None when none can be made.

    Git: the repository's web page at the branch (GitHub and Gitea ``/tree/``, GitLab
    ``/-/tree/``, Bitbucket ``/src/``), from an ``https://``, ``ssh://`` or ``git@host:`` URL.
    Bucket: ``s3://<bucket>/<path>``.
    """
    spec = store.get("spec") or {}
    if store_kind == "BucketStateStore":
        bucket = spec.get("bucketName")
        return f"s3://{bucket}/{path}" if bucket else None
    url = str(spec.get("url") or "")
    if url.startswith("git@") and ":" in url:
        host, _, repo = url[4:].partition(":")
    else:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http", "ssh") or not parts.hostname:
            return None
        host, repo = parts.hostname, parts.path.lstrip("/")
    repo = repo.removesuffix(".git").strip("/")
    if not host or not repo:
        return None
    branch = spec.get("branch") or "main"
    browse = "/-/tree/" if "gitlab" in host else "/src/" if "bitbucket" in host else "/tree/"
    return f"https://{host}/{repo}{browse}{branch}/{path}".rstrip("/")


def _request_links(
    request_obj: Mapping[str, Any],
    promise_name: str,
    destination_names: Sequence[str],
    destinations: Sequence[Mapping[str, Any]],
    state_stores: Sequence[Mapping[str, Any]],
) -> list[dict[str, str]]:
    by_name = {str((d.get("metadata") or {}).get("name")): d for d in destinations}
    stores = {(str(s.get("kind")), str((s.get("metadata") or {}).get("name"))): s for s in state_stores}
    meta = request_obj.get("metadata") or {}
    links = []
    for name in destination_names:
        destination = by_name.get(name)
        if destination is None:
            continue
        spec = destination.get("spec") or {}
        ref = spec.get("stateStoreRef") or {}
        store = stores.get((str(ref.get("kind")), str(ref.get("name"))))
        if store is None:
            continue
        parts = [(store.get("spec") or {}).get("path") or "", spec.get("path") or ""]
        if ((spec.get("filepath") or {}).get("mode") or "nestedByMetadata") == "nestedByMetadata":
            parts += ["resources", str(meta.get("namespace")), promise_name, str(meta.get("name"))]
        path = posixpath.normpath(
            "/".join(p.strip("/") for p in parts if p and p.strip("/") not in ("", "."))
        )
        url = browse_url(str(ref.get("kind")), store, "" if path == "." else path)
        if url:
            links.append({"url": url, "title": f"Files on Destination {name}", "icon": "folder"})
    return links


def request_entity(
    promise_obj: Promise | Mapping[str, Any],
    request_obj: Mapping[str, Any],
    *,
    works: Sequence[Mapping[str, Any]] = (),
    placements: Sequence[Mapping[str, Any]] = (),
    destinations: Sequence[Mapping[str, Any]] = (),
    state_stores: Sequence[Mapping[str, Any]] = (),
    options: CatalogOptions | None = None,
) -> dict[str, Any]:
    """The request's Component; ``works``/``placements`` give its status, and with ``destinations``
    and ``state_stores`` (GitStateStore/BucketStateStore objects) its links."""
    options = options or CatalogOptions()
    promise = parse_promise(promise_obj)
    gvk = _gvk(promise)
    meta = request_obj.get("metadata") or {}
    name, namespace = str(meta.get("name") or ""), str(meta.get("namespace") or "")
    if not name or not namespace:
        raise CatalogError(f"a {gvk.kind} request needs metadata.name and metadata.namespace")
    identity = promise_identity(promise_obj, options)
    owner = n.metadata_value(request_obj, n.METADATA_OWNER) or identity.owner
    system = n.metadata_value(request_obj, n.METADATA_SYSTEM) or identity.system
    n.check_entity_ref(owner, f"{gvk.kind} {namespace}/{name}: owner")
    if system:
        n.check_entity_ref(system, f"{gvk.kind} {namespace}/{name}: system")
    status = request_status(request_obj, works, placements)
    labels = meta.get("labels") or {}
    kubernetes_id = labels.get(n.LABEL_KUBERNETES_ID) or n.kubernetes_id(promise.name, name)
    annotations = {
        n.ANNOTATION_PROMISE_NAME: promise.name,
        n.ANNOTATION_GROUP: gvk.group,
        n.ANNOTATION_VERSION: gvk.version,
        n.ANNOTATION_KIND: gvk.kind,
        n.ANNOTATION_NAME: name,
        n.ANNOTATION_NAMESPACE: namespace,
        n.ANNOTATION_PROMISE_TEMPLATE: n.promise_template_name(promise.name),
        n.ANNOTATION_STATUS: _status_json(
            {
                "message": status.summary(),
                "reconciled": status.reconciled,
                "works": f"{status.works_ready}/{status.works_total}",
                "destinations": list(status.destinations),
            }
        ),
        n.ANNOTATION_KUBERNETES_ID: kubernetes_id,
        n.ANNOTATION_KUBERNETES_NAMESPACE: namespace,
    }
    spec: dict[str, Any] = {
        "type": n.REQUEST_TYPE,
        "lifecycle": identity.lifecycle,
        "owner": owner,
        "dependsOn": [n.entity_ref("Component", n.promise_component_name(promise.name))],
    }
    if system:
        spec["system"] = system
    metadata: dict[str, Any] = {
        "name": n.request_entity_name(promise.name, namespace, name),
        "title": f"{name} ({gvk.kind})",
        "description": f"{gvk.kind} {name} in namespace {namespace}, from Promise {promise.name}. "
        f"{status.summary()}.",
        "annotations": annotations,
        "tags": _tags(promise.name, n.REQUEST_TYPE),
    }
    links = _request_links(request_obj, promise.name, status.destinations, destinations, state_stores)
    if links:
        metadata["links"] = links
    return {"apiVersion": n.CATALOG_API_VERSION, "kind": "Component", "metadata": metadata, "spec": spec}


# -- files and Works ---------------------------------------------------------------------------------


class _EntityDumper(yaml.SafeDumper):
    """Multi-line strings (an API's CRD definition, long descriptions) as ``|`` blocks, readable in Git."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text.rstrip("\n") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_EntityDumper.add_representer(str, _represent_text)


def entities_yaml(entities: Sequence[Mapping[str, Any]]) -> str:
    """Entities as one YAML file, the same text for the same entities (a Work must not churn)."""
    return yaml.dump_all(
        list(entities), Dumper=_EntityDumper, sort_keys=False, allow_unicode=True, default_flow_style=False
    )


def promise_files(promise_obj: Promise | Mapping[str, Any], options: CatalogOptions) -> dict[str, str]:
    """``catalog-info.yaml`` (Component, API) and ``template.yaml`` (Template) for a Promise."""
    component, api, template = promise_entities(promise_obj, options)
    return {CATALOG_FILE: entities_yaml([component, api]), TEMPLATE_FILE: entities_yaml([template])}


def catalog_work_name_for_promise(promise_name: str) -> str:
    return _work_name(f"{promise_name}-backstage-catalog", promise_name)


def catalog_work_name_for_request(promise_name: str, namespace: str, name: str) -> str:
    return _work_name(f"{promise_name}-{name}-backstage-catalog", f"{promise_name}/{namespace}/{name}")


def _work_name(readable: str, identity: str) -> str:
    """``<readable>-<8 hex of identity>``: ``a-b``+``c`` and ``a``+``b-c`` must not share a Work."""
    digest = md5_hex(identity)[:8]
    return f"{readable[: _MAX_WORK_NAME - 9].rstrip('-.')}-{digest}"


def _owner(obj: Mapping[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    if not meta.get("uid"):
        raise CatalogError(
            f"{kind} {meta.get('name')} has no metadata.uid; pass the object as read from the API"
        )
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": False,
    }


def _work(
    name: str,
    namespace: str,
    kind: str,
    owner: dict[str, Any],
    promise_name: str,
    resource_name: str | None,
    files: Mapping[str, str],
    options: CatalogOptions,
) -> dict[str, Any]:
    if not options.destination_selector:
        raise CatalogError("the catalog Works need a destination selector (e.g. environment: backstage)")
    group = {
        "id": CATALOG_GROUP_ID,
        "directory": CATALOG_DIRECTORY,
        "workloads": [
            {"filepath": f"{CATALOG_DIRECTORY}/{path}", "content": encode_content(text.encode())}
            for path, text in sorted(files.items())
        ],
        "destinationSelectors": [
            {"matchLabels": dict(sorted(options.destination_selector.items())), "source": "promise"}
        ],
    }
    spec: dict[str, Any] = {"promiseName": promise_name}
    if resource_name:
        spec["resourceName"] = resource_name
    spec["workloadGroups"] = [group]
    return {
        "apiVersion": c.API_VERSION,
        "kind": "Work",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {LABEL_CATALOG: kind, c.LABEL_MANAGED_BY: "kratix-py"},
            "ownerReferences": [owner],
        },
        "spec": spec,
    }


def catalog_work_for_promise(
    promise_obj: Mapping[str, Any], options: CatalogOptions | None = None
) -> dict[str, Any]:
    """The Work carrying the Promise's Component, API and Template to the Backstage Destination.

    ``promise_obj`` is the Promise as read from the API (its uid becomes the Work's owner).
    Raises CatalogError for a Promise without an API or with input Backstage would reject.
    """
    options = options or CatalogOptions()
    promise = parse_promise(promise_obj)
    files = promise_files(promise_obj, options)
    owner = _owner(promise_obj, c.API_VERSION, "Promise")
    return _work(
        catalog_work_name_for_promise(promise.name),
        options.namespace,
        "promise",
        owner,
        promise.name,
        None,
        files,
        options,
    )


def catalog_work_for_request(
    promise_obj: Mapping[str, Any],
    request_obj: Mapping[str, Any],
    *,
    works: Sequence[Mapping[str, Any]] = (),
    placements: Sequence[Mapping[str, Any]] = (),
    destinations: Sequence[Mapping[str, Any]] = (),
    state_stores: Sequence[Mapping[str, Any]] = (),
    options: CatalogOptions | None = None,
) -> dict[str, Any]:
    """The Work carrying one request's Component, in the request's namespace, owned by the request.

    A resource Work (``resourceName`` set), so it lands in the request's own folder
    ``resources/<namespace>/<promise>/<name>/`` of one Backstage Destination.
    """
    options = options or CatalogOptions()
    promise = parse_promise(promise_obj)
    entity = request_entity(
        promise_obj,
        request_obj,
        works=works,
        placements=placements,
        destinations=destinations,
        state_stores=state_stores,
        options=options,
    )
    meta = request_obj["metadata"]
    owner = _owner(request_obj, str(request_obj.get("apiVersion")), str(request_obj.get("kind")))
    return _work(
        catalog_work_name_for_request(promise.name, meta["namespace"], meta["name"]),
        meta["namespace"],
        "request",
        owner,
        promise.name,
        meta["name"],
        {CATALOG_FILE: entities_yaml([entity])},
        options,
    )


def request_labels(promise_name: str, request_obj: Mapping[str, Any]) -> dict[str, str]:
    """Labels an operator may put on a request so the Kubernetes tab finds it (the Template sets them)."""
    name = str((request_obj.get("metadata") or {}).get("name"))
    return {n.LABEL_KUBERNETES_ID: n.kubernetes_id(promise_name, name)}


def backstage_destination(
    state_store_name: str,
    *,
    state_store_kind: str = "GitStateStore",
    name: str = "backstage",
    path: str = "backstage",
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The Destination the catalog Works go to: only selected Works (``strictMatchLabels``) and no
    canary files, so every file under ``path`` is a Backstage entity file."""
    return {
        "apiVersion": c.API_VERSION,
        "kind": "Destination",
        "metadata": {"name": name, "labels": dict(labels or DEFAULT_SELECTOR)},
        "spec": {
            "path": path,
            "stateStoreRef": {"kind": state_store_kind, "name": state_store_name},
            "strictMatchLabels": True,
            "initWorkloads": {"enabled": False},
        },
    }


__all__ = [
    "CATALOG_FILE",
    "DEFAULT_SELECTOR",
    "LABEL_CATALOG",
    "TEMPLATE_FILE",
    "CatalogError",
    "CatalogOptions",
    "RequestStatus",
    "backstage_destination",
    "browse_url",
    "catalog_work_for_promise",
    "catalog_work_for_request",
    "catalog_work_name_for_promise",
    "catalog_work_name_for_request",
    "entities_yaml",
    "promise_entities",
    "promise_files",
    "request_entity",
    "request_labels",
    "request_status",
]
