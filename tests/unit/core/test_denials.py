"""A real API server's RBAC denial, read into the permission the operator lacks and the fix."""

from __future__ import annotations

from kratix_py.core.denials import CHART_CLUSTER_ROLE, parse_denial

SA = "system:serviceaccount:kratix-platform-system:kratix-platform-controller-manager"


def test_a_namespaced_denial_names_the_service_account_verb_resource_and_namespace() -> None:
    denial = parse_denial(
        f'jobs.batch is forbidden: User "{SA}" cannot create resource "jobs" in API group "batch" '
        'in the namespace "default"'
    )
    assert denial is not None
    assert (denial.who, denial.verb, denial.what, denial.where) == (
        "ServiceAccount kratix-platform-system/kratix-platform-controller-manager",
        "create",
        "jobs.batch",
        "in namespace default",
    )
    message = denial.message()
    assert CHART_CLUSTER_ROLE in message
    assert f"kubectl auth can-i create jobs.batch --as={SA} -n default" in message


def test_core_group_subresource_and_cluster_scope() -> None:
    denial = parse_denial(
        f'promises.platform.kratix.io "x" is forbidden: User "{SA}" cannot patch resource '
        '"promises/status" in API group "platform.kratix.io" at the cluster scope'
    )
    assert denial is not None
    assert (denial.what, denial.where) == ("promises.platform.kratix.io/status", "cluster-wide")
    secrets = parse_denial(
        'secrets is forbidden: User "alice" cannot list resource "secrets" in API group ""'
    )
    assert secrets is not None and (secrets.who, secrets.what) == ("user alice", "secrets")


def test_a_403_that_is_not_rbac_is_not_a_denial() -> None:
    assert parse_denial('namespaces "x" is forbidden: this namespace may not be deleted') is None
