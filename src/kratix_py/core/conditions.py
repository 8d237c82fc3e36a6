"""Conditions as Kubernetes tools expect them, written without churn.

Kratix rebuilds its condition list through a map, so the order changes between reconciles and every
pass writes a "new" status. Here the order of existing conditions is kept, new types are appended,
and ``lastTransitionTime`` moves only when ``status`` changes, so an unchanged outcome gives a
byte-identical status (and no write, no watch event, no Event).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kratix_py.api.meta import format_timestamp

TRUE, FALSE, UNKNOWN = "True", "False", "Unknown"


timestamp = format_timestamp
"""RFC 3339 in UTC with second precision, as the API server stores metav1.Time."""


@dataclass(frozen=True)
class Condition:
    type: str
    status: str
    reason: str
    message: str = ""


def find(conditions: Iterable[Mapping[str, Any]] | None, condition_type: str) -> Mapping[str, Any] | None:
    for condition in conditions or ():
        if condition.get("type") == condition_type:
            return condition
    return None


def is_true(conditions: Iterable[Mapping[str, Any]] | None, condition_type: str) -> bool:
    found = find(conditions, condition_type)
    return found is not None and found.get("status") == TRUE


def set_condition(
    conditions: Sequence[Mapping[str, Any]] | None,
    condition: Condition,
    now: datetime,
    observed_generation: int | None = None,
) -> list[dict[str, Any]]:
    """A new list with ``condition`` set: same position if the type exists, appended otherwise."""
    result: list[dict[str, Any]] = []
    placed = False
    for existing in conditions or ():
        if existing.get("type") != condition.type:
            result.append(dict(existing))
            continue
        placed = True
        changed = existing.get("status") != condition.status
        transition = timestamp(now) if changed else existing.get("lastTransitionTime") or timestamp(now)
        rendered = _render(condition, transition, observed_generation)
        for key, value in existing.items():  # keep fields set by others, e.g. observedGeneration
            rendered.setdefault(key, value)
        result.append(rendered)
    if not placed:
        result.append(_render(condition, timestamp(now), observed_generation))
    return result


def set_warning(
    conditions: Sequence[Mapping[str, Any]] | None,
    condition_type: str,
    warning: Condition | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """A warning condition that exists only while there is something to warn about: ``warning``
    set, or the type removed when it is None (a healthy object's status stays as Kratix's)."""
    if warning is not None:
        return set_condition(conditions, warning, now)
    return [dict(existing) for existing in conditions or () if existing.get("type") != condition_type]


def set_conditions(
    conditions: Sequence[Mapping[str, Any]] | None,
    updates: Iterable[Condition],
    now: datetime,
    observed_generation: int | None = None,
) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = [dict(c) for c in conditions or ()]
    for update in updates:
        result = set_condition(result, update, now, observed_generation)
    return result


def _render(condition: Condition, transition: str, observed_generation: int | None) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "type": condition.type,
        "status": condition.status,
        "reason": condition.reason,
        "message": condition.message,
        "lastTransitionTime": transition,
    }
    if observed_generation is not None:
        rendered["observedGeneration"] = observed_generation
    return rendered
