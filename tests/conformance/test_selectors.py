"""Label and field selectors on list."""

from __future__ import annotations

import pytest
from kubernetes.client import ApiException

from .conftest import Kube

OBJECTS = {
    "a": {"env": "prod", "tier": "web"},
    "b": {"env": "dev", "tier": "web"},
    "c": {"env": "test"},
    "d": {},
}


@pytest.fixture
def labelled(kube: Kube) -> Kube:
    for name, labels in OBJECTS.items():
        kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": name, "labels": labels}})
    return kube


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("env=prod", {"a"}),
        ("env==prod", {"a"}),
        ("env!=prod", {"b", "c", "d"}),
        ("env in (dev,test)", {"b", "c"}),
        ("env notin (dev,test)", {"a", "d"}),
        ("tier", {"a", "b"}),
        ("!tier", {"c", "d"}),
        ("tier=web,env!=dev", {"a"}),
        ("env in (prod, dev),!tier", set()),
    ],
)
def test_label_selectors(labelled: Kube, selector: str, expected: set[str]) -> None:
    items = labelled.core.list_namespaced_config_map(labelled.namespace, label_selector=selector).items
    # A real controller-manager publishes its CA as kube-root-ca.crt (no labels) in every
    # namespace; the emulator does not.
    assert {cm.metadata.name for cm in items} - {"kube-root-ca.crt"} == expected


def test_field_selectors_on_name_and_namespace(labelled: Kube) -> None:
    kube = labelled
    assert [
        cm.metadata.name
        for cm in kube.core.list_namespaced_config_map(kube.namespace, field_selector="metadata.name=b").items
    ] == ["b"]
    others = kube.core.list_namespaced_config_map(kube.namespace, field_selector="metadata.name!=b").items
    assert {cm.metadata.name for cm in others} >= {"a", "c", "d"} and "b" not in {
        cm.metadata.name for cm in others
    }
    everywhere = kube.core.list_config_map_for_all_namespaces(
        field_selector=f"metadata.namespace={kube.namespace},metadata.name=a"
    ).items
    assert [(cm.metadata.namespace, cm.metadata.name) for cm in everywhere] == [(kube.namespace, "a")]


def test_field_selector_on_a_kind_specific_field(kube: Kube) -> None:
    kube.core.create_namespaced_secret(
        kube.namespace,
        {"metadata": {"name": "tls"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}},
    )
    kube.core.create_namespaced_secret(
        kube.namespace, {"metadata": {"name": "plain"}, "stringData": {"a": "b"}}
    )
    tls = kube.core.list_namespaced_secret(kube.namespace, field_selector="type=kubernetes.io/tls").items
    assert [s.metadata.name for s in tls] == ["tls"]


def test_unsupported_field_and_bad_label_selectors_are_400(kube: Kube) -> None:
    with pytest.raises(ApiException) as caught:
        kube.core.list_namespaced_config_map(kube.namespace, field_selector="data.foo=bar")
    assert caught.value.status == 400
    with pytest.raises(ApiException) as caught:
        kube.core.list_namespaced_config_map(kube.namespace, label_selector="a in (b")
    assert caught.value.status == 400


def _names(kube: Kube, selector: str, namespace: str | None = None) -> list[str]:
    if namespace is None:
        items = kube.core.list_config_map_for_all_namespaces(label_selector=selector).items
        return [i.metadata.name for i in items if i.metadata.namespace == kube.namespace]
    return [
        i.metadata.name
        for i in kube.core.list_namespaced_config_map(namespace, label_selector=selector).items
    ]


def test_a_label_selector_follows_relabels_and_deletions_in_name_order(labelled: Kube) -> None:
    kube, namespace = labelled, labelled.namespace
    kube.core.create_namespaced_config_map(namespace, {"metadata": {"name": "aa", "labels": {"env": "prod"}}})
    assert _names(kube, "env=prod", namespace) == ["a", "aa"]
    # Relabelled away, relabelled in, a label removed: each list sees the current labels.
    kube.core.patch_namespaced_config_map("a", namespace, {"metadata": {"labels": {"env": "dev"}}})
    kube.core.patch_namespaced_config_map("c", namespace, {"metadata": {"labels": {"env": "prod"}}})
    kube.core.patch_namespaced_config_map("aa", namespace, {"metadata": {"labels": {"env": None}}})
    assert _names(kube, "env=prod", namespace) == ["c"]
    assert _names(kube, "env=dev", namespace) == ["a", "b"]
    assert _names(kube, "env=dev,tier=web") == ["a", "b"]
    kube.core.delete_namespaced_config_map("b", namespace)
    assert _names(kube, "env=dev", namespace) == ["a"]
    assert _names(kube, "env=dev,tier!=web", namespace) == []
    # Every equality holds, whichever label is the rarer one.
    kube.core.patch_namespaced_config_map("c", namespace, {"metadata": {"labels": {"tier": "db"}}})
    assert _names(kube, "tier=web,env=dev", namespace) == ["a"]
    assert _names(kube, "env=prod,tier=db", namespace) == ["c"]
    assert _names(kube, "env=prod,tier=web", namespace) == []
