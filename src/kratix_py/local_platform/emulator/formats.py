"""The string formats a real API server checks in custom resources, checked the same way.

kube-apiserver validates a string against its schema's ``format`` with kube-openapi's format
registry (go-openapi's ``strfmt`` and the govalidator checks it registers); an unknown format is
ignored. The checks here reproduce those for the formats whose rules are plain (patterns, dates,
IP addresses), each compared value by value with a real server in tests/conformance. The others
a real server knows (``email``, ``hostname``, ``uri``, ``duration``, ``mac``, ``isbn``,
``creditcard``, ``ssn``, ``rgbcolor``) rest on Go parsers whose corner cases are not reproduced,
so they are not checked here: a value a real server refuses may pass, never the other way round.
"""

from __future__ import annotations

import calendar
import ipaddress
import re
from collections.abc import Callable

# govalidator's base64 (standard alphabet, padded): what ``format: byte`` means.
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})")
_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.IGNORECASE)
_UUID_VERSION = {
    version: re.compile(
        rf"[0-9a-f]{{8}}-?[0-9a-f]{{4}}-?{version}[0-9a-f]{{3}}-?{variant}[0-9a-f]{{3}}-?[0-9a-f]{{12}}",
        re.IGNORECASE,
    )
    for version, variant in (("3", "[0-9a-f]"), ("4", "[89ab]"), ("5", "[89ab]"))
}
_HEX_COLOR = re.compile(r"#?(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
# strfmt's time of day; its "." before the fraction is a regexp dot, so any character passes there.
_TIME = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|[+-][0-9]{2}:[0-9]{2})")


def _whole(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda value: pattern.fullmatch(value) is not None


def is_date(value: str) -> bool:
    """Go's ``time.Parse("2006-01-02", ...)``: four-digit year, a real day of a real month."""
    found = _DATE.fullmatch(value)
    if found is None:
        return False
    year, month, day = (int(part) for part in found.groups())
    if not 1 <= month <= 12:
        return False
    leap_year = year if year else 2000  # Go's year 0 is a leap year, Python's calendar has none
    return 1 <= day <= calendar.monthrange(leap_year, month)[1]


def is_date_time(value: str) -> bool:
    """strfmt's ``IsDateTime``: a date, ``T``, a time of day and a zone, compared as it compares
    them (case-insensitively, the second ``T``-separated part only)."""
    parts = value.lower().split("t")
    if len(value) < 4 or len(parts) < 2 or not is_date(parts[0]):
        return False
    found = _TIME.fullmatch(parts[1])
    if found is None:
        return False
    hours, minutes, seconds = found.group(1), found.group(2), found.group(3)
    return hours <= "23" and minutes <= "59" and seconds <= "59"


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The server's IP parsing: no zone, and leading zeros in a dotted quad read as decimal
    (``01.2.3.4`` is accepted, where Python's parser refuses it)."""
    if "%" in value:
        return None
    head, colon, quad = value.rpartition(":")
    fields = quad.split(".")
    if len(fields) == 4 and all(f.isascii() and f.isdigit() and len(f) <= 3 for f in fields):
        quad = ".".join(str(int(f)) for f in fields)
    try:
        return ipaddress.ip_address(f"{head}{colon}{quad}")
    except ValueError:
        return None


def is_ipv4(value: str) -> bool:
    # govalidator: any address net.ParseIP takes that is written with a dot (::ffff:1.2.3.4 too).
    return _ip(value) is not None and "." in value


def is_ipv6(value: str) -> bool:
    return _ip(value) is not None and ":" in value


def is_cidr(value: str) -> bool:
    """Go's ``net.ParseCIDR``: an address, ``/`` and a prefix length (host bits may be set)."""
    address, slash, prefix = value.partition("/")
    ip = _ip(address)
    if not slash or not prefix.isdigit() or not prefix.isascii() or len(prefix) > 3 or ip is None:
        return False
    return int(prefix) <= ip.max_prefixlen


def is_bson_object_id(value: str) -> bool:
    return len(value) == 24 and all(ch in "0123456789abcdefABCDEF" for ch in value)


CHECKS: dict[str, Callable[[str], bool]] = {
    "byte": _whole(_BASE64),
    "date": is_date,
    "datetime": is_date_time,
    "uuid": _whole(_UUID),
    "uuid3": _whole(_UUID_VERSION["3"]),
    "uuid4": _whole(_UUID_VERSION["4"]),
    "uuid5": _whole(_UUID_VERSION["5"]),
    "ipv4": is_ipv4,
    "ipv6": is_ipv6,
    "cidr": is_cidr,
    "bsonobjectid": is_bson_object_id,
    "hexcolor": _whole(_HEX_COLOR),
}
"""Format name (as the registry normalises it: no ``-`` or ``_``) -> whether a value has it."""


def violates(format_name: str, value: str) -> bool:
    """True when ``value`` is not of ``format_name``; False for formats not checked here."""
    check = CHECKS.get(format_name.replace("-", "").replace("_", ""))
    return check is not None and not check(value)
