"""Kubernetes RBAC evaluated offline: may a ServiceAccount do something, cluster-wide?

The local platform's API emulator does not authorize requests, so the chart tests read the
ClusterRoles and bindings back from it and decide here, with the API server's rules
(``pkg/apis/rbac/v1/evaluation_helpers.go``):

* a rule matches a verb if it lists the verb or ``*``; an API group likewise;
* a resource if it lists ``*``, the exact ``plural`` or ``plural/subresource``, or
  ``*/subresource``; a rule with ``resourceNames`` never matches a request for any name;
* ClusterRoles with an ``aggregationRule`` hold the rules of every ClusterRole their selectors
  match (done by the controller manager on a real cluster, computed here);
* only ClusterRoleBindings grant cluster-wide; RoleBindings grant within their namespace.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Request:
    """One API request: ``resource`` is ``plural`` or ``plural/subresource``; no namespace means
    every namespace (or a cluster-scoped object)."""

    group: str
    resource: str
    verb: str
    namespace: str | None = None


def _matches(allowed: Iterable[str], wanted: str) -> bool:
    allowed = list(allowed)
    return "*" in allowed or wanted in allowed


def _resource_matches(allowed: Iterable[str], wanted: str) -> bool:
    _, _, subresource = wanted.partition("/")
    for resource in allowed:
        if resource in ("*", wanted):
            return True
        if subresource and resource == f"*/{subresource}":
            return True
    return False


def rule_allows(rule: Mapping[str, Any], request: Request) -> bool:
    if rule.get("resourceNames"):
        return False
    return (
        _matches(rule.get("verbs") or [], request.verb)
        and _matches(rule.get("apiGroups") or [], request.group)
        and _resource_matches(rule.get("resources") or [], request.resource)
    )


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A metav1 LabelSelector; an empty one matches everything, as in aggregation rules."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


class Authorizer:
    """The rules a subject holds, from ClusterRoles, ClusterRoleBindings, Roles and RoleBindings."""

    def __init__(
        self,
        cluster_roles: Sequence[Mapping[str, Any]],
        cluster_role_bindings: Sequence[Mapping[str, Any]],
        roles: Sequence[Mapping[str, Any]] = (),
        role_bindings: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        self.cluster_roles = {r["metadata"]["name"]: r for r in cluster_roles}
        self.cluster_role_bindings = list(cluster_role_bindings)
        self.roles = {(r["metadata"]["namespace"], r["metadata"]["name"]): r for r in roles}
        self.role_bindings = list(role_bindings)

    def cluster_role_rules(self, name: str) -> list[Mapping[str, Any]]:
        role = self.cluster_roles.get(name)
        if role is None:
            return []
        aggregation = role.get("aggregationRule")
        if not aggregation:
            return list(role.get("rules") or [])
        rules: list[Mapping[str, Any]] = []
        for other in self.cluster_roles.values():
            if other is role or other.get("aggregationRule"):
                continue
            labels = other["metadata"].get("labels") or {}
            if any(selector_matches(s, labels) for s in aggregation.get("clusterRoleSelectors") or []):
                rules.extend(other.get("rules") or [])
        return rules

    @staticmethod
    def _binds(binding: Mapping[str, Any], namespace: str, name: str) -> bool:
        for subject in binding.get("subjects") or []:
            kind = subject.get("kind")
            if kind == "ServiceAccount" and (subject.get("name"), subject.get("namespace")) == (
                name,
                namespace,
            ):
                return True
            if kind == "User" and subject.get("name") == f"system:serviceaccount:{namespace}:{name}":
                return True
            if kind == "Group" and subject.get("name") in (
                "system:serviceaccounts",
                f"system:serviceaccounts:{namespace}",
                "system:authenticated",
            ):
                return True
        return False

    def rules_for(self, namespace: str, name: str, where: str | None = None) -> list[Mapping[str, Any]]:
        """Rules the ServiceAccount holds cluster-wide, plus in namespace ``where`` if given."""
        rules: list[Mapping[str, Any]] = []
        for binding in self.cluster_role_bindings:
            if self._binds(binding, namespace, name) and binding["roleRef"]["kind"] == "ClusterRole":
                rules.extend(self.cluster_role_rules(binding["roleRef"]["name"]))
        if where is not None:
            for binding in self.role_bindings:
                if binding["metadata"]["namespace"] != where or not self._binds(binding, namespace, name):
                    continue
                ref = binding["roleRef"]
                if ref["kind"] == "ClusterRole":
                    rules.extend(self.cluster_role_rules(ref["name"]))
                else:
                    rules.extend(self.roles.get((where, ref["name"]), {}).get("rules") or [])
        return rules

    def allows(self, namespace: str, name: str, request: Request) -> bool:
        return any(rule_allows(rule, request) for rule in self.rules_for(namespace, name, request.namespace))
