"""Fixtures for the conformance suite: the same tests against the emulator and a real API server.

Every test runs twice: against a fresh emulator (it starts in milliseconds) and against the real
control plane of the session (``make setup-components`` builds it; one per session, each test in
its own namespace with its own CRD group, both removed afterwards). Tests marked
``emulator_only`` run against the emulator only. If ``KUBECONFIG`` names an existing file, the
real side is that cluster instead of the built control plane.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import kubernetes
import pytest
from kubernetes.client import ApiClient, ApiException

from kratix_py.local_platform.emulator import Emulator
from kratix_py.testing.fixtures import wait_for

T = TypeVar("T")


def _real_kubeconfig() -> Path | None:
    path = os.environ.get("KUBECONFIG")
    if path and Path(path).is_file():
        return Path(path)
    return None


REAL_CLUSTER = _real_kubeconfig() is not None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "kube" not in metafunc.fixturenames:
        return
    emulator_only = metafunc.definition.get_closest_marker("emulator_only") is not None
    apis = ["emulator"] if emulator_only else ["emulator", "real"]
    metafunc.parametrize("kube", apis, indirect=True)


@dataclass
class Raw:
    status: int
    body: Any
    headers: Any


@dataclass
class Kube:
    """One test's view of a cluster: clients, a namespace of its own, helpers."""

    api: ApiClient
    namespace: str
    kubeconfig: Path
    emulator: Emulator | None
    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    _crds: list[str] = field(default_factory=list)

    @property
    def real(self) -> bool:
        return self.emulator is None

    # typed clients
    @property
    def core(self) -> kubernetes.client.CoreV1Api:
        return kubernetes.client.CoreV1Api(self.api)

    @property
    def custom(self) -> kubernetes.client.CustomObjectsApi:
        return kubernetes.client.CustomObjectsApi(self.api)

    @property
    def ext(self) -> kubernetes.client.ApiextensionsV1Api:
        return kubernetes.client.ApiextensionsV1Api(self.api)

    @property
    def batch(self) -> kubernetes.client.BatchV1Api:
        return kubernetes.client.BatchV1Api(self.api)

    @property
    def apps(self) -> kubernetes.client.AppsV1Api:
        return kubernetes.client.AppsV1Api(self.api)

    @property
    def rbac(self) -> kubernetes.client.RbacAuthorizationV1Api:
        return kubernetes.client.RbacAuthorizationV1Api(self.api)

    @property
    def coordination(self) -> kubernetes.client.CoordinationV1Api:
        return kubernetes.client.CoordinationV1Api(self.api)

    @property
    def events(self) -> kubernetes.client.EventsV1Api:
        return kubernetes.client.EventsV1Api(self.api)

    def raw(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        accept: str = "application/json",
        query: dict[str, str] | None = None,
    ) -> Raw:
        """An HTTP request through the client's auth and TLS settings, without raising on errors."""
        headers = {"Accept": accept}
        if body is not None:
            headers["Content-Type"] = content_type
        serialized = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=list((query or {}).items()),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self.api.call_api(*serialized)
        data = response.read()
        try:
            parsed: Any = json.loads(data)
        except ValueError:
            parsed = data.decode(errors="replace")
        return Raw(response.status, parsed, response.headers)

    def group(self, name: str = "t") -> str:
        """A CRD group unique to this test, so runs on a shared cluster do not collide."""
        return f"{name}{self.suffix}.conformance.kratix.io"

    def crd_body(
        self,
        kind: str,
        *,
        group: str | None = None,
        scope: str = "Namespaced",
        schema: dict[str, Any] | None = None,
        status: bool = True,
        versions: list[dict[str, Any]] | None = None,
        printer_columns: list[dict[str, Any]] | None = None,
        short_names: list[str] | None = None,
        categories: list[str] | None = None,
    ) -> dict[str, Any]:
        group = group or self.group()
        plural = kind.lower() + "s"
        if versions is None:
            version: dict[str, Any] = {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": schema
                    or {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
            if status:
                version["subresources"] = {"status": {}}
            if printer_columns:
                version["additionalPrinterColumns"] = printer_columns
            versions = [version]
        names: dict[str, Any] = {"kind": kind, "plural": plural, "singular": kind.lower()}
        if short_names:
            names["shortNames"] = short_names
        if categories:
            names["categories"] = categories
        return {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {"group": group, "names": names, "scope": scope, "versions": versions},
        }

    def create_crd(self, kind: str, **kwargs: Any) -> dict[str, Any]:
        """Create a CRD and wait until it is served; it is deleted after the test."""
        body = self.crd_body(kind, **kwargs)
        created = self.ext.create_custom_resource_definition(body)
        name = body["metadata"]["name"]
        self._crds.append(name)
        spec = body["spec"]
        served = [v["name"] for v in spec["versions"] if v.get("served")]

        def ready() -> bool:
            crd = self.raw("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}").body
            conditions = {c["type"]: c["status"] for c in (crd.get("status") or {}).get("conditions") or []}
            if conditions.get("Established") != "True":
                return False
            return all(self.raw("GET", f"/apis/{spec['group']}/{v}").status == 200 for v in served)

        self.eventually(ready, message=f"CRD {name} was not established")
        return created.to_dict() if hasattr(created, "to_dict") else created

    def eventually(
        self, check: Callable[[], T], timeout: float = 15.0, message: str = "condition not met"
    ) -> T:
        """Poll until ``check()`` is truthy (real clusters do GC and CRD set-up asynchronously)."""
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(message)
            time.sleep(0.02 if self.real else 0.002)

    def cleanup(self) -> None:
        for name in self._crds:
            with contextlib.suppress(ApiException):
                self.ext.delete_custom_resource_definition(name)
        with contextlib.suppress(ApiException):
            self.core.delete_namespace(self.namespace)


def _write_kubeconfig(path: Path, server: str, namespace: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "emulator", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "emulator", "user": {"token": "emulator-accepts-any-token"}}],
        "contexts": [
            {
                "name": "emulator",
                "context": {"cluster": "emulator", "user": "emulator", "namespace": namespace},
            }
        ],
        "current-context": "emulator",
    }
    path.write_text(json.dumps(config, indent=2))
    return path


