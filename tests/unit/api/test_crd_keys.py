"""CRD field names in another capitalisation are read as Kratix's Go decoder reads them."""

from __future__ import annotations

import copy
from typing import Any

from kratix_py.api import Promise
from kratix_py.api.crd_keys import KeyRename, normalise_crd_keys
from kratix_py.core.request_crd import build_request_crd, request_kind

API: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "databases.marketplace.kratix.io", "labels": {"Team": "Data"}},
    "spec": {
        "group": "marketplace.kratix.io",
        "scope": "Namespaced",
        "names": {"Kind": "Database", "plural": "databases", "singular": "database"},
        "versions": [
            {
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "additionalPrinterColumns": [
                    {"name": "Engine", "type": "string", "JSONPath": ".spec.Engine"},
                    {"name": "Size", "type": "string", "jsonpath": ".spec.size"},
                ],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "Type": "object",
                                "properties": {
                                    "Engine": {"type": "string", "Enum": ["MySQL", "Postgres"]},
                                    "JSONPath": {"type": "string", "default": "Type"},
                                },
                                "X-Kubernetes-Preserve-Unknown-Fields": True,
                            }
                        },
                    }
                },
            }
        ],
    },
}


def test_field_names_take_their_canonical_spelling_and_each_change_is_reported() -> None:
    crd, renames = normalise_crd_keys(API, path="spec.api")
    version = crd["spec"]["versions"][0]
    assert [column["jsonPath"] for column in version["additionalPrinterColumns"]] == [
        ".spec.Engine",
        ".spec.size",
    ]
    spec_schema = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec_schema["type"] == "object" and spec_schema["x-kubernetes-preserve-unknown-fields"] is True
    assert spec_schema["properties"]["Engine"]["enum"] == ["MySQL", "Postgres"]
    assert crd["spec"]["names"]["kind"] == "Database"
    assert renames[0] == KeyRename("spec.api.spec.names.kind", "Kind", "kind")
    assert (
        KeyRename("spec.api.spec.versions[0].additionalPrinterColumns[0].jsonPath", "JSONPath", "jsonPath")
        in renames
    )
    assert len(renames) == 6
    assert API["spec"]["names"] == {"Kind": "Database", "plural": "databases", "singular": "database"}, (
        "input kept"
    )


def test_names_chosen_by_the_author_and_values_are_left_alone() -> None:
    crd, _ = normalise_crd_keys(API)
    properties = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert set(properties) == {"Engine", "JSONPath"}, "property names are the author's"
    assert properties["JSONPath"]["default"] == "Type"
    assert crd["metadata"]["labels"] == {"Team": "Data"}


def test_an_already_canonical_crd_is_unchanged_and_unknown_keys_stay_for_the_api_server() -> None:
    canonical, _ = normalise_crd_keys(API)
    again, renames = normalise_crd_keys(canonical)
    assert again == canonical and renames == []
    odd = copy.deepcopy(canonical)
    odd["spec"]["versions"][0]["madeUp"] = 1
    assert normalise_crd_keys(odd)[0]["spec"]["versions"][0]["madeUp"] == 1


def test_with_both_spellings_the_later_one_wins_as_in_go() -> None:
    column = {"name": "a", "type": "string", "jsonPath": ".first", "JSONPath": ".second"}
    api = copy.deepcopy(API)
    api["spec"]["versions"][0]["additionalPrinterColumns"] = [column]
    crd, _ = normalise_crd_keys(api)
    assert crd["spec"]["versions"][0]["additionalPrinterColumns"] == [
        {"name": "a", "type": "string", "jsonPath": ".second"}
    ]


def test_the_promise_model_and_the_request_crd_hold_the_canonical_names() -> None:
    promise = Promise.model_validate({"metadata": {"name": "database"}, "spec": {"api": API}})
    assert promise.spec.api is not None
    assert (
        promise.spec.api["spec"]["versions"][0]["additionalPrinterColumns"][0]["jsonPath"] == ".spec.Engine"
    )
    assert promise.request_gvk() is not None and promise.request_gvk().kind == "Database"
    crd = build_request_crd("database", API)
    assert crd["spec"]["versions"][0]["additionalPrinterColumns"][0] == {
        "name": "Engine",
        "type": "string",
        "jsonPath": ".spec.Engine",
    }
    assert request_kind(API).kind == "Database"
