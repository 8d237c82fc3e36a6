"""The operator's ServiceAccount may do everything the operator's code does, and little else.

The needs come from the code (tests/charts/rbac_scan.py), kopf's own calls and the pipeline RBAC
the operator creates; the permissions come from the chart, installed into the local platform and
read back from its API; tests/charts/rbac_match.py decides as the API server's authorizer would.
"""

from __future__ import annotations

import ast
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kratix_py import kube as k
from kratix_py.api.pipeline import Permission
from kratix_py.core import rbac as pipeline_rbac
from kratix_py.local_platform.helm import install, render
from kratix_py.local_platform.platform import LocalPlatform
from tests.charts.conftest import KRATIX_CHART
from tests.charts.rbac_match import Authorizer, Request
from tests.charts.rbac_scan import REQUEST_KIND, Module, Need, RequestKind, ScanResult, scan

# A request kind as a Promise would define it, and one of another Promise.
REQUEST_GROUP, REQUEST_PLURAL = "example.kratix.io", "databases"
OTHER_GROUP = "other.example.com"
REQUEST = "<request>"
"""Group and plural of request kinds in (group, resource, verb) keys."""

KOPF_NEEDS = {
    # kopf's resource observer lists and watches CRDs to notice resources for handlers
    # (kopf/_core/reactor/observation.py, resource_observer); the operator's own CRD informer
    # needs the same. kopf watches nothing else: the operator registers no resource handlers.
    Need(k.CRDS, "list", where="kopf: CRD observer"),
    Need(k.CRDS, "watch", where="kopf: CRD observer"),
    # kopf posts core/v1 Events about handler failures (kopf/_cogs/clients/events.py, POST only).
    Need(k.EVENTS, "create", where="kopf: post_event"),
}

NOT_NEEDED = {
    ("batch", "jobs/status", "patch"): "operator/job_pods.py's reaper is built on the reconciler "
    "skeleton, whose status writer serves every kind; it never writes a Job's status",
    **{
        (
            "platform.kratix.io",
            store,
            "patch",
        ): "the reconciler skeleton's finalizer helpers serve every kind; "
        "state stores carry no finalizer, so their reconciler never calls them"
        for store in ("gitstatestores", "bucketstatestores")
    },
}
"""Needs the scan reports that the code cannot reach, each with the reason."""

VALUES = {
    "stateStores": [
        {
            "kind": "GitStateStore",
            "name": "default",
            "url": "https://git.example.com/platform/state.git",
            "secretRef": {"name": "git-credentials", "values": {"username": "kratix", "password": "s3cret"}},
        }
    ],
    "destinations": [
        {
            "name": "worker-1",
            "path": "worker-1",
            "stateStoreRef": {"kind": "GitStateStore", "name": "default"},
        }
    ],
}


@pytest.fixture(scope="module")
def scanned() -> ScanResult:
    return scan()


@pytest.fixture(scope="module")
def needs(scanned: ScanResult) -> set[Need]:
    reachable = {n for n in scanned.needs if _key(n) not in NOT_NEEDED}
    return reachable | KOPF_NEEDS


@pytest.fixture
def platform() -> Iterator[LocalPlatform]:
    with LocalPlatform() as local:
        yield local


def _key(need: Need) -> tuple[str, str, str]:
    """(group, resource, verb); request kinds have the group and plural ``<request>``."""
    group = REQUEST if isinstance(need.target, RequestKind) else need.target.group
    return group, need.resource_name(REQUEST), need.verb


def _request(need: Need, group: str = REQUEST_GROUP) -> Request:
    if isinstance(need.target, RequestKind):
        return Request(group, need.resource_name(REQUEST_PLURAL), need.verb)
    return Request(need.target.group, need.resource_name(), need.verb)


def _operator_identity(rendered_objects: list[dict[str, Any]]) -> tuple[str, str]:
    """The Deployment's own namespace and ServiceAccount: whatever the RBAC must be bound to."""
    deployment = next(o for o in rendered_objects if o["kind"] == "Deployment")
    return deployment["metadata"]["namespace"], deployment["spec"]["template"]["spec"]["serviceAccountName"]


def _authorizer(kube: k.Kube) -> Authorizer:
    """RBAC as stored in the API server (not as rendered): what a real authorizer would read."""
    return Authorizer(
        kube.list(k.CLUSTERROLES),
        kube.list(k.CLUSTERROLEBINDINGS),
        kube.list(k.ROLES),
        kube.list(k.ROLEBINDINGS),
    )


def _install(platform: LocalPlatform, values: dict[str, Any]) -> tuple[k.Kube, tuple[str, str]]:
    kube = k.Kube(platform.api_client())
    rendered = render(KRATIX_CHART, values, name="kratix")
    install(kube, rendered)
    return kube, _operator_identity(rendered.objects)


def _denied(
    authorizer: Authorizer, identity: tuple[str, str], needs: set[Need], group: str = REQUEST_GROUP
) -> list[str]:
    return sorted(str(n) for n in needs if not authorizer.allows(*identity, _request(n, group)))


