"""Where a request (or a Promise) went: the tree behind ``kratix-py trace``.

A request's journey crosses six kinds of object that only labels tie together: its pipeline Jobs,
the Works they wrote, the WorkPlacements scheduling made, the Destinations and state stores the
files went to, and the GitOps object on the worker that applies them. When something is stuck, a
person has to follow those labels by hand; this module follows them once and says which link is
not Ready.

Pure: :class:`Snapshot` holds the objects the command fetched (see ``trace_cmd``), and
:func:`build` turns them into a :class:`Node` tree. Rendering (:func:`render`, :func:`to_json`) and
the verdict (:func:`not_ready`) are pure too, so every rule here is tested without a cluster.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from kratix_py import contract as c
from kratix_py.api import Destination, WorkPlacement
from kratix_py.core import layout
from kratix_py.core.jobs import job_phase, job_record
from kratix_py.core.redact import mask

LOG_LINES: Final = 10
"""How many lines of a failing container's log the tree shows (the end is where the error is)."""

FLUX_KUSTOMIZATION: Final = "Kustomization"
ARGO_APPLICATION: Final = "Application"

Obj = Mapping[str, Any]


@dataclass
class Node:
    """One object on the path. ``ready`` is None for objects that are neither (nothing to judge)."""

    kind: str
    name: str
    namespace: str = ""
    ready: bool | None = None
    status: str = ""
    message: str = ""
    details: dict[str, str] = field(default_factory=dict)
    """Extra columns for ``-o wide`` and JSON: phase, attempts, path, versionID, ..."""
    log: list[str] = field(default_factory=list)
    """The end of the failing container's log, Secret values masked."""
    children: list[Node] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "name": self.name}
        if self.namespace:
            out["namespace"] = self.namespace
        out["ready"] = self.ready
        out["status"] = self.status
        if self.message:
            out["message"] = self.message
        if self.details:
            out["details"] = dict(sorted(self.details.items()))
        if self.log:
            out["log"] = list(self.log)
        out["children"] = [child.as_dict() for child in self.children]
        return out


@dataclass
class JobLog:
    """The failing container of a Job's last pod and its log (raw: :func:`build` masks it)."""

    pod: str
    container: str
    text: str


@dataclass
class Snapshot:
    """Everything fetched about one request or Promise (and, recursively, its sub-requests)."""

    root: Obj
    is_promise: bool = False
    jobs: Sequence[Obj] = ()
    logs: Mapping[str, JobLog] = field(default_factory=dict)
    """Job name -> its failing container's log."""
    secret_values: Sequence[str] = ()
    """Values of the Secrets the failing pods read: masked in every log line shown."""
    logs_hidden: bool = False
    """True when those Secrets could not be read: no log is shown rather than an unmasked one."""
    pipelines: Sequence[str] = ()
    """The configure pipelines the Promise declares, in order: those without a Job show as not started."""
    works: Sequence[Obj] = ()
    placements: Sequence[Obj] = ()
    destinations: Mapping[str, Obj] = field(default_factory=dict)
    stores: Mapping[tuple[str, str], Obj] = field(default_factory=dict)
    """(kind, name) -> GitStateStore or BucketStateStore."""
    appliers: Sequence[Obj] | None = None
    """Flux Kustomizations and Argo CD Applications on the worker; None when no worker was given."""
    children: Sequence[Snapshot] = ()
    """Sub-requests (compound Promises): requests whose parent labels or owner name this one."""


# -- reading objects -------------------------------------------------------------------------------


def _meta(obj: Obj) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _labels(obj: Obj) -> Mapping[str, str]:
    return _meta(obj).get("labels") or {}


def _conditions(obj: Obj) -> list[Mapping[str, Any]]:
    return [
        entry for entry in ((obj.get("status") or {}).get("conditions") or []) if isinstance(entry, Mapping)
    ]


