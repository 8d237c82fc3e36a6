"""Go-style durations (``"1h30m"``, ``"90s"``, ``"1.5h"``), as Kratix users write them.

Kratix parses ``reconciliationInterval``, ``retryAfter`` and its config with Go's
``time.ParseDuration``, so Promises in the wild use that syntax. Accepting exactly the same strings
(and rejecting the same ones, e.g. a bare ``"10"``) keeps a Promise valid on both.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

_NANOSECONDS_PER_UNIT: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek mu: Go accepts both spellings
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}

_TERM = re.compile(r"(\d+\.?\d*|\.\d+)([^\d.]+)")
_WHOLE = re.compile(r"[-+]?(?:(?:\d+\.?\d*|\.\d+)[^\d.]+)+")


def parse_duration(text: str) -> timedelta:
    """``"1h30m"`` -> ``timedelta(hours=1, minutes=30)``; raises ``ValueError`` naming the problem.

    Sub-microsecond parts are truncated (``timedelta`` has microsecond resolution).
    """
    if not isinstance(text, str):
        raise ValueError(f"a duration must be a string like '1h30m', got {text!r}")
    body = text.strip()
    if body in ("0", "+0", "-0"):
        return timedelta(0)
    if not body or not _WHOLE.fullmatch(body):
        raise ValueError(
            f"invalid duration {text!r}: use a number with a unit, e.g. '90s', '10m' or '1h30m' "
            "(units: ns, us, ms, s, m, h)"
        )
    sign = -1 if body.startswith("-") else 1
    nanoseconds = Decimal(0)
    for number, unit in _TERM.findall(body.lstrip("+-")):
        if unit not in _NANOSECONDS_PER_UNIT:
            raise ValueError(f"invalid duration {text!r}: unknown unit {unit!r} (use ns, us, ms, s, m or h)")
        nanoseconds += Decimal(number) * _NANOSECONDS_PER_UNIT[unit]
    return sign * timedelta(microseconds=int(nanoseconds / 1000))


def format_duration(value: timedelta) -> str:
    """The inverse, in Go's canonical form: ``timedelta(hours=10)`` -> ``"10h0m0s"``."""
    microseconds = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    if microseconds == 0:
        return "0s"
    sign = "-" if microseconds < 0 else ""
    microseconds = abs(microseconds)
    if microseconds < 1_000:
        return f"{sign}{microseconds}\u00b5s"
    if microseconds < 1_000_000:
        return f"{sign}{_trim(Decimal(microseconds) / 1_000)}ms"
    hours, rest = divmod(microseconds, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    seconds = _trim(Decimal(rest) / 1_000_000)
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{sign}{minutes}m{seconds}s"
    return f"{sign}{seconds}s"


def _trim(number: Decimal) -> str:
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
