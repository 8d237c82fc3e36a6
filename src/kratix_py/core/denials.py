"""What a 403 from the API server means for the operator, in words a platform team can act on.

The API server's RBAC denial names the user, the verb, the resource and where, e.g.
``jobs.batch is forbidden: User "system:serviceaccount:kratix-platform-system:kratix-platform-controller-manager"
cannot create resource "jobs" in API group "batch" in the namespace "default"``. The operator turns
that into one log line and a condition on the object it could not reconcile, saying which
permission its ServiceAccount lacks and where the fix lives (the chart's ClusterRole), instead of
retrying with a raw error until someone reads the operator's log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CHART_CLUSTER_ROLE = "kratix-platform-manager-role"
"""The ClusterRole the kratix chart binds to the operator's ServiceAccount (charts/kratix rbac.yaml)."""

REASON_PERMISSION_DENIED = "PermissionDenied"

_DENIAL = re.compile(
    r'User "(?P<user>[^"]*)" cannot (?P<verb>\S+) resource "(?P<resource>[^"]*)"'
    r'(?: in API group "(?P<group>[^"]*)")?'
    r'(?: in the namespace "(?P<namespace>[^"]*)"| at the cluster scope)?'
)
_SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True)
class Denial:
    """One permission the API server refused: ``user`` may not ``verb`` ``resource`` (in ``namespace``)."""

    user: str
    verb: str
    resource: str
    group: str = ""
    namespace: str = ""

    @property
    def who(self) -> str:
        if self.user.startswith(_SERVICE_ACCOUNT_PREFIX):
            namespace, _, name = self.user[len(_SERVICE_ACCOUNT_PREFIX) :].partition(":")
            return f"ServiceAccount {namespace}/{name}"
        return f"user {self.user}"

    @property
    def what(self) -> str:
        """``jobs.batch``, ``secrets``, ``greetings.example.com/status``: as ``kubectl auth can-i`` takes it."""
        plural, slash, subresource = self.resource.partition("/")
        named = f"{plural}.{self.group}" if self.group else plural
        return f"{named}{slash}{subresource}"

    @property
    def where(self) -> str:
        return f"in namespace {self.namespace}" if self.namespace else "cluster-wide"

    def message(self) -> str:
        """What is missing and how to fix it; carries no object data, only names."""
        check = f"kubectl auth can-i {self.verb} {self.what} --as={self.user}"
        if self.namespace:
            check += f" -n {self.namespace}"
        return (
            f"the operator's {self.who} may not {self.verb} {self.what} {self.where}: "
            f"its ClusterRole must allow it (the kratix chart's ClusterRole {CHART_CLUSTER_ROLE} does; "
            f"`helm upgrade` restores a changed one; check with `{check}`)"
        )


def parse_denial(api_message: str) -> Denial | None:
    """The denial in an API server's 403 message; None when the message is not an RBAC denial."""
    match = _DENIAL.search(api_message)
    if match is None:
        return None
    return Denial(
        user=match["user"],
        verb=match["verb"],
        resource=match["resource"],
        group=match["group"] or "",
        namespace=match["namespace"] or "",
    )
