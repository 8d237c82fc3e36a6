"""The request CRD built from a Promise's spec.api (kratix-behaviour.md §1.12)."""

from __future__ import annotations

import copy

import pytest

from kratix_py.core.request_crd import REQUEST_CATEGORY, InvalidAPI, build_request_crd, request_kind

API = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "postgresqls.marketplace.kratix.io"},
    "spec": {
        "group": "marketplace.kratix.io",
        "names": {"kind": "PostgreSQL", "plural": "postgresqls", "singular": "postgresql"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "properties": {"size": {"type": "string"}}}
                        },
                    }
                },
            }
        ],
    },
}


def test_kind_comes_from_the_stored_version():
    api = copy.deepcopy(API)
    api["spec"]["versions"].insert(
        0, {**copy.deepcopy(api["spec"]["versions"][0]), "name": "v1", "storage": False}
    )
    kind = request_kind(api)
    assert (kind.group, kind.version, kind.kind, kind.plural) == (
        "marketplace.kratix.io",
        "v1alpha1",
        "PostgreSQL",
        "postgresqls",
    )
    assert kind.api_version == "marketplace.kratix.io/v1alpha1"


def test_the_crd_gets_label_status_subresource_status_schema_columns_and_category():
    crd = build_request_crd("postgresql", API)
    assert crd["metadata"]["labels"]["kratix.io/promise-name"] == "postgresql"
    version = crd["spec"]["versions"][0]
    assert version["subresources"]["status"] == {}
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]
    assert status["x-kubernetes-preserve-unknown-fields"] is True
    assert "conditions" in status["properties"] and "kratix" in status["properties"]
    assert [c["name"] for c in version["additionalPrinterColumns"]] == ["message", "status"]
    assert (
        version["schema"]["openAPIV3Schema"]["properties"]["metadata"]["properties"]["name"]["maxLength"]
        == 63
    )
    assert REQUEST_CATEGORY in crd["spec"]["names"]["categories"]
    assert API["spec"]["versions"][0].get("subresources") is None, "the Promise's own copy is not modified"


def test_author_printer_columns_are_kept():
    api = copy.deepcopy(API)
    api["spec"]["versions"][0]["additionalPrinterColumns"] = [
        {"name": "Size", "type": "string", "jsonPath": ".spec.size"}
    ]
    crd = build_request_crd("postgresql", api)
    assert [c["name"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]] == ["Size"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda api: api.update(kind="ConfigMap"),
            "must be an apiextensions.k8s.io/v1 CustomResourceDefinition",
        ),
        (lambda api: api["spec"].update(scope="Cluster"), "must be Namespaced"),
        (lambda api: api["spec"]["versions"][0].pop("schema"), "has no schema.openAPIV3Schema"),
        (lambda api: api["metadata"].update(name="wrong"), "must be postgresqls.marketplace.kratix.io"),
        (lambda api: api["spec"].update(versions=[]), "at least one version"),
        (lambda api: api["spec"]["names"].pop("plural"), "must set group, names.kind and names.plural"),
    ],
)
def test_bad_apis_are_rejected_with_a_message_naming_the_field(mutate, message):
    api = copy.deepcopy(API)
    mutate(api)
    with pytest.raises(InvalidAPI, match=message.replace(".", r"\.")):
        build_request_crd("postgresql", api)
