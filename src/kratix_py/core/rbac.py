"""The ServiceAccount and RBAC objects a pipeline runs with (kratix-behaviour.md §2.6).

Every pipeline gets exactly what its kratix-py containers need, and what its author asked for in
``spec.rbac.permissions``, nothing more:

* promise workflows: a ClusterRole ``<id>`` on ``promises``, ``promises/status`` and ``works`` (the
  reader and status-writer read and update the Promise; the work-writer writes Works into the
  platform namespace);
* resource workflows: a Role ``<id>`` in the pipeline namespace on the request's ``<plural>`` and
  ``<plural>/status``, and on ``works``; when the pipeline runs elsewhere (``pipelineNamespace``) a
  ClusterRole ``<id>-<request namespace>`` as well, since the request lives outside the namespace the
  Role covers;
* each ``rbac.permissions`` entry: in the pipeline namespace (no ``resourceNamespace``), in one named
  namespace, or in all of them (``*``).

One deliberate difference from Kratix: Kratix grants ``*`` on ``works`` to resource pipelines. The
work-writer only gets, lists, creates and updates Works, so kratix-py grants the same five verbs as
everywhere else, and a pipeline can no longer delete other requests' Works in its namespace.

Objects come as plain dicts in the order they should be applied: each role just before its binding.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from kratix_py.api.pipeline import Permission
from kratix_py.contract import (
    GROUP,
    LABEL_PIPELINE_NAME,
    LABEL_PIPELINE_NAMESPACE,
    LABEL_PROMISE_NAME,
    LABEL_RESOURCE_NAMESPACE,
    LABEL_WORKFLOW_ACTION,
    LABEL_WORKFLOW_TYPE,
    RESOURCE_NAMESPACE_ALL,
    WorkflowAction,
    WorkflowType,
)
from kratix_py.core.names import ALL_NAMESPACES_NAME_PART, deterministic_name

if TYPE_CHECKING:
    from kratix_py.api.promise import Promise

RBAC_API_GROUP: Final = "rbac.authorization.k8s.io"
RBAC_API_VERSION: Final = f"{RBAC_API_GROUP}/v1"

PIPELINE_VERBS: Final = ("get", "list", "update", "create", "patch")
"""What kratix-py's containers do with the objects they touch; the order is Kratix's."""
ALL_NAMESPACES: Final = "*"
WORKS: Final = "works"


def service_account(name: str, namespace: str, promise_name: str) -> dict[str, Any]:
    """The pipeline's ServiceAccount, labelled with its Promise so it is deleted along with it."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": namespace, "labels": {LABEL_PROMISE_NAME: promise_name}},
    }


def permission_labels(
    promise_name: str,
    pipeline_name: str,
    pipeline_namespace: str,
    workflow_type: WorkflowType | str,
    action: WorkflowAction | str,
) -> dict[str, str]:
    """Labels on every object made from ``rbac.permissions``; also the selector to find stale ones."""
    return {
        LABEL_PROMISE_NAME: promise_name,
        LABEL_WORKFLOW_TYPE: str(WorkflowType(workflow_type)),
        LABEL_WORKFLOW_ACTION: str(WorkflowAction(action)),
        LABEL_PIPELINE_NAME: pipeline_name,
        LABEL_PIPELINE_NAMESPACE: pipeline_namespace,
    }


def pipeline_rbac(
    *,
    promise_name: str,
    pipeline_id: str,
    pipeline_name: str,
    workflow_type: WorkflowType | str,
    action: WorkflowAction | str,
    pipeline_namespace: str,
    service_account_name: str,
    permissions: Sequence[Permission] = (),
    request_group: str | None = None,
    request_plural: str | None = None,
    request_namespace: str | None = None,
) -> list[dict[str, Any]]:
    """Roles and bindings for one pipeline, role before binding, in a fixed order.

    ``request_*`` describe the request for resource workflows (its API group, CRD plural and
    namespace) and are ignored for promise workflows.
    """
    workflow_type = WorkflowType(workflow_type)
    subject = {"kind": "ServiceAccount", "name": service_account_name, "namespace": pipeline_namespace}
    owned_by_promise = {LABEL_PROMISE_NAME: promise_name}
    objects: list[dict[str, Any]] = []

    if workflow_type is WorkflowType.PROMISE:
        rule = _rule([GROUP], ["promises", "promises/status", WORKS], PIPELINE_VERBS)
        objects += _cluster_grant(pipeline_id, [rule], owned_by_promise, subject)
    else:
        if not (request_group and request_plural and request_namespace):
            raise ValueError("a resource workflow's RBAC needs the request's group, plural and namespace")
        request_rule = _rule([request_group], [request_plural, f"{request_plural}/status"], PIPELINE_VERBS)
        works_rule = _rule([GROUP], [WORKS], PIPELINE_VERBS)
        objects += _namespace_grant(
            pipeline_id, pipeline_namespace, [request_rule, works_rule], owned_by_promise, subject
        )
        if request_namespace != pipeline_namespace:
            objects += _cluster_grant(
                f"{pipeline_id}-{request_namespace}", [request_rule], owned_by_promise, subject
            )

    objects += _permission_grants(
        pipeline_id,
        permissions,
        permission_labels(promise_name, pipeline_name, pipeline_namespace, workflow_type, action),
        subject,
    )
    return objects


