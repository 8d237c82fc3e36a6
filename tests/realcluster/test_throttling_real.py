"""The real API server right after start, and right after a CRD is created: no 429 reaches a test.

kube-apiserver answers lists and watches served from a kind's watch cache with 429 "storage is
(re)initializing" (Retry-After: 1) until that cache is filled: every kind just after the server
starts, and a CRD's kind just after the CRD is created. ``ControlPlane.start`` returns only once
every kind the project uses is served, and ``kratix_py.kube`` waits as asked and sends the call
again instead of failing it.
"""

from __future__ import annotations

import uuid

import pytest

from kratix_py import kube as k
from kratix_py.local_platform.controlplane import WATCHED_KINDS, ControlPlane
from kratix_py.testing.fixtures import wait_for
from kratix_py.testing.objects import open_crd

pytestmark = [pytest.mark.real_cluster]


def test_every_kind_the_project_watches_is_served_from_its_cache_once_start_returned(
    control_plane: ControlPlane,
) -> None:
    kube = k.Kube(control_plane.api_client(), throttle_retries=0)  # a 429 would fail here
    for path in WATCHED_KINDS:
        listed = kube.request("GET", path, query={"resourceVersion": "0", "limit": "1"})
        assert listed["kind"].endswith("List"), path
    flow = kube.request("GET", "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas")
    assert {"global-default", "service-accounts", "catch-all"} <= {
        f["metadata"]["name"] for f in flow["items"]
    }


def test_the_first_cached_list_of_a_new_crd_waits_for_its_cache_instead_of_failing(
    control_plane: ControlPlane, caplog: pytest.LogCaptureFixture
) -> None:
    kube = k.Kube(control_plane.api_client())
    group = f"t{uuid.uuid4().hex[:8]}.throttle.kratix.io"
    crd = open_crd(group, "Gadget", "gadgets")
    kube.create(k.CRDS, crd)
    try:
        wait_for(
            lambda: any(
                c["type"] == "Established" and c["status"] == "True"
                for c in ((kube.get(k.CRDS, f"gadgets.{group}") or {}).get("status") or {}).get("conditions")
                or []
            ),
            timeout=30,
            what="the CRD to be established",
        )
        with caplog.at_level("INFO", logger="kratix_py.kube"):
            listed = kube.request("GET", f"/apis/{group}/v1/gadgets", query={"resourceVersion": "0"})
        assert listed["items"] == []
        throttled = [r for r in caplog.records if "HTTP 429" in r.getMessage()]
        assert all(r.exc_info is None for r in throttled)
        print(f"\n429 answers before the new CRD's cache served: {len(throttled)}")
    finally:
        kube.delete(k.CRDS, f"gadgets.{group}")