# -- the scan itself -----------------------------------------------------------------------------


def test_scan_follows_every_call_to_its_resource(scanned: ScanResult) -> None:
    assert scanned.unresolved == [], (
        "API calls whose resource the RBAC scan cannot follow (use a Resource constant from "
        "kratix_py.kube / kratix_py.operator.resources, or teach tests/charts/rbac_scan.py the new shape):\n"
        + "\n".join(f"  {u.where}: {u.expression}" for u in scanned.unresolved)
    )


def test_scan_sees_the_operator(scanned: ScanResult) -> None:
    """Calls any version of the operator makes; if these vanish the scan has gone blind."""
    keys = {_key(n) for n in scanned.needs}
    assert {"kratix_py.operator.app", "kratix_py.operator.promises"} <= set(scanned.modules)
    # kube.py is the implementation of the calls; the adapter runs in pipeline pods.
    assert not any(
        m.startswith(("kratix_py.kube", "kratix_py.adapter", "kratix_py.testing", "kratix_py.local_platform"))
        for m in scanned.modules
    )
    expected = {
        ("platform.kratix.io", "promises", "watch"),
        ("platform.kratix.io", "promises/status", "patch"),
        ("apiextensions.k8s.io", "customresourcedefinitions", "create"),
        ("batch", "jobs", "create"),
        ("", "pods/log", "get"),
        ("", "events", "create"),
        (REQUEST, REQUEST, "watch"),
        (REQUEST, REQUEST, "delete"),
        (REQUEST, f"{REQUEST}/status", "patch"),
    }
    assert expected <= keys, sorted(expected - keys)
    assert set(NOT_NEEDED) <= keys, "a NOT_NEEDED entry is no longer reported: remove it"


def _synthetic_module(source: str, monkeypatch: pytest.MonkeyPatch) -> Module:
    tree = ast.parse(source)
    obj = types.ModuleType("kratix_py_synthetic")
    monkeypatch.setitem(sys.modules, obj.__name__, obj)  # dataclasses look their module up
    exec(compile(tree, "synthetic.py", "exec"), obj.__dict__)
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    return Module("kratix_py.synthetic", Path("kratix_py/synthetic.py"), tree, obj, parents)


def test_scan_follows_variables_parameters_and_fields_and_reports_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = _synthetic_module(
        """
from dataclasses import dataclass
from kratix_py import kube as k
KINDS = {"Job": k.JOBS, "Role": k.ROLES}

@dataclass
class Subject:
    name: str
    resource: k.Resource

def write(kube, resource, name):
    kube.patch(resource, name, {}, subresource="status")

class Reconciler:
    def __init__(self, kube):
        self.kube = kube

    def run(self, obj, group, plural, mystery):
        for kind in ("Job", "Role"):
            self.kube.apply(KINDS[kind], obj)
        request = k.Resource(group, "v1", plural)
        subject = Subject("x", request)
        self.touch(subject)
        write(self.kube, k.SECRETS, "s")
        self.kube.delete(mystery, "x")

    def touch(self, subject: Subject):
        self.kube.get(subject.resource, subject.name)
""",
        monkeypatch,
    )
    result = scan(modules={module.name: module})
    found = {
        (n.target if isinstance(n.target, RequestKind) else n.target.plural, n.subresource, n.verb)
        for n in result.needs
    }
    assert found == {
        ("jobs", "", "get"),
        ("jobs", "", "create"),
        ("jobs", "", "patch"),
        ("roles", "", "get"),
        ("roles", "", "create"),
        ("roles", "", "patch"),
        (REQUEST_KIND, "", "get"),
        ("secrets", "status", "patch"),
    }
    assert [u.expression for u in result.unresolved] == ["parameter mystery of run() (no caller passes it)"]


# -- the chart against the needs ---------------------------------------------------------------------


def test_the_chart_allows_every_call_of_the_operator(platform: LocalPlatform, needs: set[Need]) -> None:
    kube, identity = _install(platform, VALUES)
    authorizer = _authorizer(kube)
    platform_needs = {n for n in needs if not isinstance(n.target, RequestKind)}
    denied = _denied(authorizer, identity, platform_needs)
    assert denied == [], "\n".join(denied)
    # Nothing is bound to another account, and nothing more than the operator's own rules.
    assert authorizer.rules_for(identity[0], "default") == []


def test_request_kinds_need_a_grant_per_promise_by_default(platform: LocalPlatform, needs: set[Need]) -> None:
    kube, identity = _install(platform, VALUES)
    request_needs = {n for n in needs if isinstance(n.target, RequestKind)}
    assert request_needs, "the scan found no request-kind calls"
    assert _denied(_authorizer(kube), identity, request_needs) != []  # no group is granted yet

    # What values.yaml tells a platform admin to create for one Promise's kind.
    kube.apply(
        k.CLUSTERROLES,
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {
                "name": "kratix-requests-databases",
                "labels": {"platform.kratix.io/aggregate-to-controller": "true"},
            },
            "rules": [
                {
                    "apiGroups": [REQUEST_GROUP],
                    "resources": [REQUEST_PLURAL, f"{REQUEST_PLURAL}/status"],
                    "verbs": ["*"],
                }
            ],
        },
    )
    authorizer = _authorizer(kube)
    assert _denied(authorizer, identity, request_needs) == []
    assert _denied(authorizer, identity, request_needs, group=OTHER_GROUP) != []  # only that Promise's group


