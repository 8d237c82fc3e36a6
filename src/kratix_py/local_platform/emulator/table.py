"""``meta.k8s.io/v1`` Table output, what ``kubectl get`` asks for.

Custom resources get Name plus their CRD version's ``additionalPrinterColumns`` (or Name and Age
when it has none), evaluated with the JSONPath subset of :mod:`.jsonpath`; ``date`` columns become
ages on the server, as a real API server does. Built-in kinds get the usual kubectl columns.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .jsonpath import JSONPathError, find, format_value
from .objectmeta import parse_timestamp
from .resources import ResourceType

Row = list[Any]
Column = dict[str, Any]

NAME_COLUMN: Column = {
    "name": "Name",
    "type": "string",
    "format": "name",
    "description": "Name must be unique within a namespace.",
    "priority": 0,
}


def _column(name: str, kind: str = "string", priority: int = 0, description: str = "") -> Column:
    return {
        "name": name,
        "type": kind,
        "format": "",
        "description": description or name,
        "priority": priority,
    }


def human_duration(seconds: float) -> str:
    """A short age such as ``45s``, ``3m12s``, ``5h``, ``2d3h``; the rules of kubectl's ages."""
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        rest = whole % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def _since(timestamp: Any, now: float) -> str:
    parsed = parse_timestamp(timestamp) if isinstance(timestamp, str) else None
    return "<unknown>" if parsed is None else human_duration(now - parsed)


def _age(obj: dict[str, Any], now: float) -> str:
    return _since(obj.get("metadata", {}).get("creationTimestamp"), now)


# --- built-in columns ------------------------------------------------------------------------


def _pod_cells(obj: dict[str, Any], now: float) -> Row:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    restarts = sum(int(s.get("restartCount") or 0) for s in statuses)
    reason = "Terminating" if obj["metadata"].get("deletionTimestamp") else _pod_reason(spec, status)
    return [f"{ready}/{len(spec.get('containers') or [])}", reason, restarts, _age(obj, now)]


def _pod_reason(spec: dict[str, Any], status: dict[str, Any]) -> str:
    """The STATUS column as kubectl prints it: a finished container's reason (``Completed``,
    ``Error``) wins over the phase, init containers show ``Init:i/n`` until they are done."""
    reason = str(status.get("reason") or status.get("phase") or "Unknown")
    init_statuses = status.get("initContainerStatuses") or []
    for index, container in enumerate(init_statuses):
        state = container.get("state") or {}
        terminated, waiting = state.get("terminated") or {}, state.get("waiting") or {}
        if terminated and terminated.get("exitCode") == 0:
            continue
        if terminated:
            return "Init:" + str(terminated.get("reason") or f"ExitCode:{terminated.get('exitCode')}")
        if waiting.get("reason") and waiting["reason"] != "PodInitializing":
            return f"Init:{waiting['reason']}"
        return f"Init:{index}/{len(spec.get('initContainers') or init_statuses)}"
    running = False
    for container in reversed(status.get("containerStatuses") or []):
        state = container.get("state") or {}
        terminated, waiting = state.get("terminated") or {}, state.get("waiting") or {}
        if waiting.get("reason"):
            reason = str(waiting["reason"])
        elif terminated:
            reason = str(terminated.get("reason") or f"ExitCode:{terminated.get('exitCode')}")
        elif container.get("ready") and state.get("running") is not None:
            running = True
    if reason == "Completed" and running:
        reason = "Running"
    return reason


def _job_status(obj: dict[str, Any]) -> str:
    conditions = {c.get("type"): c.get("status") for c in (obj.get("status") or {}).get("conditions") or []}
    if conditions.get("Complete") == "True":
        return "Complete"
    if conditions.get("Failed") == "True":
        return "Failed"
    if obj["metadata"].get("deletionTimestamp"):
        return "Terminating"
    if conditions.get("Suspended") == "True":
        return "Suspended"
    return "Running"


def _job_cells(obj: dict[str, Any], now: float) -> Row:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    completions = f"{status.get('succeeded', 0)}/{spec.get('completions', 1)}"
    start = status.get("startTime")
    end = status.get("completionTime")
    if start:
        end_at = parse_timestamp(end) if end else now
        start_at = parse_timestamp(start)
        duration = human_duration((end_at or now) - start_at) if start_at is not None else ""
    else:
        duration = ""
    return [_job_status(obj), completions, duration, _age(obj, now)]


def _deployment_cells(obj: dict[str, Any], now: float) -> Row:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _age(obj, now),
    ]


def _service_cells(obj: dict[str, Any], now: float) -> Row:
    spec = obj.get("spec") or {}
    ports = (
        ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or []) or "<none>"
    )
    external = ",".join(spec.get("externalIPs") or []) or "<none>"
    return [spec.get("type", "ClusterIP"), spec.get("clusterIP", "<none>"), external, ports, _age(obj, now)]


def _event_cells(obj: dict[str, Any], now: float) -> Row:
    involved = obj.get("involvedObject") or obj.get("regarding") or {}
    last = (
        obj.get("lastTimestamp")
        or obj.get("deprecatedLastTimestamp")
        or obj.get("eventTime")
        or obj["metadata"].get("creationTimestamp")
    )
    kind = str(involved.get("kind", "")).lower()
    return [
        _since(last, now),
        obj.get("type", ""),
        obj.get("reason", ""),
        f"{kind}/{involved.get('name', '')}",
        obj.get("message", obj.get("note", "")),
        obj["metadata"].get("name", ""),
    ]


Printer = tuple[list[Column], Callable[[dict[str, Any], float], Row]]