def _condition(obj: Obj, kind: str) -> Mapping[str, Any] | None:
    return next((entry for entry in _conditions(obj) if entry.get("type") == kind), None)


def _from_condition(node: Node, obj: Obj, *kinds: str) -> Node:
    """Judge ``node`` by the first of ``kinds`` the object has; without any, it is not Ready yet."""
    for kind in kinds:
        found = _condition(obj, kind)
        if found is not None:
            node.ready = found.get("status") == "True"
            node.status = kind if node.ready else str(found.get("reason") or f"{kind}={found.get('status')}")
            node.message = str(found.get("message") or "")
            return node
    node.ready, node.status = False, "Pending"
    node.message = f"no {kinds[0]} condition yet"
    return node


def _created(obj: Obj) -> str:
    return str(_meta(obj).get("creationTimestamp") or "")


def _node(obj: Obj, kind: str | None = None) -> Node:
    meta = _meta(obj)
    return Node(
        kind=kind or str(obj.get("kind") or ""),
        name=str(meta.get("name") or ""),
        namespace=str(meta.get("namespace") or ""),
    )


def is_sub_request(candidate: Obj, parent: Obj, parent_promise: str) -> bool:
    """Whether ``candidate`` is a request a compound Promise's pipeline made for ``parent``.

    A compound pipeline outputs the sub-requests as files and GitOps applies them on the platform,
    so only what the pipeline put on them ties them back: Kratix's ``kratix.io/component-of-*``
    labels (or the older ``kratix.io/parent-*``), or an ownerReference to the parent's uid. A
    label set without a namespace or promise label matches on the name alone within that scope.
    """
    meta, parent_meta = _meta(candidate), _meta(parent)
    uid = str(parent_meta.get("uid") or "")
    if uid and str(meta.get("uid") or "") == uid:
        return False
    if uid and any(str(owner.get("uid")) == uid for owner in meta.get("ownerReferences") or []):
        return True
    labels = _labels(candidate)
    namespace = str(parent_meta.get("namespace") or "")
    for promise_label, name_label, namespace_label in c.SUB_REQUEST_LABELS:
        if (
            labels.get(name_label) == parent_meta.get("name")
            and labels.get(namespace_label, namespace) == namespace
            and labels.get(promise_label, parent_promise) == parent_promise
        ):
            return True
    return False


# -- the tree --------------------------------------------------------------------------------------


def build(snapshot: Snapshot) -> Node:
    """The tree: root -> pipelines -> Works -> WorkPlacements -> Destination -> store -> applier."""
    root = _root(snapshot)
    root.children.extend(_pipelines(snapshot))
    root.children.extend(_work(snapshot, work) for work in sorted(snapshot.works, key=_sort_key))
    root.children.extend(build(child) for child in snapshot.children)
    return root


def _sort_key(obj: Obj) -> tuple[str, str]:
    return (str(_meta(obj).get("namespace") or ""), str(_meta(obj).get("name") or ""))


def _root(snapshot: Snapshot) -> Node:
    obj = snapshot.root
    node = _node(obj, "Promise" if snapshot.is_promise else None)
    status = obj.get("status") or {}
    if snapshot.is_promise:
        state = str(status.get("status") or "")
        node.ready = state == "Available"
        node.status = state or "Pending"
        available = _condition(obj, c.CONDITION_PROMISE_AVAILABLE) or _condition(obj, c.CONDITION_READY)
        node.message = str((available or {}).get("message") or "")
        if status.get("version"):
            node.details["version"] = str(status["version"])
        return node
    # A request is done when Kratix says it is Reconciled; requests from before that condition
    # existed only have ConfigureWorkflowCompleted.
    _from_condition(node, obj, c.CONDITION_RECONCILED, c.CONDITION_CONFIGURE_WORKFLOW_COMPLETED)
    if node.ready and status.get("message"):
        node.message = str(status["message"])
    if _meta(obj).get("deletionTimestamp"):
        node.ready, node.status = False, "Deleting"
    return node