def test_request_kinds_by_api_group(platform: LocalPlatform, needs: set[Need]) -> None:
    values = {**VALUES, "rbac": {"requestKinds": {"apiGroups": [REQUEST_GROUP], "aggregate": False}}}
    kube, identity = _install(platform, values)
    authorizer = _authorizer(kube)
    request_needs = {n for n in needs if isinstance(n.target, RequestKind)}
    assert _denied(authorizer, identity, request_needs) == []
    assert _denied(authorizer, identity, request_needs, group=OTHER_GROUP) != []
    assert _denied(authorizer, identity, {Need(k.SECRETS, "delete")}) != []  # no wildcard leaks into core


def test_request_kind_rules_grant_exactly_the_verbs_the_operator_uses(needs: set[Need]) -> None:
    rendered = render(KRATIX_CHART, {"rbac": {"requestKinds": {"apiGroups": [REQUEST_GROUP]}}})
    [rule] = rendered.one("ClusterRole", "kratix-platform-request-kinds-by-group")["rules"]
    assert sorted(rule["verbs"]) == sorted({n.verb for n in needs if isinstance(n.target, RequestKind)})


def test_the_operator_can_grant_what_pipelines_need(platform: LocalPlatform) -> None:
    """Pipeline Roles carry the Promise author's permissions: granting those takes escalate and
    bind unless the operator already holds every one of them (kratix_py.core.rbac builds them)."""
    kube, identity = _install(platform, VALUES)
    authorizer = _authorizer(kube)
    objects = pipeline_rbac.pipeline_rbac(
        promise_name="databases",
        pipeline_id="databases-resource-configure-instance",
        pipeline_name="instance",
        workflow_type="resource",
        action="configure",
        pipeline_namespace="team-a",
        service_account_name="databases-resource-configure-instance",
        permissions=[
            Permission(api_groups=["apps"], resources=["deployments"], verbs=["get", "create"]),
            Permission(api_groups=[""], resources=["configmaps"], verbs=["list"], resource_namespace="*"),
        ],
        request_group=REQUEST_GROUP,
        request_plural=REQUEST_PLURAL,
        request_namespace="team-b",
    )
    roles = [o for o in objects if o["kind"] in ("Role", "ClusterRole")]
    bindings = [o for o in objects if o["kind"] in ("RoleBinding", "ClusterRoleBinding")]
    assert roles and bindings

    def holds_everything(role: dict[str, Any]) -> bool:
        return all(
            authorizer.allows(*identity, Request(group, resource, verb))
            for rule in role["rules"]
            for group in rule.get("apiGroups", [""])
            for resource in rule.get("resources", [])
            for verb in rule["verbs"]
        )

    for role in roles:
        plural = "roles" if role["kind"] == "Role" else "clusterroles"
        assert authorizer.allows(*identity, Request("rbac.authorization.k8s.io", plural, "create"))
        if not holds_everything(role):
            assert authorizer.allows(*identity, Request("rbac.authorization.k8s.io", plural, "escalate")), (
                role["metadata"]
            )
    for binding in bindings:
        plural = "roles" if binding["roleRef"]["kind"] == "Role" else "clusterroles"
        role = next(r for r in roles if r["metadata"]["name"] == binding["roleRef"]["name"])
        if not holds_everything(role):
            assert authorizer.allows(*identity, Request("rbac.authorization.k8s.io", plural, "bind")), (
                binding["metadata"]
            )
    # The author's deployments rule is one the operator does not hold: escalate is really needed.
    assert not authorizer.allows(*identity, Request("apps", "deployments", "create"))


def test_every_grant_is_used(needs: set[Need]) -> None:
    """Least privilege: each (group, resource, verb) the operator's ClusterRole grants is a need."""
    rendered = render(KRATIX_CHART, {})
    manager = rendered.one("ClusterRole", "kratix-platform-manager-role")
    wanted = {_key(n) for n in needs if not isinstance(n.target, RequestKind)}
    # Granting pipeline permissions (test above) is the reason for these.
    wanted |= {
        ("rbac.authorization.k8s.io", r, v) for r in ("roles", "clusterroles") for v in ("escalate", "bind")
    }
    unused = sorted(
        (group, resource, verb)
        for rule in manager["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
        if (group, resource, verb) not in wanted
    )
    assert unused == [], f"granted but never used by the operator: {unused}"
    assert not any("*" in rule["verbs"] or "*" in rule["resources"] for rule in manager["rules"])
