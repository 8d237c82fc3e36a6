"""Kubernetes name rules, checked before Kubernetes does.

A bad pipeline name or label only fails once Kratix creates the Job, ServiceAccount or Role built
from it, far from the Promise that caused it. Checking the same rules when the Promise is parsed
turns that into an error naming the field. Each ``*_error`` function returns ``None`` for a valid
value, otherwise a sentence saying what is wrong and what a valid value looks like.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
LABEL_VALUE_MAX = 63

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")


def dns1123_label_error(value: str) -> str | None:
    """Names that become part of other object names (pipelines, containers) must be DNS-1123 labels."""
    if len(value) > DNS1123_LABEL_MAX:
        return f"{value!r} is longer than {DNS1123_LABEL_MAX} characters"
    if not _DNS1123_LABEL.fullmatch(value):
        return (
            f"{value!r} is not a valid name: use lower-case letters, digits and '-', "
            "starting and ending with a letter or digit (e.g. 'my-pipeline')"
        )
    return None


def dns1123_subdomain_error(value: str) -> str | None:
    """Object names (Promises, Secrets, state stores) must be DNS-1123 subdomains."""
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        return f"{value!r} is longer than {DNS1123_SUBDOMAIN_MAX} characters"
    if not _DNS1123_SUBDOMAIN.fullmatch(value):
        return (
            f"{value!r} is not a valid name: use lower-case letters, digits, '-' and '.', "
            "starting and ending with a letter or digit (e.g. 'my-store')"
        )
    return None


def label_key_error(key: str) -> str | None:
    """``[prefix/]name`` where prefix is a DNS subdomain and name a 63-character qualified name."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or dns1123_subdomain_error(prefix) is not None):
        return f"label key {key!r} has an invalid prefix {prefix!r}: it must be a DNS subdomain like 'example.com'"
    if not name or len(name) > LABEL_VALUE_MAX or not _QUALIFIED_NAME.fullmatch(name):
        return (
            f"label key {key!r} is invalid: the name part must be 1-63 characters of letters, digits, "
            "'-', '_' or '.', starting and ending with a letter or digit"
        )
    return None


def label_value_error(value: str) -> str | None:
    """Empty, or up to 63 characters of letters, digits, ``-_.`` starting/ending alphanumeric."""
    if value == "":
        return None
    if len(value) > LABEL_VALUE_MAX or not _QUALIFIED_NAME.fullmatch(value):
        return (
            f"label value {value!r} is invalid: use at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return None


def labels_error(labels: Mapping[str, str]) -> str | None:
    """The first problem in a label map (keys in sorted order, so the message is stable)."""
    for key in sorted(labels):
        problem = label_key_error(key) or label_value_error(labels[key])
        if problem is not None:
            return problem
    return None


def annotation_keys_error(annotations: Mapping[str, str]) -> str | None:
    """Annotation keys follow the label-key rules; their values are free text."""
    for key in sorted(annotations):
        problem = label_key_error(key)
        if problem is not None:
            return problem.replace("label key", "annotation key")
    return None