_AGE = _column(
    "Age",
    description="CreationTimestamp is a timestamp representing the server time when this object was created.",
)

BUILTIN_PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "namespaces"): (
        [_column("Status"), _AGE],
        lambda o, now: [(o.get("status") or {}).get("phase", ""), _age(o, now)],
    ),
    ("", "configmaps"): (
        [_column("Data", "integer"), _AGE],
        lambda o, now: [len(o.get("data") or {}) + len(o.get("binaryData") or {}), _age(o, now)],
    ),
    ("", "secrets"): (
        [_column("Type"), _column("Data", "integer"), _AGE],
        lambda o, now: [o.get("type", ""), len(o.get("data") or {}), _age(o, now)],
    ),
    ("", "serviceaccounts"): (
        [_column("Secrets", "integer"), _AGE],
        lambda o, now: [len(o.get("secrets") or []), _age(o, now)],
    ),
    ("", "pods"): ([_column("Ready"), _column("Status"), _column("Restarts", "string"), _AGE], _pod_cells),
    ("", "services"): (
        [_column("Type"), _column("Cluster-IP"), _column("External-IP"), _column("Port(s)"), _AGE],
        _service_cells,
    ),
    # Events lead with when, not with their (generated) name, which only `-o wide` shows.
    ("", "events"): (
        [
            _column("Last Seen"),
            _column("Type"),
            _column("Reason"),
            _column("Object"),
            _column("Message"),
            {**NAME_COLUMN, "priority": 1},
        ],
        _event_cells,
    ),
    ("batch", "jobs"): ([_column("Status"), _column("Completions"), _column("Duration"), _AGE], _job_cells),
    ("apps", "deployments"): (
        [_column("Ready"), _column("Up-to-date", "integer"), _column("Available", "integer"), _AGE],
        _deployment_cells,
    ),
    ("apiextensions.k8s.io", "customresourcedefinitions"): (
        [_column("Created At", "date")],
        lambda o, now: [o["metadata"].get("creationTimestamp", "")],
    ),
    ("rbac.authorization.k8s.io", "roles"): (
        [_column("Created At", "date")],
        lambda o, now: [o["metadata"].get("creationTimestamp", "")],
    ),
    ("rbac.authorization.k8s.io", "clusterroles"): (
        [_column("Created At", "date")],
        lambda o, now: [o["metadata"].get("creationTimestamp", "")],
    ),
    ("rbac.authorization.k8s.io", "rolebindings"): (
        [_column("Role"), _AGE],
        lambda o, now: [
            f"{(o.get('roleRef') or {}).get('kind', '')}/{(o.get('roleRef') or {}).get('name', '')}",
            _age(o, now),
        ],
    ),
    ("rbac.authorization.k8s.io", "clusterrolebindings"): (
        [_column("Role"), _AGE],
        lambda o, now: [
            f"{(o.get('roleRef') or {}).get('kind', '')}/{(o.get('roleRef') or {}).get('name', '')}",
            _age(o, now),
        ],
    ),
    ("coordination.k8s.io", "leases"): (
        [_column("Holder"), _AGE],
        lambda o, now: [(o.get("spec") or {}).get("holderIdentity", ""), _age(o, now)],
    ),
}
_DEFAULT_PRINTER: Printer = ([_AGE], lambda o, now: [_age(o, now)])


# --- custom resources --------------------------------------------------------------------------


def _custom_cell(obj: dict[str, Any], column: dict[str, Any], now: float) -> Any:
    try:
        found = find(obj, str(column.get("jsonPath", "")))
    except JSONPathError:
        return None
    if not found:
        return None
    value = found[0]
    kind = column.get("type")
    if kind == "string":
        return format_value(value)
    if value is None:
        return None
    if kind == "integer" and isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "date" and isinstance(value, str):
        return _since(value, now) if parse_timestamp(value) is not None else "<invalid>"
    return None


def _custom_printer(rt: ResourceType) -> Printer:
    columns = rt.printer_columns or []
    definitions = [
        {
            "name": c.get("name", ""),
            "type": c.get("type", "string"),
            "format": c.get("format", ""),
            "description": c.get("description")
            or f"Custom resource definition column (in JSONPath format): {c.get('jsonPath', '')}",
            "priority": int(c.get("priority") or 0),
        }
        for c in columns
    ]
    return definitions, lambda o, now: [_custom_cell(o, c, now) for c in columns]


def printer_for(rt: ResourceType) -> Printer:
    if rt.is_custom:
        return _custom_printer(rt)
    return BUILTIN_PRINTERS.get(
        (rt.group if rt.group != "events.k8s.io" else "", rt.plural), _DEFAULT_PRINTER
    )


def _row_object(obj: dict[str, Any], include: str) -> dict[str, Any] | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def to_table(
    rt: ResourceType,
    objects: list[dict[str, Any]],
    *,
    resource_version: str,
    include_object: str = "Metadata",
    headers: bool = True,
    list_meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Table of ``objects`` (already in the requested version)."""
    columns, cells = printer_for(rt)
    named = any(c.get("format") == "name" for c in columns)  # else the Name column comes first
    now = time.time()
    rows = []
    for obj in objects:
        values = cells(obj, now)
        row: dict[str, Any] = {
            "cells": values if named else [obj.get("metadata", {}).get("name", ""), *values]
        }
        embedded = _row_object(obj, include_object)
        if embedded is not None:
            row["object"] = embedded
        rows.append(row)
    metadata = dict(list_meta or {})
    metadata["resourceVersion"] = resource_version
    table: dict[str, Any] = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata}
    if headers:
        table["columnDefinitions"] = columns if named else [NAME_COLUMN, *columns]
    table["rows"] = rows
    return table