def _permission_grants(
    pipeline_id: str,
    permissions: Sequence[Permission],
    labels: Mapping[str, str],
    subject: Mapping[str, str],
) -> list[dict[str, Any]]:
    """The objects for ``rbac.permissions``, grouped by namespace in order of first mention."""
    by_namespace: dict[str | None, list[dict[str, Any]]] = {}
    for permission in permissions:
        by_namespace.setdefault(permission.resource_namespace or None, []).append(
            _permission_rule(permission)
        )

    pipeline_namespace = subject["namespace"]
    # The binding names depend on where the pipeline runs, not on the target namespace: one
    # pipeline's bindings in different namespaces share a name, as in Kratix.
    binding_name = deterministic_name(f"{pipeline_id}-{pipeline_namespace}")
    objects: list[dict[str, Any]] = []
    for namespace, rules in by_namespace.items():
        if namespace is None:
            objects += _namespace_grant(
                deterministic_name(pipeline_id), pipeline_namespace, rules, labels, subject
            )
            continue
        everywhere = namespace == ALL_NAMESPACES
        target_labels = {
            **labels,
            LABEL_RESOURCE_NAMESPACE: RESOURCE_NAMESPACE_ALL if everywhere else namespace,
        }
        role_name = deterministic_name(
            f"{pipeline_id}-{ALL_NAMESPACES_NAME_PART if everywhere else namespace}"
        )
        role = _role("ClusterRole", role_name, None, rules, target_labels)
        if everywhere:
            binding = _binding("ClusterRoleBinding", binding_name, None, role, target_labels, subject)
        else:
            binding = _binding("RoleBinding", binding_name, namespace, role, target_labels, subject)
        objects += [role, binding]
    return objects


def _permission_rule(permission: Permission) -> dict[str, Any]:
    """The PolicyRule part of a permission (``resourceNamespace`` says where, not what)."""
    rule = _rule(permission.api_groups, permission.resources, permission.verbs)
    if permission.resource_names:
        rule["resourceNames"] = list(permission.resource_names)
    if permission.non_resource_urls:
        rule["nonResourceURLs"] = list(permission.non_resource_urls)
    return rule


def _rule(api_groups: Iterable[str], resources: Iterable[str], verbs: Iterable[str]) -> dict[str, Any]:
    # Empty lists are left out, as the API server does when it stores a rule; that keeps what we
    # build comparable with what we read back.
    rule: dict[str, Any] = {}
    if groups := list(api_groups):
        rule["apiGroups"] = groups
    if kinds := list(resources):
        rule["resources"] = kinds
    rule["verbs"] = list(verbs)
    return rule


def _namespace_grant(
    name: str,
    namespace: str,
    rules: Sequence[Mapping[str, Any]],
    labels: Mapping[str, str],
    subject: Mapping[str, str],
) -> list[dict[str, Any]]:
    role = _role("Role", name, namespace, rules, labels)
    return [role, _binding("RoleBinding", name, namespace, role, labels, subject)]


def _cluster_grant(
    name: str, rules: Sequence[Mapping[str, Any]], labels: Mapping[str, str], subject: Mapping[str, str]
) -> list[dict[str, Any]]:
    role = _role("ClusterRole", name, None, rules, labels)
    return [role, _binding("ClusterRoleBinding", name, None, role, labels, subject)]


