"""Pieces of the pipeline RBAC not covered through the Job builder (see test_pipelines.py)."""

from __future__ import annotations

import pytest

from kratix_py.api.pipeline import Permission
from kratix_py.contract import WorkflowAction, WorkflowType
from kratix_py.core.rbac import permission_labels, pipeline_rbac, stale_permission_objects


def rbac(**overrides):
    arguments = {
        "promise_name": "redis",
        "pipeline_id": "redis-resource-configure-main",
        "pipeline_name": "main",
        "workflow_type": WorkflowType.RESOURCE,
        "action": WorkflowAction.CONFIGURE,
        "pipeline_namespace": "team-a",
        "service_account_name": "redis-resource-configure-main",
        "permissions": [
            Permission(api_groups=[""], resources=["secrets"], verbs=["get"], resource_namespace="vault"),
            Permission(api_groups=[""], resources=["configmaps"], verbs=["get"]),
        ],
        "request_group": "example.com",
        "request_plural": "caches",
        "request_namespace": "team-a",
    }
    arguments.update(overrides)
    return pipeline_rbac(**arguments)


def test_permission_groups_follow_their_first_mention():
    kinds = [(obj["kind"], obj["metadata"].get("namespace")) for obj in rbac()[2:]]
    assert kinds == [
        ("ClusterRole", None),
        ("RoleBinding", "vault"),
        ("Role", "team-a"),
        ("RoleBinding", "team-a"),
    ]


def test_rules_for_one_namespace_share_one_role():
    objects = rbac(
        permissions=[
            Permission(api_groups=[""], resources=["secrets"], verbs=["get"], resource_namespace="vault"),
            Permission(
                api_groups=["apps"], resources=["deployments"], verbs=["list"], resource_namespace="vault"
            ),
        ]
    )
    [cluster_role] = [obj for obj in objects if obj["kind"] == "ClusterRole"]
    assert [rule["resources"] for rule in cluster_role["rules"]] == [["secrets"], ["deployments"]]


def test_permission_labels_are_the_stale_object_selector():
    labels = permission_labels("redis", "main", "team-a", "resource", "configure")
    for obj in rbac()[2:]:
        assert labels.items() <= obj["metadata"]["labels"].items()
    for obj in rbac()[:2]:
        assert not labels.items() <= obj["metadata"]["labels"].items(), "kratix-py's own grant is never stale"


def test_stale_objects_are_those_no_longer_wanted():
    desired = rbac()
    removed = rbac(
        permissions=[Permission(api_groups=[""], resources=["pods"], verbs=["get"], resource_namespace="old")]
    )
    existing = [*desired[2:], *removed[2:]]
    stale = stale_permission_objects(existing, desired)
    assert [(obj["kind"], obj["metadata"].get("namespace")) for obj in stale] == [
        ("ClusterRole", None),
        ("RoleBinding", "old"),
    ]


def test_resource_rbac_needs_the_request_api():
    with pytest.raises(ValueError, match="group, plural and namespace"):
        rbac(request_plural=None)


# --- broad permissions -----------------------------------------------------------------------------


def _promise_with(permissions):
    from kratix_py.api import Promise

    pipeline = {
        "apiVersion": "platform.kratix.io/v1alpha1",
        "kind": "Pipeline",
        "metadata": {"name": "main"},
        "spec": {"containers": [{"name": "c", "image": "i:1"}], "rbac": {"permissions": permissions}},
    }
    return Promise.model_validate(
        {"metadata": {"name": "redis"}, "spec": {"workflows": {"promise": {"configure": [pipeline]}}}}
    )


def test_secrets_in_every_namespace_and_star_grants_are_warned_about_with_their_path():
    from kratix_py.core.rbac import broad_permission_warnings

    warnings = broad_permission_warnings(
        _promise_with(
            [
                {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]},
                {
                    "apiGroups": [""],
                    "resources": ["secrets"],
                    "verbs": ["get", "list"],
                    "resourceNamespace": "*",
                },
                {"apiGroups": ["apps"], "resources": ["*"], "verbs": ["*"], "resourceNamespace": "team-a"},
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["get"], "resourceNamespace": "*"},
            ]
        )
    )
    base = "spec.workflows.promise.configure[0].spec.rbac.permissions"
    assert [(warning.path, warning.message.split(":")[0]) for warning in warnings] == [
        (f"{base}[1]", "pipeline main grants access to Secrets in every namespace"),
        (
            f"{base}[2]",
            "pipeline main grants every verb ('*') in namespace team-a; list the verbs the pipeline needs",
        ),
        (
            f"{base}[2]",
            "pipeline main grants every resource ('*') in namespace team-a; list the resources the pipeline needs",
        ),
        (
            f"{base}[3]",
            "pipeline main grants every resource ('*') in every namespace; list the resources the pipeline needs",
        ),
        (f"{base}[3]", "pipeline main grants access to Secrets in every namespace"),
    ]


def test_narrow_secret_grants_are_fine():
    from kratix_py.core.rbac import broad_permission_warnings

    assert (
        broad_permission_warnings(
            _promise_with(
                [
                    {
                        "apiGroups": [""],
                        "resources": ["secrets"],
                        "verbs": ["get"],
                        "resourceNamespace": "vault",
                    },
                    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
                    {
                        "apiGroups": [""],
                        "resources": ["secrets"],
                        "resourceNames": ["registry-credentials"],
                        "verbs": ["get"],
                        "resourceNamespace": "*",
                    },
                    {
                        "apiGroups": ["example.com"],
                        "resources": ["secrets"],
                        "verbs": ["get"],
                        "resourceNamespace": "*",
                    },
                ]
            )
        )
        == []
    )
