"""Masking the values of a pipeline's Secrets in text that goes to status, Events and logs.

When a pipeline fails, kratix-py quotes the end of the failing container's log in the request's
conditions and Events: that is what makes the failure actionable. But a pipeline may print what
its environment holds, and its environment may come from Secrets (``env[].valueFrom.secretKeyRef``,
``envFrom[].secretRef``, and Secret volumes). Conditions and Events are readable by far more people
than the Secret, so every value of every Secret the pod references is replaced by ``***`` first.

Pure: the pod spec says which Secrets; the caller reads them (it has the API access) and hands the
values over; :func:`mask` does the replacing.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

MASK: Final = "***"
SHORT_VALUE: Final = 4
"""Values shorter than this are masked only where they stand alone (``on`` inside ``done`` is not
a leak, and masking every ``1`` would make the log unreadable)."""


@dataclass(frozen=True)
class SecretReference:
    """A Secret the pod reads; ``key`` is ``None`` when the pod reads every key (envFrom, volumes)."""

    name: str
    key: str | None = None


def _containers(pod_spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    containers = [*(pod_spec.get("initContainers") or []), *(pod_spec.get("containers") or [])]
    return [container for container in containers if isinstance(container, Mapping)]


def secret_references(pod_spec: Mapping[str, Any]) -> list[SecretReference]:
    """Every Secret (and key) the pod's containers take values from, sorted and without repeats."""
    found: set[SecretReference] = set()
    for container in _containers(pod_spec):
        for entry in container.get("env") or []:
            selector = ((entry or {}).get("valueFrom") or {}).get("secretKeyRef") or {}
            if selector.get("name"):
                found.add(SecretReference(str(selector["name"]), str(selector.get("key") or "") or None))
        for entry in container.get("envFrom") or []:
            reference = (entry or {}).get("secretRef") or {}
            if reference.get("name"):
                found.add(SecretReference(str(reference["name"])))
    for volume in pod_spec.get("volumes") or []:
        secret = (volume or {}).get("secret") or {}
        if secret.get("secretName"):
            found.add(SecretReference(str(secret["secretName"])))
        for source in ((volume or {}).get("projected") or {}).get("sources") or []:
            projected = (source or {}).get("secret") or {}
            if projected.get("name"):
                found.add(SecretReference(str(projected["name"])))
    return sorted(found, key=lambda reference: (reference.name, reference.key or ""))


def secret_data(secret: Mapping[str, Any]) -> dict[str, str]:
    """A Secret object's keys and values as text (``data`` decoded, ``stringData`` too)."""
    values: dict[str, str] = {}
    for key, encoded in (secret.get("data") or {}).items():
        try:
            raw = base64.b64decode(str(encoded), validate=True)
        except ValueError:
            continue
        values[str(key)] = raw.decode("utf-8", "replace")
    for key, value in (secret.get("stringData") or {}).items():
        values[str(key)] = str(value)
    return values


def referenced_values(
    references: Iterable[SecretReference], secrets: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """The values the references point at, given the Secret objects by name.

    A reference to one key still masks every key of that Secret: the other keys are just as
    secret, and the pipeline may read them some other way.
    """
    values: set[str] = set()
    for reference in references:
        secret = secrets.get(reference.name)
        if secret is not None:
            values.update(value for value in secret_data(secret).values() if value)
    return sorted(values)


def _forms(value: str) -> set[str]:
    """The ways a value can show up in a log: as it is, line by line, base64'd or URL-quoted."""
    forms = {value, value.strip()}
    forms.update(line.strip() for line in value.splitlines())
    raw = value.encode()
    forms.add(base64.b64encode(raw).decode())
    forms.add(base64.b64encode(raw).decode().rstrip("="))
    forms.add(urllib.parse.quote(value, safe=""))
    return {form for form in forms if form}


def mask(text: str, values: Iterable[str]) -> str:
    """``text`` with every form of every value replaced by ``***``, longest first.

    Longest first, so a value that contains another is masked whole and leaves no tail behind.
    """
    forms: set[str] = set()
    for value in values:
        forms.update(_forms(value))
    for form in sorted(forms, key=lambda item: (-len(item), item)):
        if len(form) >= SHORT_VALUE:
            text = text.replace(form, MASK)
        else:
            text = re.sub(rf"(?<![\w]){re.escape(form)}(?![\w])", MASK, text)
    return text