def _metadata(name: str, namespace: str | None, labels: Mapping[str, str]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    metadata["labels"] = dict(labels)
    return metadata


def _role(
    kind: str,
    name: str,
    namespace: str | None,
    rules: Sequence[Mapping[str, Any]],
    labels: Mapping[str, str],
) -> dict[str, Any]:
    return {
        "apiVersion": RBAC_API_VERSION,
        "kind": kind,
        "metadata": _metadata(name, namespace, labels),
        "rules": [dict(rule) for rule in rules],
    }


def _binding(
    kind: str,
    name: str,
    namespace: str | None,
    role: Mapping[str, Any],
    labels: Mapping[str, str],
    subject: Mapping[str, str],
) -> dict[str, Any]:
    return {
        "apiVersion": RBAC_API_VERSION,
        "kind": kind,
        "metadata": _metadata(name, namespace, labels),
        "roleRef": {"apiGroup": RBAC_API_GROUP, "kind": role["kind"], "name": role["metadata"]["name"]},
        "subjects": [dict(subject)],
    }


def stale_permission_objects(
    existing: Iterable[Mapping[str, Any]], desired: Iterable[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """Objects found by :func:`permission_labels` that the pipeline no longer asks for.

    Delete them before the next run, so a permission removed from the Promise is really revoked.
    Names are deterministic, so a changed rule keeps its name and is simply updated; only objects
    whose kind, namespace and name are no longer wanted are stale.
    """
    wanted = {_identity(obj) for obj in desired}
    return [obj for obj in existing if _identity(obj) not in wanted]


def _identity(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    metadata = obj.get("metadata") or {}
    return (str(obj.get("kind") or ""), str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))


# --- broad permissions ---------------------------------------------------------------------------

BROAD_PERMISSIONS_REASON: Final = "BroadPipelinePermissions"
"""A reason for the warning condition or Event that carries :func:`broad_permission_warnings`."""

_CORE_GROUPS: Final = ("", "*")
_SECRET_RESOURCES: Final = ("secrets", "*")


@dataclass(frozen=True)
class PermissionWarning:
    """One ``rbac.permissions`` entry that grants more than a pipeline should need."""

    path: str
    """Where it is in the Promise: ``spec.workflows.resource.configure[0].spec.rbac.permissions[1]``."""
    message: str


def _scope(permission: Permission) -> str:
    namespace = permission.resource_namespace
    if namespace == ALL_NAMESPACES:
        return "in every namespace"
    return f"in namespace {namespace}" if namespace else "in the pipeline's namespace"


def permission_problems(permission: Permission) -> list[str]:
    """Why one permission is broad: ``*`` verbs or resources, or Secrets in every namespace."""
    problems: list[str] = []
    scope = _scope(permission)
    if "*" in permission.verbs:
        problems.append(f"grants every verb ('*') {scope}; list the verbs the pipeline needs")
    if "*" in permission.resources:
        problems.append(f"grants every resource ('*') {scope}; list the resources the pipeline needs")
    reads_secrets = any(group in _CORE_GROUPS for group in permission.api_groups or [""]) and any(
        resource in _SECRET_RESOURCES for resource in permission.resources
    )
    if reads_secrets and permission.resource_namespace == ALL_NAMESPACES and not permission.resource_names:
        problems.append(
            "grants access to Secrets in every namespace: the pipeline (and the image it runs) can read "
            "every team's credentials; name a resourceNamespace or the Secrets (resourceNames) it needs"
        )
    return problems


def broad_permission_warnings(promise: Promise) -> list[PermissionWarning]:
    """Every ``rbac.permissions`` entry of the Promise's pipelines that grants ``*`` verbs or
    resources, or Secrets in every namespace, with its path in the Promise.

    Pure, for ``kratix-py validate`` and for the Promise reconciler's warning condition: such a
    grant is legal (Kratix accepts it without a word), but a pipeline is code from others, and the
    platform team should see what it hands over.
    """
    warnings: list[PermissionWarning] = []
    for workflow_type, action, index, pipeline in promise.spec.workflows.all_pipelines():
        base = f"spec.workflows.{workflow_type}.{action}[{index}].spec.rbac.permissions"
        for position, permission in enumerate(pipeline.spec.rbac.permissions):
            for problem in permission_problems(permission):
                warnings.append(
                    PermissionWarning(f"{base}[{position}]", f"pipeline {pipeline.name} {problem}")
                )
    return warnings
