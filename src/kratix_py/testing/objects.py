"""Small builders for the objects tests write again and again.

``open_crd`` is a namespaced CustomResourceDefinition that accepts anything: the API a Promise
needs when a test is about the flow, not about the schema.
"""

from __future__ import annotations

from typing import Any


def open_crd(
    group: str, kind: str, plural: str, *, version: str = "v1", spec_only: bool = False
) -> dict[str, Any]:
    """A namespaced CRD ``<plural>.<group>`` with one served, stored ``version``.

    Its schema keeps every field (``x-kubernetes-preserve-unknown-fields``): the whole object, or
    with ``spec_only`` only under ``spec`` (the API server then prunes every other unknown field).
    """
    anything: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    schema = {"type": "object", "properties": {"spec": anything}} if spec_only else anything
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
            "scope": "Namespaced",
            "versions": [
                {"name": version, "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}
            ],
        },
    }
