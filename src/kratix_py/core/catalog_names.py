"""Names, references and annotation keys of the Backstage entities kratix-py makes (pure).

Backstage rejects an entity whose name, reference, tag or annotation breaks its rules, and drops
it from the catalog with an error only its admin sees. So every value kratix-py puts into an
entity is built or checked here, and a value that cannot be made valid raises
:class:`CatalogError` with a sentence naming the value and the fix. The rules are those of
``@backstage/catalog-model`` (``KubernetesValidatorFunctions``, ``FieldFormatEntityPolicy``); the
test suite checks every generated entity with that package itself.

Annotation keys: ``kratix.io/promise-name``, ``kratix.io/api-name``, ``kratix.io/api-group``,
``kratix.io/status``, ``kratix.io/backstage-promise-template`` (Promise) and ``kratix.io/group``,
``kratix.io/version``, ``kratix.io/kind``, ``kratix.io/name``, ``kratix.io/namespace`` (request)
are those SKE's Backstage frontend plugin reads, as documented in Syntasso's kratix-docs,
``docs/ske/01-backstage/04-yaml-file-format.mdx`` ("The Kratix Catalog Entities"), with the
entity types ``kratix-promise`` and ``kratix-resource``. ``backstage.io/kubernetes-id``,
``backstage.io/kubernetes-namespace`` and ``backstage.io/kubernetes-label-selector`` are the
Backstage Kubernetes plugin's.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

CATALOG_API_VERSION = "backstage.io/v1alpha1"
TEMPLATE_API_VERSION = "scaffolder.backstage.io/v1beta3"
DEFAULT_ENTITY_NAMESPACE = "default"

# SKE's keys (see the module docstring for where they are documented).
ANNOTATION_PROMISE_NAME = "kratix.io/promise-name"
ANNOTATION_API_NAME = "kratix.io/api-name"
ANNOTATION_API_GROUP = "kratix.io/api-group"
ANNOTATION_STATUS = "kratix.io/status"
ANNOTATION_PROMISE_TEMPLATE = "kratix.io/backstage-promise-template"
ANNOTATION_GROUP = "kratix.io/group"
ANNOTATION_VERSION = "kratix.io/version"
ANNOTATION_KIND = "kratix.io/kind"
ANNOTATION_NAME = "kratix.io/name"
ANNOTATION_NAMESPACE = "kratix.io/namespace"
# kratix-py's own, kept from earlier releases.
ANNOTATION_PROMISE_VERSION = "kratix.io/promise-version"
ANNOTATION_REQUEST_KIND = "kratix.io/request-kind"
ANNOTATION_REQUEST_API_VERSION = "kratix.io/request-api-version"
# The Backstage Kubernetes plugin's.
ANNOTATION_KUBERNETES_ID = "backstage.io/kubernetes-id"
ANNOTATION_KUBERNETES_NAMESPACE = "backstage.io/kubernetes-namespace"
ANNOTATION_KUBERNETES_LABEL_SELECTOR = "backstage.io/kubernetes-label-selector"
LABEL_KUBERNETES_ID = ANNOTATION_KUBERNETES_ID
"""The label the Kubernetes plugin looks for on cluster objects (same key as the annotation)."""

# Where a Promise (or a request) says who owns it in Backstage: an annotation, else a label.
METADATA_OWNER = "backstage.io/owner"
METADATA_SYSTEM = "backstage.io/system"
METADATA_LIFECYCLE = "backstage.io/lifecycle"

PROMISE_TYPE = "kratix-promise"
REQUEST_TYPE = "kratix-resource"
API_TYPE = "crd"

MAX_NAME = 63
_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_NAMESPACE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_KIND = re.compile(r"^[a-zA-Z][a-z0-9A-Z]*$")
_TAG = re.compile(r"^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_HASH = 6


class CatalogError(ValueError):
    """A value that would make Backstage reject the entity; the message says which and what to do."""


def _digest(text: str, length: int = _HASH) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def fit_name(name: str, *, identity: str | None = None) -> str:
    """``name`` within 63 characters: a longer one is cut and given a hash of ``identity`` (or itself).

    Names are built from Kubernetes names (letters, digits, ``-`` and ``.``), which fit
    Backstage's character rules; only their length has to be handled.
    """
    if len(name) <= MAX_NAME:
        return name
    head = name[: MAX_NAME - _HASH - 1].rstrip("-._")
    return f"{head}-{_digest(identity or name)}"


def entity_name(base: str, suffix: str) -> str:
    """``<base>-<suffix>`` within Backstage's 63 characters (cut and hashed when longer)."""
    return fit_name(f"{base}-{suffix}")