def _job_order(job: Obj) -> tuple[tuple[int, int, int], str, str]:
    record = job_record(job)
    return (
        record.order if record is not None else (0, 0, 0),
        _created(job),
        str(_meta(job).get("name") or ""),
    )


def _pipelines(snapshot: Snapshot) -> Iterator[Node]:
    """The latest Job of each pipeline, in the order the workflow ran them."""
    by_pipeline: dict[tuple[str, str], list[Obj]] = {}
    for job in snapshot.jobs:
        labels = _labels(job)
        key = (labels.get(c.LABEL_WORKFLOW_ACTION, ""), labels.get(c.LABEL_PIPELINE_NAME, ""))
        by_pipeline.setdefault(key, []).append(job)
    runs = sorted(by_pipeline.items(), key=lambda item: min(_created(job) for job in item[1]))
    for (action, pipeline), jobs in runs:
        # kratix-py's run/attempt annotations order Jobs exactly; creation times tie within a second.
        jobs.sort(key=_job_order)
        latest = jobs[-1]
        node = _node(latest, "Job")
        phase = str(job_phase(latest))
        status = latest.get("status") or {}
        pods = sum(int(status.get(key) or 0) for key in ("failed", "succeeded", "active"))
        record = job_record(latest)
        node.status = phase
        node.ready = phase == "Succeeded"
        node.details.update(
            {
                "pipeline": pipeline,
                "action": action,
                "phase": phase,
                # A retry is a new Job (kratix-py) or a new pod of the same Job (backoffLimit).
                "attempts": str(record.attempt if record is not None else max(pods, 1)),
                "pods": str(pods),
                "runs": str(len(jobs)),
            }
        )
        if phase == "Failed":
            failed = _condition(latest, "Failed") or {}
            node.message = str(failed.get("message") or failed.get("reason") or "")
            _attach_log(node, snapshot)
        yield node
    started = {pipeline for action, pipeline in by_pipeline if action in ("", "configure")}
    for pipeline in snapshot.pipelines:
        if pipeline not in started:
            # Not judged: it waits for an earlier pipeline, whose own line says why.
            yield Node("Pipeline", pipeline, status="NotStarted", details={"pipeline": pipeline})


def _attach_log(node: Node, snapshot: Snapshot) -> None:
    found = snapshot.logs.get(node.name)
    if found is None:
        return
    if found.pod:  # none when the pod is gone (the operator kept what it said on the Job)
        node.details["pod"] = found.pod
    if found.container:
        node.details["container"] = found.container
    if snapshot.logs_hidden:
        node.log = ["(log not shown: the Secrets the pod reads could not be read to mask their values)"]
        return
    lines = [line for line in found.text.splitlines() if line.strip()][-LOG_LINES:]
    node.log = [mask(line, snapshot.secret_values) for line in lines]


def _work(snapshot: Snapshot, work: Obj) -> Node:
    node = _from_condition(_node(work, "Work"), work, c.CONDITION_READY)
    labels = _labels(work)
    if labels.get(c.LABEL_PIPELINE_NAME):
        node.details["pipeline"] = labels[c.LABEL_PIPELINE_NAME]
    if labels.get(c.LABEL_WORK_TYPE):
        node.details["type"] = labels[c.LABEL_WORK_TYPE]
    mine = [
        placement
        for placement in snapshot.placements
        if _labels(placement).get(c.LABEL_WORK) == node.name
        and str(_meta(placement).get("namespace") or "") == node.namespace
    ]
    node.children.extend(_placement(snapshot, placement) for placement in sorted(mine, key=_sort_key))
    return node