@pytest.fixture
def kube(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Kube]:
    namespace = f"conformance-{uuid.uuid4().hex[:8]}"
    if request.param == "real":
        real = _real_kubeconfig()
        if real is None:
            # Only now: an emulator-only selection never starts the control plane.
            real = request.getfixturevalue("control_plane").kubeconfig
        assert real is not None
        kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(real)
        api = kubernetes.config.new_client_from_config(config_file=str(real))
        k = Kube(api=api, namespace=namespace, kubeconfig=real, emulator=None)
        k.core.create_namespace({"metadata": {"name": namespace}})
        # A real cluster's root-CA publisher adds this ConfigMap to every new namespace a moment
        # later; wait for it so no test's watch or list sees it arrive mid-test.
        wait_for(
            lambda: any(
                item.metadata.name == "kube-root-ca.crt"
                for item in k.core.list_namespaced_config_map(namespace).items
            ),
            timeout=60,
            what=f"kube-root-ca.crt in {namespace}",
        )
        try:
            yield k
        finally:
            k.cleanup()
            api.close()
        return
    emulator = Emulator().start()
    api = ApiClient(kubernetes.client.Configuration(host=emulator.url))
    kubeconfig = _write_kubeconfig(tmp_path / "kubeconfig", emulator.url, namespace)
    k = Kube(api=api, namespace=namespace, kubeconfig=kubeconfig, emulator=emulator)
    k.core.create_namespace({"metadata": {"name": namespace}})
    try:
        yield k
    finally:
        api.close()
        emulator.stop()


@pytest.fixture
def emulator(kube: Kube) -> Emulator:
    """The test's emulator (only for ``emulator_only`` tests)."""
    assert kube.emulator is not None
    return kube.emulator
