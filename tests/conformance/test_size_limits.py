"""How big an object may be: the limits a real API server and etcd put on writes.

A pipeline's output becomes a Work, and a request's status is written by the status-writer: both
meet these limits first on a real cluster, so the emulator must refuse in the same way.
"""

from __future__ import annotations

import base64

from .conftest import Kube

MIB = 1024 * 1024


def test_a_body_over_three_mebibytes_is_413_before_anything_else(kube: Kube) -> None:
    body = {"metadata": {"name": "huge"}, "data": {"x": "a" * (3 * MIB + 1000)}}
    answer = kube.raw("POST", f"/api/v1/namespaces/{kube.namespace}/configmaps", body)
    assert answer.status == 413
    assert answer.body["reason"] == "RequestEntityTooLarge"
    assert answer.body["message"] == "Request entity too large: limit is 3145728"


def test_configmap_and_secret_data_over_one_mebibyte_are_invalid(kube: Kube) -> None:
    cm = {"metadata": {"name": "big"}, "data": {"x": "a" * (MIB + 10)}}
    answer = kube.raw("POST", f"/api/v1/namespaces/{kube.namespace}/configmaps", cm)
    assert answer.status == 422
    assert (
        answer.body["message"]
        == 'ConfigMap "big" is invalid: []: Too long: may not be more than 1048576 bytes'
    )
    secret = {"metadata": {"name": "big"}, "data": {"x": base64.b64encode(b"a" * (MIB + 10)).decode()}}
    answer = kube.raw("POST", f"/api/v1/namespaces/{kube.namespace}/secrets", secret)
    assert answer.status == 422
    assert (
        answer.body["message"]
        == 'Secret "big" is invalid: data: Too long: may not be more than 1048576 bytes'
    )
    fits = {"metadata": {"name": "fits"}, "data": {"x": "a" * (MIB - 100)}}
    assert kube.raw("POST", f"/api/v1/namespaces/{kube.namespace}/configmaps", fits).status == 201


def test_a_custom_object_too_big_for_etcd_is_500_and_not_stored(kube: Kube) -> None:
    kind = "Blob"
    kube.create_crd(kind)
    group = kube.group()
    path = f"/apis/{group}/v1/namespaces/{kube.namespace}/blobs"

    def create(name: str, size: int) -> tuple[int, dict]:
        body = {"apiVersion": f"{group}/v1", "kind": kind, "metadata": {"name": name}, "data": "a" * size}
        answer = kube.raw("POST", path, body)
        return answer.status, answer.body

    status, body = create("etcd-limit", 1_600_000)
    assert (status, body["message"]) == (500, "etcdserver: request is too large")
    assert "reason" not in body
    status, body = create("grpc-limit", 2_500_000)
    assert status == 500
    assert body["message"].startswith(
        "rpc error: code = ResourceExhausted desc = trying to send message larger"
    )
    assert kube.raw("GET", f"{path}/etcd-limit").status == 404
    assert create("fits", 1_400_000)[0] == 201
