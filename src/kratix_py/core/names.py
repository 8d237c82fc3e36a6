"""What the objects created for a pipeline run are called, and which namespace they live in.

Kratix derives these names from the Promise, the pipeline and the request (kratix-behaviour.md §2.1,
§2.6); Promise authors see them in ``kubectl get jobs,sa,roles`` and some tooling selects by them,
so kratix-py produces the same names, with one deliberate difference: the suffix of a Job name.

Kratix appends five random characters to every Job name, so every create is a new Job. kratix-py
appends five hex characters of an md5 over ``<object uid>/<action>/<run>/<index>/<attempt>``
instead. "Start pipeline 2 of run 7, attempt 1" then always means the same Job name, so doing it
twice (a retried reconcile, an operator restarted between create and status write) is a 409 from the
API server, never a second run of the pipeline. The object's uid is part of it so that a request
deleted and created again under the same name never collides with a Job the old one left behind, and
the action so that configure and delete pipelines with the same name never share a Job.
"""

from __future__ import annotations

import string

from kratix_py.api.promise import Promise
from kratix_py.contract import SYSTEM_NAMESPACE, WorkflowAction, WorkflowType
from kratix_py.core.hashing import md5_hex

NAME_SUFFIX_LENGTH = 5
MAX_NAME_BEFORE_SUFFIX = 63 - 1 - NAME_SUFFIX_LENGTH
"""57: a name up to this long keeps all its characters; ``-`` and the suffix make it at most 63."""
TRUNCATED_NAME_LENGTH = MAX_NAME_BEFORE_SUFFIX - 1
"""56: what a longer name is cut to. One less than the limit above, exactly as Kratix does, so
that long names come out identical to the ones Kratix generated (and its users know)."""

SCHEDULING_CONFIG_MAP_PREFIX = "destination-selectors-"
ALL_NAMESPACES_NAME_PART = "kratix-all-namespaces"
"""Stands for ``resourceNamespace: "*"`` in generated names (``*`` is not allowed in a name)."""

_ALPHANUMERIC = frozenset(string.ascii_letters + string.digits)


def shorten_name(name: str) -> str:
    """``name`` cut so that a ``-xxxxx`` suffix fits into 63 characters, ending alphanumeric.

    Names of up to 57 characters are kept; longer ones are cut to 56, and any trailing ``-`` or
    ``.`` is dropped, since Kubernetes names must end with a letter or digit.
    """
    if len(name) > MAX_NAME_BEFORE_SUFFIX:
        name = name[:TRUNCATED_NAME_LENGTH]
    shortened = name
    while shortened and not _ends_alphanumeric(shortened):
        shortened = shortened[:-1]
    if not shortened:
        raise ValueError(f"cannot build an object name from {name!r}: it has no letters or digits")
    return shortened


def _ends_alphanumeric(name: str) -> bool:
    return name[-1] in _ALPHANUMERIC


def deterministic_name(name: str) -> str:
    """``<shortened name>-<first 5 hex of md5(full name)>``, Kratix's stable generated names.

    Used for the user-permission Roles and bindings: the same pipeline always gets the same names,
    so a rerun updates them in place instead of piling up new ones. The hash is taken over the
    name *before* it is cut, as Kratix's deterministic object-name rule does: two long names that
    share their first 56 characters still get different objects, and a platform upgraded from
    Kratix finds the objects Kratix made under the very same names.
    """
    return f"{shorten_name(name)}-{md5_hex(name)[:NAME_SUFFIX_LENGTH]}"


def job_name_base(
    promise_name: str,
    pipeline_name: str,
    *,
    request_name: str | None = None,
    request_namespace: str | None = None,
) -> str:
    """``kratix-<promise>[-<request>[-<request namespace>]]-<pipeline>``, before shortening.

    Pass ``request_namespace`` only when the Promise sets ``pipelineNamespace``: then requests from
    different namespaces share one namespace for their Jobs, and the namespace tells them apart.
    """
    parts = ["kratix", promise_name]
    if request_name is not None:
        parts.append(request_name)
        if request_namespace is not None:
            parts.append(request_namespace)
    parts.append(pipeline_name)
    return "-".join(parts)


def job_suffix(object_uid: str, action: WorkflowAction | str, run: int, index: int, attempt: int) -> str:
    """Five hex characters identifying one attempt of one pipeline of one run (see module docstring).

    Five hex characters are 20 bits: two different attempts of the same pipeline for the same
    object share a suffix with a chance of about one in a million, and only Jobs with the same name
    prefix can collide at all. The Job's ``kratix.io/run-id``, ``pipeline-index`` and ``attempt``
    annotations say which attempt an existing Job really is.
    """
    if not object_uid:
        raise ValueError(
            "the object has no metadata.uid: build pipeline Jobs from the object as read from the API server"
        )
    key = f"{object_uid}/{WorkflowAction(action)}/{run}/{index}/{attempt}"
    return md5_hex(key)[:NAME_SUFFIX_LENGTH]


def job_name(base: str, suffix: str) -> str:
    """The Job name: ``base`` shortened to leave room, then ``-`` and the suffix."""
    return f"{shorten_name(base)}-{suffix}"


def scheduling_config_map_name(promise_name: str) -> str:
    """The ConfigMap holding the Promise's destination selectors for the work-writer."""
    return f"{SCHEDULING_CONFIG_MAP_PREFIX}{promise_name}"


def pipeline_namespace(
    promise: Promise, workflow_type: WorkflowType | str, request_namespace: str | None = None
) -> str:
    """Where the pipeline's Job, ServiceAccount and Roles live.

    ``workflows.config.pipelineNamespace`` if the Promise sets it; otherwise the platform namespace
    for promise workflows and the request's own namespace for resource workflows.
    """
    configured = promise.spec.workflows.config.pipeline_namespace
    if configured:
        return configured
    if WorkflowType(workflow_type) is WorkflowType.PROMISE:
        return SYSTEM_NAMESPACE
    if not request_namespace:
        raise ValueError("a resource workflow needs the request's namespace to know where to run")
    return request_namespace


def uses_pipeline_namespace(promise: Promise) -> bool:
    """True when the Promise runs every pipeline in one namespace (``pipelineNamespace``).

    Then resource Jobs carry the request namespace in their name, labels and work-writer arguments,
    because requests with the same name from different namespaces meet in that one namespace.
    """
    return bool(promise.spec.workflows.config.pipeline_namespace)
