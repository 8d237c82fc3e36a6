"""A request's ``status.healthStatus`` from its HealthRecords (kratix-behaviour.md §1.10).

The aggregate state is the worst one recorded: unhealthy < degraded < unknown < healthy < ready.
Records are listed in name order so the same records always give the same status (no rewrite).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

STATE_PRIORITY = {"unhealthy": 1, "degraded": 2, "unknown": 3, "healthy": 4, "ready": 5}
GOOD_STATES = ("healthy", "ready")


def health_status(records: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """``{state, healthRecords[]}`` for the records, or None when there are none."""
    entries: list[dict[str, Any]] = []
    state = "ready"
    for record in sorted(records, key=lambda r: str((r.get("metadata") or {}).get("name"))):
        data = record.get("data") or {}
        meta = record.get("metadata") or {}
        record_state = str(data.get("state") or "unknown")
        entry: dict[str, Any] = {
            "state": record_state,
            "lastRun": data.get("lastRun", 0),
            "source": {"name": meta.get("name"), "namespace": meta.get("namespace")},
        }
        if data.get("details"):
            entry["details"] = data["details"]
        entries.append(entry)
        if STATE_PRIORITY.get(record_state, 3) < STATE_PRIORITY[state]:
            state = record_state if record_state in STATE_PRIORITY else "unknown"
    if not entries:
        return None
    return {"state": state, "healthRecords": entries}


def is_for(record: Mapping[str, Any], promise: str, namespace: str, name: str) -> bool:
    """Whether a HealthRecord names this request of this Promise."""
    data = record.get("data") or {}
    ref = data.get("resourceRef") or {}
    return (
        (data.get("promiseRef") or {}).get("name") == promise
        and ref.get("name") == name
        and (ref.get("namespace") or (record.get("metadata") or {}).get("namespace")) == namespace
    )
