"""The catalog's pure builders: names, entities, status, links and the Works (no Node, no network).

The Works are also run through kratix-py's own scheduling and layout, so what is asserted about
where the files land is what the operator would do with them.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from kratix_py import contract as c
from kratix_py.api import Destination, Work, WorkPlacement, decode_workload_content
from kratix_py.core import catalog
from kratix_py.core import catalog_names as n
from kratix_py.core.layout import PlacementFiles, group_directory
from kratix_py.core.scheduling import schedule

from .conftest import EXAMPLES

POSTGRESQL = EXAMPLES / "postgresql" / "promise.yaml"


@pytest.fixture
def promise() -> dict[str, Any]:
    body = dict(yaml.safe_load(POSTGRESQL.read_text()))
    body["metadata"]["uid"] = "promise-uid"
    return body


def request(name: str = "team-a-db", namespace: str = "team-a", **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "marketplace.kratix.io/v1alpha1",
        "kind": "PostgreSQL",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}"},
        "spec": {"teamName": "team-a"},
        "status": status,
    }


def reconciled(value: str, message: str = "") -> dict[str, Any]:
    return {"conditions": [{"type": "Reconciled", "status": value, "reason": "R", "message": message}]}


def work(name: str, ready: bool) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def placement(work_name: str, destination: str, *, deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": f"{work_name}.{destination}", "labels": {c.LABEL_WORK: work_name}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "spec": {"targetDestinationName": destination}}


def files_of(work_manifest: dict[str, Any]) -> dict[str, str]:
    [group] = work_manifest["spec"]["workloadGroups"]
    return {w["filepath"]: decode_workload_content(w["content"]).decode() for w in group["workloads"]}


# -- names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (("a-b", "c", "d"), ("a", "b-c", "d")),
        (("p", "a-b", "c"), ("p", "a", "b-c")),
        (("p", "ns", "x" * 80), ("p", "ns", "x" * 79 + "y")),
    ],
)
def test_two_requests_never_share_an_entity_name(one: tuple[str, ...], other: tuple[str, ...]) -> None:
    first, second = n.request_entity_name(*one), n.request_entity_name(*other)
    assert first != second
    assert len(first) <= 63 and len(second) <= 63
    n.check_name(first, "name")
    n.check_name(second, "name")


def test_long_names_are_cut_and_hashed_the_same_way_every_time() -> None:
    name = n.promise_template_name("p" * 60)
    assert len(name) == 63 and name == n.promise_template_name("p" * 60)
    assert n.promise_template_name("short") == "short-promise-template"


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("platform-team", True),
        ("group:default/platform-team", True),
        ("user:jane.doe", True),
        ("Platform Team", False),
        ("group:Default/x", False),
        ("1group:x", False),
        ("group:default/" + "x" * 64, False),
    ],
)
def test_entity_references(value: str, ok: bool) -> None:
    if ok:
        assert n.check_entity_ref(value, "owner") == value
    else:
        with pytest.raises(n.CatalogError, match="is not a Backstage entity reference"):
            n.check_entity_ref(value, "owner")


def test_tags_are_made_valid_or_left_out() -> None:
    assert n.tag("queues.example") == "queues-example"
    assert n.tag("...") is None


# -- Promise entities -------------------------------------------------------------------------------


def test_the_promise_component_carries_skes_annotations_and_its_status(promise: dict[str, Any]) -> None:
    promise["status"] = {"status": "Available", "message": "Promise is available"}
    component, api, template = catalog.promise_entities(promise, catalog.CatalogOptions())
    annotations = component["metadata"]["annotations"]
    assert annotations["kratix.io/promise-name"] == "postgresql"
    assert annotations["kratix.io/api-name"] == "PostgreSQL"
    assert annotations["kratix.io/api-group"] == "marketplace.kratix.io"
    assert annotations["kratix.io/backstage-promise-template"] == template["metadata"]["name"]
    assert yaml.safe_load(annotations["kratix.io/status"]) == {
        "message": "Promise is available",
        "status": "Available",
    }
    assert annotations["backstage.io/kubernetes-id"] == "postgresql-promise"
    assert annotations["backstage.io/kubernetes-label-selector"] == "kratix.io/promise-name=postgresql"
    assert component["spec"]["type"] == "kratix-promise"
    assert component["spec"]["providesApis"] == [f"api:default/{api['metadata']['name']}"]
    assert template["kind"] == "Template" and template["spec"]["owner"] == component["spec"]["owner"]


def test_required_promises_become_dependencies(promise: dict[str, Any]) -> None:
    promise["spec"]["requiredPromises"] = [{"name": "cert-manager", "version": "v1"}, {"name": "cnpg"}]
    component = catalog.promise_entities(promise, catalog.CatalogOptions())[0]
    assert component["spec"]["dependsOn"] == [
        "component:default/cert-manager-promise",
        "component:default/cnpg-promise",
    ]


def test_owner_and_system_come_from_options_then_the_promise(promise: dict[str, Any]) -> None:
    promise["metadata"]["labels"]["backstage.io/owner"] = "dba"
    promise["metadata"]["annotations"] = {"backstage.io/system": "system:default/data"}
    component = catalog.promise_entities(promise, catalog.CatalogOptions())[0]
    assert (component["spec"]["owner"], component["spec"]["system"]) == ("dba", "system:default/data")
    flagged = catalog.promise_entities(promise, catalog.CatalogOptions(owner="group:default/sre"))[0]
    assert flagged["spec"]["owner"] == "group:default/sre"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p["spec"].pop("api"), "has no spec.api"),
        (
            lambda p: p["metadata"].setdefault("annotations", {}).update({"backstage.io/owner": "DB Team"}),
            "Promise postgresql: owner 'DB Team' is not a Backstage entity reference",
        ),
        (lambda p: p["metadata"].pop("uid"), "has no metadata.uid"),
        (
            lambda p: p["spec"]["api"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"][
                "spec"
            ]["properties"].update({"zone": {"type": "string", "pattern": r"\Aeu\z"}}),
            "cannot be shown as a Backstage form: spec.zone: pattern",
        ),
    ],
)
def test_the_operator_gets_a_clear_error_never_a_bad_entity(
    promise: dict[str, Any], change: Any, message: str
) -> None:
    change(promise)
    with pytest.raises(catalog.CatalogError) as raised:
        catalog.catalog_work_for_promise(promise)
    assert message in str(raised.value)


# -- request entities -------------------------------------------------------------------------------


def test_the_request_component_depends_on_the_promise_and_shows_its_status(promise: dict[str, Any]) -> None:
    obj = request(**reconciled("True", "Reconciled"))
    entity = catalog.request_entity(
        promise,
        obj,
        works=[work("w1", True), work("w2", False)],
        placements=[placement("w1", "dev"), placement("w2", "prod"), placement("w1", "old", deleting=True)],
    )
    assert entity["metadata"]["name"] == "team-a_postgresql_team-a-db"
    assert entity["spec"]["type"] == "kratix-resource"
    assert entity["spec"]["dependsOn"] == ["component:default/postgresql-promise"]
    annotations = entity["metadata"]["annotations"]
    assert {key: annotations[key] for key in ("kratix.io/kind", "kratix.io/name", "kratix.io/namespace")} == {
        "kratix.io/kind": "PostgreSQL",
        "kratix.io/name": "team-a-db",
        "kratix.io/namespace": "team-a",
    }
    status = yaml.safe_load(annotations["kratix.io/status"])
    assert status["reconciled"] == "True" and status["works"] == "1/2"
    assert status["destinations"] == ["dev", "prod"]
    assert "Works: 1/2 ready; Destinations: dev, prod" in entity["metadata"]["description"]
    assert annotations["backstage.io/kubernetes-id"] == "postgresql.team-a-db"
    assert annotations["backstage.io/kubernetes-namespace"] == "team-a"


def test_the_request_owner_is_its_own_when_it_says_so(promise: dict[str, Any]) -> None:
    obj = request()
    obj["metadata"]["annotations"] = {"backstage.io/owner": "group:default/team-a"}
    obj["metadata"]["labels"] = {"backstage.io/kubernetes-id": "custom-id"}
    entity = catalog.request_entity(promise, obj)
    assert entity["spec"]["owner"] == "group:default/team-a"
    assert entity["metadata"]["annotations"]["backstage.io/kubernetes-id"] == "custom-id"
    obj["metadata"]["annotations"] = {"backstage.io/owner": "team a"}
    with pytest.raises(catalog.CatalogError, match="PostgreSQL team-a/team-a-db: owner 'team a'"):
        catalog.request_entity(promise, obj)


def test_catalog_works_never_count_as_the_requests_works(promise: dict[str, Any]) -> None:
    own = catalog.catalog_work_for_request(promise, request())
    status = catalog.request_status(
        request(), [own, work("w1", True)], [placement(own["metadata"]["name"], "b")]
    )
    assert (status.works_ready, status.works_total, status.destinations) == (1, 1, ())


@pytest.mark.parametrize(
    ("kind", "spec", "url"),
    [
        (
            "GitStateStore",
            {"url": "https://github.com/acme/state.git"},
            "https://github.com/acme/state/tree/main/x",
        ),
        (
            "GitStateStore",
            {"url": "git@github.com:acme/state.git", "branch": "dev"},
            "https://github.com/acme/state/tree/dev/x",
        ),
        (
            "GitStateStore",
            {"url": "ssh://git@gitlab.example.com/acme/state"},
            "https://gitlab.example.com/acme/state/-/tree/main/x",
        ),
        (
            "GitStateStore",
            {"url": "https://bitbucket.org/acme/state"},
            "https://bitbucket.org/acme/state/src/main/x",
        ),
        ("BucketStateStore", {"bucketName": "kratix", "endpoint": "s3.amazonaws.com"}, "s3://kratix/x"),
        ("GitStateStore", {"url": "file:///srv/state"}, None),
    ],
)
def test_links_to_state_store_paths(kind: str, spec: dict[str, Any], url: str | None) -> None:
    assert catalog.browse_url(kind, {"spec": spec}, "x") == url


def test_the_request_links_to_its_folder_on_each_destination(promise: dict[str, Any]) -> None:
    entity = catalog.request_entity(
        promise,
        request(),
        works=[work("w1", True)],
        placements=[placement("w1", "dev"), placement("w1", "flat")],
        destinations=[
            {
                "metadata": {"name": "dev"},
                "spec": {"path": "clusters/dev", "stateStoreRef": {"kind": "GitStateStore", "name": "git"}},
            },
            {
                "metadata": {"name": "flat"},
                "spec": {
                    "path": "flat",
                    "filepath": {"mode": "none"},
                    "stateStoreRef": {"kind": "BucketStateStore", "name": "s3"},
                },
            },
        ],
        state_stores=[
            {
                "kind": "GitStateStore",
                "metadata": {"name": "git"},
                "spec": {"url": "https://github.com/acme/state", "path": "/platform/"},
            },
            {"kind": "BucketStateStore", "metadata": {"name": "s3"}, "spec": {"bucketName": "b"}},
        ],
    )
    assert [link["url"] for link in entity["metadata"]["links"]] == [
        "https://github.com/acme/state/tree/main/platform/clusters/dev/resources/team-a/postgresql/team-a-db",
        "s3://b/flat",
    ]


# -- Works ----------------------------------------------------------------------------------------


def test_the_promise_work_is_a_valid_work_that_changes_only_with_the_promise(promise: dict[str, Any]) -> None:
    first = catalog.catalog_work_for_promise(promise)
    Work.model_validate(first)
    assert first == catalog.catalog_work_for_promise(copy.deepcopy(promise))
    assert first["metadata"]["namespace"] == c.SYSTEM_NAMESPACE
    assert first["metadata"]["ownerReferences"] == [
        {
            "apiVersion": c.API_VERSION,
            "kind": "Promise",
            "name": "postgresql",
            "uid": "promise-uid",
            "controller": True,
            "blockOwnerDeletion": False,
        }
    ]
    assert "resourceName" not in first["spec"]
    assert sorted(files_of(first)) == ["backstage/catalog-info.yaml", "backstage/template.yaml"]
    assert [d["kind"] for d in yaml.safe_load_all(files_of(first)["backstage/catalog-info.yaml"])] == [
        "Component",
        "API",
    ]
    promise["spec"]["api"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["description"] = "Other"
    assert catalog.catalog_work_for_promise(promise) != first


def test_the_request_work_changes_with_the_status_and_only_then(promise: dict[str, Any]) -> None:
    pending = catalog.catalog_work_for_request(promise, request(**reconciled("Unknown")))
    Work.model_validate(pending)
    assert pending == catalog.catalog_work_for_request(promise, request(**reconciled("Unknown")))
    done = catalog.catalog_work_for_request(promise, request(**reconciled("True")))
    assert done != pending and done["metadata"]["name"] == pending["metadata"]["name"]
    assert pending["metadata"]["namespace"] == "team-a"
    assert pending["spec"]["resourceName"] == "team-a-db"
    assert pending["metadata"]["ownerReferences"][0]["kind"] == "PostgreSQL"
    labels = pending["metadata"]["labels"]
    for request_work_label in (c.LABEL_WORK_TYPE, c.LABEL_PROMISE_NAME, c.LABEL_RESOURCE_NAME):
        assert request_work_label not in labels
    assert labels[catalog.LABEL_CATALOG] == "request"


def test_work_names_of_look_alike_requests_differ(promise: dict[str, Any]) -> None:
    assert catalog.catalog_work_name_for_request("a-b", "ns", "c") != catalog.catalog_work_name_for_request(
        "a", "ns", "b-c"
    )
    assert len(catalog.catalog_work_name_for_request("p" * 63, "n" * 63, "r" * 250)) <= 253


def destination(name: str, labels: dict[str, str], **spec: Any) -> Destination:
    body = {
        "metadata": {"name": name, "labels": labels},
        "spec": {"path": name, "stateStoreRef": {"kind": "GitStateStore", "name": "git"}, **spec},
    }
    return Destination.model_validate(body)


def test_the_works_go_only_to_the_backstage_destination_and_nothing_else_does(
    promise: dict[str, Any],
) -> None:
    backstage = Destination.model_validate(catalog.backstage_destination("git"))
    assert backstage.spec.strict_match_labels and not backstage.spec.init_workloads.enabled
    dev = destination("dev", {"environment": "dev"})
    promise_work = Work.model_validate(catalog.catalog_work_for_promise(promise))
    request_work = Work.model_validate(catalog.catalog_work_for_request(promise, request()))
    for item in (promise_work, request_work):
        planned = schedule(item, [backstage, dev], [])
        assert [p.destination for p in planned.placements] == ["backstage"]
    unselected = Work.model_validate(
        {
            "metadata": {"name": "deps", "namespace": "x"},
            "spec": {
                "promiseName": "p",
                "workloadGroups": [{"id": "5058f1af8388633f609cadb75a75dc9d", "workloads": []}],
            },
        }
    )
    assert [p.destination for p in schedule(unselected, [backstage, dev], []).placements] == ["dev"]


def test_the_files_land_in_the_promises_and_the_requests_own_folders(promise: dict[str, Any]) -> None:
    backstage = Destination.model_validate(catalog.backstage_destination("git"))
    folders = []
    for manifest in (
        catalog.catalog_work_for_promise(promise),
        catalog.catalog_work_for_request(promise, request()),
    ):
        item = Work.model_validate(manifest)
        [planned] = schedule(item, [backstage], []).placements
        placed = PlacementFiles.from_placement(
            WorkPlacement.model_validate(planned.manifest),
            with_files=False,
        )
        folders.append(group_directory(backstage, placed))
    assert folders == [
        "backstage/dependencies/postgresql/5cfaf",
        "backstage/resources/team-a/postgresql/team-a-db/5cfaf",
    ]


def test_request_labels_match_the_templates() -> None:
    assert catalog.request_labels("postgresql", request()) == {
        "backstage.io/kubernetes-id": "postgresql.team-a-db"
    }