def _placement(snapshot: Snapshot, obj: Obj) -> Node:
    node = _from_condition(_node(obj, "WorkPlacement"), obj, c.CONDITION_READY, c.CONDITION_WRITE_SUCCEEDED)
    status = obj.get("status") or {}
    if status.get("versionID"):
        node.details["versionID"] = str(status["versionID"])
    spec = obj.get("spec") or {}
    target = str(spec.get("targetDestinationName") or "")
    destination = snapshot.destinations.get(target)
    if destination is None:
        node.children.append(
            Node(
                "Destination",
                target,
                ready=False,
                status="NotFound",
                message="the Destination does not exist",
            )
        )
        return node
    path = _store_path(destination, obj)
    if path:
        node.details["path"] = path
    node.children.append(_destination(snapshot, destination, path, str(status.get("versionID") or "")))
    return node


def _store_path(destination: Obj, placement: Obj) -> str:
    """Where the placement's files are in the store (the directory, or the one aggregated file)."""

    # Only metadata and spec decide the path; a status the model would refuse must not hide it.
    def without_status(obj: Obj) -> dict[str, Any]:
        return {key: value for key, value in obj.items() if key != "status"}

    try:
        model = Destination.model_validate(without_status(destination))
        chosen = WorkPlacement.model_validate(without_status(placement))
        files = layout.PlacementFiles.from_placement(chosen, with_files=False)
        mode = model.spec.filepath.mode
        if mode == "aggregatedYAML":
            return layout.aggregated_file(model)
        if mode == "none":
            return layout.destination_root(model) or "."
        return layout.group_directory(model, files)
    except ValueError:
        return ""  # a broken object: its own condition already says why; the tree goes on


def _destination(snapshot: Snapshot, obj: Obj, path: str, version_id: str) -> Node:
    node = _from_condition(_node(obj, "Destination"), obj, c.CONDITION_READY)
    spec = obj.get("spec") or {}
    ref = spec.get("stateStoreRef") or {}
    store_key = (str(ref.get("kind") or ""), str(ref.get("name") or ""))
    store = snapshot.stores.get(store_key)
    if store is None:
        node.children.append(
            Node(store_key[0] or "StateStore", store_key[1], ready=False, status="NotFound",
                 message="the state store does not exist")
        )  # fmt: skip
        return node
    store_node = _from_condition(_node(store, store_key[0]), store, c.CONDITION_READY)
    store_spec = store.get("spec") or {}
    for key in ("url", "branch", "bucketName", "endpoint", "path"):
        if store_spec.get(key):
            store_node.details[key] = _without_userinfo(str(store_spec[key]))
    if path:
        store_node.details["files"] = path
    if version_id:
        store_node.details["versionID"] = version_id
    node.children.append(store_node)
    if snapshot.appliers is not None:
        store_node.children.extend(_appliers(snapshot.appliers, path))
    return node


def _without_userinfo(value: str) -> str:
    """A URL without ``user:password@``: a store URL may carry credentials the reader must not see."""
    parts = urllib.parse.urlsplit(value)
    if parts.scheme and "@" in parts.netloc:
        return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return value


def _applied_path(obj: Obj) -> str | None:
    spec = obj.get("spec") or {}
    if obj.get("kind") == FLUX_KUSTOMIZATION:
        return _clean(str(spec.get("path") or ""))
    if obj.get("kind") == ARGO_APPLICATION:
        sources = [spec.get("source") or {}, *(spec.get("sources") or [])]
        paths = [
            str(source.get("path"))
            for source in sources
            if isinstance(source, Mapping) and source.get("path")
        ]
        return _clean(paths[0]) if paths else None
    return None


def _clean(path: str) -> str:
    return path.strip().removeprefix("./").strip("/")


def _covers(applied: str, files: str) -> bool:
    return applied in ("", ".") or files == applied or files.startswith(applied + "/")


