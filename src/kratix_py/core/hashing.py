"""Spec hashes and canonical JSON.

Kratix decides whether a pipeline must run again by comparing an md5 of the object's spec with the
``kratix.io/hash`` label of its last Job (behaviour spec §2.8). Go's ``json.Marshal`` sorts map keys,
so the same spec always gives the same hash there; Python dicts keep insertion order, so we serialise
canonically instead. The output also matches Go's byte for byte in the cases that show up in specs
(HTML-sensitive characters escaped, integral floats written without ``.0``), so a hash computed here
equals the one Kratix would record for the same spec.
"""

from __future__ import annotations

import hashlib
import json
import math
from decimal import Decimal
from typing import Any

# Go's encoder escapes these inside strings (to make JSON safe to embed in HTML).
_GO_STRING_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def _go_float(value: float) -> str:
    """Format a float the way Go's ``encoding/json`` does (shortest digits, ``1`` not ``1.0``)."""
    if not math.isfinite(value):
        # Go refuses these too ("unsupported value"); a Kubernetes object can never hold them.
        raise ValueError(f"cannot hash the non-finite number {value!r}")
    if value == 0:
        return "0"
    if 1e-6 <= abs(value) < 1e21:
        return format(Decimal(repr(value)).normalize(), "f")
    # Go switches to exponent form outside that range and writes e-7 rather than e-07.
    text = repr(value)
    return text.replace("e-0", "e-").replace("e+0", "e+")


def _encode(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        for character, escaped in _GO_STRING_ESCAPES.items():
            text = text.replace(character, escaped)
        return text
    if isinstance(value, dict):
        # Code-point order of str keys equals Go's byte order of their UTF-8 encoding.
        items = sorted(((str(key), item) for key, item in value.items()), key=lambda pair: pair[0])
        return "{" + ",".join(f"{_encode(key)}:{_encode(item)}" for key, item in items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    raise TypeError(f"cannot serialise a value of type {type(value).__name__}: {value!r}")


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: equal data always gives equal text (like Go's json.Marshal)."""
    return _encode(value)


def md5_hex(data: str | bytes) -> str:
    """The lowercase hex md5 of ``data`` (text is encoded as UTF-8). Not for security: an identity key."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.md5(raw, usedforsecurity=False).hexdigest()


def spec_hash(spec: Any) -> str:
    """md5 of the canonical JSON of one spec; a missing spec (``None``) hashes as ``null`` like in Go."""
    return md5_hex(canonical_json(spec))


def promise_spec_hash(promise_spec: Any) -> str:
    """The rerun key of promise workflows: ``md5(json(promise.spec))``."""
    return spec_hash(promise_spec)


def resource_spec_hash(promise_spec: Any, request_spec: Any, *, dry_run: bool = False) -> str:
    """The rerun key of resource workflows: ``md5("<md5(promise spec)>-<md5(request spec)>")``.

    The Promise's spec is part of it on purpose: any change to the Promise re-runs every request.
    A dry run appends ``-dry-run`` so its Jobs never count as a real run of the same spec.
    """
    return combine_spec_hashes(spec_hash(promise_spec), request_spec, dry_run=dry_run)


def combine_spec_hashes(promise_hash: str, request_spec: Any, *, dry_run: bool = False) -> str:
    """:func:`resource_spec_hash` from the Promise's spec hash (which callers may keep per Promise
    version: hashing a large Promise for every request reconcile is most of the cost)."""
    combined = f"{promise_hash}-{spec_hash(request_spec)}"
    if dry_run:
        combined += "-dry-run"
    return md5_hex(combined)
