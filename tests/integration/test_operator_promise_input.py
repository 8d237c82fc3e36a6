"""Promises Kratix accepts are accepted: CRD field names in another capitalisation (item 9)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kratix_py import kube as k
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.testing.fixtures import ADAPTER_IMAGE

from .test_operator_fast import GROUP, install, promise_body


@pytest.fixture
def system(platform_factory) -> Iterator[k.Kube]:
    platform = platform_factory(pods="fast", steps={"test/first:v1": lambda ctx: 0})
    settings = settings_for(str(platform.kubeconfig), pipeline_adapter_image=ADAPTER_IMAGE)
    with RunningOperator(settings):
        yield k.Kube(platform.api_client())


def test_a_promise_with_json_path_in_capitals_installs_its_crd_with_json_path(system: k.Kube) -> None:
    body = promise_body("first")
    version = body["spec"]["api"]["spec"]["versions"][0]
    version["additionalPrinterColumns"] = [{"name": "Size", "type": "string", "JSONPath": ".spec.size"}]
    install(system, body)
    crd = system.get(k.CRDS, f"redises.{GROUP}")
    assert crd is not None
    assert crd["spec"]["versions"][0]["additionalPrinterColumns"] == [
        {"name": "Size", "type": "string", "jsonPath": ".spec.size"}
    ]