def _appliers(appliers: Sequence[Obj], path: str) -> Iterator[Node]:
    """The worker's Flux Kustomizations / Argo CD Applications whose path holds the placement's files."""
    if not path:
        return
    matching = [
        obj
        for obj in appliers
        if (applied := _applied_path(obj)) is not None and _covers(applied, _clean(path))
    ]
    if not matching:
        yield Node(
            "GitOps", "(none)", ready=False, status="NotApplied",
            message=f"no Flux Kustomization or Argo CD Application on the worker applies {path}",
        )  # fmt: skip
        return
    # The most specific path applies the files; broader ones are listed too (they may also).
    for obj in sorted(matching, key=lambda o: (-len(_applied_path(o) or ""), *_sort_key(o))):
        yield _applier(obj)


def _applier(obj: Obj) -> Node:
    node = _node(obj)
    node.details["path"] = _applied_path(obj) or "."
    if obj.get("kind") == FLUX_KUSTOMIZATION:
        _from_condition(node, obj, c.CONDITION_READY)
        revision = (obj.get("status") or {}).get("lastAppliedRevision")
        if revision:
            node.details["revision"] = str(revision)
        return node
    status = obj.get("status") or {}
    sync = str((status.get("sync") or {}).get("status") or "Unknown")
    health = str((status.get("health") or {}).get("status") or "Unknown")
    node.ready = sync == "Synced" and health == "Healthy"
    node.status = f"{sync}/{health}"
    node.message = str((status.get("health") or {}).get("message") or "")
    revision = (status.get("sync") or {}).get("revision")
    if revision:
        node.details["revision"] = str(revision)
    return node


# -- verdict and output ----------------------------------------------------------------------------


def walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from walk(child)


def not_ready(node: Node) -> list[Node]:
    """Every object on the path that is judged and not Ready (empty: the whole path is green)."""
    return [entry for entry in walk(node) if entry.ready is False]


def to_json(node: Node) -> str:
    return json.dumps(node.as_dict(), indent=2, sort_keys=False) + "\n"


_WIDE_KEYS: Final = ("pipeline", "phase", "attempts", "pods", "runs", "path", "versionID", "url", "branch",
                     "bucketName", "files", "revision", "container")  # fmt: skip


def render(node: Node, *, wide: bool = False) -> str:
    """The tree as text: one object per line, NAME  READY  STATUS (and details with ``wide``)."""
    rows: list[tuple[str, str, str, str]] = []
    _rows(node, "", "", rows, wide)
    width = max(len(row[0]) for row in rows)
    lines = [f"{'NAME'.ljust(width)}  READY  STATUS"]
    for name, ready, status, extra in rows:
        if not ready and not status:  # a log line or message continuation
            lines.append(name + extra)
            continue
        line = f"{name.ljust(width)}  {ready.ljust(5)}  {status}"
        lines.append((line + ("  " + extra if extra else "")).rstrip())
    return "\n".join(lines) + "\n"


def _label(node: Node) -> str:
    name = f"{node.namespace}/{node.name}" if node.namespace else node.name
    return f"{node.kind}/{name}"


def _rows(
    node: Node, prefix: str, child_prefix: str, rows: list[tuple[str, str, str, str]], wide: bool
) -> None:
    ready = "-" if node.ready is None else ("True" if node.ready else "False")
    status = node.status
    if node.message and (wide or node.ready is False):
        status = f"{status}: {node.message}"
    extra = ""
    if wide:
        extra = " ".join(f"{key}={node.details[key]}" for key in _WIDE_KEYS if node.details.get(key))
    elif "versionID" in node.details and node.kind != "WorkPlacement":
        extra = f"@{node.details['versionID'][:12]}"
    if "files" in node.details and not wide:
        extra = f"{node.details['files']} {extra}".strip()
    rows.append((prefix + _label(node), ready, status, extra))
    for line in node.log:
        rows.append((f"{child_prefix}    | ", "", "", line))
    for index, child in enumerate(node.children):
        last = index == len(node.children) - 1
        _rows(
            child,
            child_prefix + ("└── " if last else "├── "),
            child_prefix + ("    " if last else "│   "),
            rows,
            wide,
        )