def promise_component_name(promise: str) -> str:
    """``<promise>-promise``, as SKE names a Promise's Component."""
    return entity_name(promise, "promise")


def promise_api_name(promise: str) -> str:
    return entity_name(promise, "promise-api")


def promise_template_name(promise: str) -> str:
    return entity_name(promise, "promise-template")


def request_entity_name(promise: str, namespace: str, name: str) -> str:
    """``<namespace>_<promise>_<request>``, in the state store's order (resources/<ns>/<promise>/<name>).

    ``_`` never occurs in a Kubernetes name or namespace, so two different requests never get the
    same entity name, across namespaces and Promises alike (``a-b/c`` and ``a/b-c`` stay apart);
    a name over 63 characters is cut and given a hash of the three parts.
    """
    return fit_name(f"{namespace}_{promise}_{name}", identity=f"{namespace}/{promise}/{name}")


def kubernetes_id(promise: str, name: str) -> str:
    """The ``backstage.io/kubernetes-id`` of a request: ``<promise>.<request>`` (a label value).

    The Template puts it on the request as a label, so the Kubernetes tab finds the request and
    anything its pipeline copies the label to; over 63 characters it is cut and hashed.
    """
    return fit_name(f"{promise}.{name}")


def is_label_value(value: str) -> bool:
    return len(value) <= MAX_NAME and bool(_LABEL_VALUE.match(value))


def tag(value: str) -> str | None:
    """``value`` as a Backstage tag (lower case, ``-`` for other characters), or None if nothing is left."""
    cleaned = re.sub(r"[^a-z0-9:+#]+", "-", value.lower()).strip("-")[:MAX_NAME].rstrip("-")
    return cleaned if _TAG.match(cleaned) else None


def entity_ref(kind: str, name: str, namespace: str = DEFAULT_ENTITY_NAMESPACE) -> str:
    return f"{kind.lower()}:{namespace}/{name}"


def check_entity_ref(value: str, what: str) -> str:
    """``value`` if it is a valid entity reference (``[kind:][namespace/]name``), else CatalogError."""
    rest = value
    kind = namespace = None
    if ":" in rest:
        kind, rest = rest.split(":", 1)
    if "/" in rest:
        namespace, rest = rest.split("/", 1)
    problems = []
    if kind is not None and not _KIND.match(kind):
        problems.append(f"kind {kind!r} must be letters and digits, starting with a letter")
    if namespace is not None and not (len(namespace) <= MAX_NAME and _NAMESPACE.match(namespace)):
        problems.append(f"namespace {namespace!r} must be lower-case letters, digits and '-'")
    if not (len(rest) <= MAX_NAME and _NAME.match(rest)):
        problems.append(
            f"name {rest!r} must be 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        )
    if problems:
        raise CatalogError(
            f"{what} {value!r} is not a Backstage entity reference ([kind:][namespace/]name): {'; '.join(problems)}"
        )
    return value


def check_name(value: str, what: str) -> str:
    if len(value) <= MAX_NAME and _NAME.match(value):
        return value
    raise CatalogError(
        f"{what} {value!r} is not a Backstage entity name: 1-63 letters, digits, '-', '_' or '.', "
        "starting and ending with a letter or digit"
    )


def check_text(value: str, what: str) -> str:
    if value.strip():
        return value
    raise CatalogError(f"{what} must not be empty")


def metadata_value(obj: Mapping[str, Any], key: str) -> str | None:
    """``key`` from the object's annotations, else its labels (a label cannot hold ``:`` or ``/``)."""
    metadata = obj.get("metadata") or {}
    for where in ("annotations", "labels"):
        value = (metadata.get(where) or {}).get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None
