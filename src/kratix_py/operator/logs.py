"""Log lines that name the object and the reconcile they belong to (issue 14, item 5).

A reconcile runs in a worker thread; :func:`reconciling` marks that thread's context with the
object (kind, namespace, name) and a reconcile number, and :class:`ObjectFilter` copies both onto
every record logged meanwhile, by any module. The text format prefixes them
(``Redis default/my-redis #42: started ...``); the JSON format carries them as fields (kopf's
``object`` key, plus ``reconcile``), so a log pipeline can select one object's story without
parsing messages. Lines outside a reconcile (start-up, leadership, watches) carry neither.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ObjectRef:
    """What a reconcile is for, in the user's words."""

    kind: str
    name: str
    namespace: str | None = None

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"


_KINDS = {
    "promise": "Promise",
    "work": "Work",
    "workplacement": "WorkPlacement",
    "destination": "Destination",
    "jobpods": "Job",
}


def ref_for_key(key: tuple[Any, ...], request_kind: str | None = None) -> ObjectRef:
    """The object a queue key stands for (``request_kind``: the Kind of a request key's plural)."""
    tag, parts = str(key[0]), [str(part) for part in key[1:]]
    if tag == "request" and len(parts) == 5:
        return ObjectRef(request_kind or parts[2], parts[4], parts[3])
    if tag == "statestore" and len(parts) == 2:
        return ObjectRef(parts[0], parts[1])
    kind = _KINDS.get(tag, tag)
    if len(parts) == 2:
        return ObjectRef(kind, parts[1], parts[0])
    return ObjectRef(kind, parts[0] if parts else "")


_CURRENT: contextvars.ContextVar[tuple[ObjectRef, int] | None] = contextvars.ContextVar(
    "kratix_py_reconcile", default=None
)


@contextlib.contextmanager
def reconciling(ref: ObjectRef, number: int) -> Iterator[None]:
    """Every record logged in this block (in this thread) names ``ref`` and reconcile ``number``."""
    token = _CURRENT.set((ref, number))
    try:
        yield
    finally:
        _CURRENT.reset(token)


def enter(ref: ObjectRef, number: int) -> None:
    """Mark the rest of the current context (an asyncio task: its own copy) as reconcile ``number``."""
    _CURRENT.set((ref, number))


def current() -> tuple[ObjectRef, int] | None:
    return _CURRENT.get()


class ObjectFilter(logging.Filter):
    """Adds ``k8s_ref`` (kopf's name for it) and ``reconcile`` to records logged in a reconcile."""

    def filter(self, record: logging.LogRecord) -> bool:
        found = _CURRENT.get()
        if found is not None and not hasattr(record, "k8s_ref"):
            ref, number = found
            reference: dict[str, Any] = {"kind": ref.kind, "name": ref.name}
            if ref.namespace:
                reference["namespace"] = ref.namespace
            record.k8s_ref = reference
            record.reconcile = number
        return True


class TextFormatter(logging.Formatter):
    """A text format (kopf's full one by default) with the object and reconcile before the message."""

    def __init__(self, fmt: str = "[%(asctime)s] %(name)-20.20s [%(levelname)-8.8s] %(message)s") -> None:
        super().__init__(fmt)

    def format(self, record: logging.LogRecord) -> str:
        ref = getattr(record, "k8s_ref", None)
        if isinstance(ref, dict) and ref.get("name"):
            where = f"{ref['namespace']}/{ref['name']}" if ref.get("namespace") else str(ref["name"])
            kind = f"{ref['kind']} " if ref.get("kind") else ""
            number = getattr(record, "reconcile", None)
            prefix = f"{kind}{where}" + (f" #{number}" if number is not None else "")
            record = logging.makeLogRecord({**record.__dict__, "msg": f"{prefix}: {record.msg}"})
        return super().format(record)


def install(handler: logging.Handler, *, json: bool) -> None:
    """Make ``handler`` (kopf's, after ``kopf.configure``) name objects in every line."""
    handler.addFilter(ObjectFilter())
    if not json:
        handler.setFormatter(TextFormatter())
