"""kratix-py's test suites against a real API server: the kratix chart on a real control plane.

:class:`ChartCluster` is one real control plane (etcd, kube-apiserver, kube-controller-manager,
the kubelet stand-in) with ``helm install kratix charts/kratix`` done once (``replicas=0``: the
chart's CRDs, ServiceAccount and ClusterRole, no operator pod). Tests run their own operator with
a token of the chart's ServiceAccount, so a call the chart does not grant fails with 403 as it
would for a user; the tests themselves act as admin.

Starting a control plane takes seconds, so a session shares one, and :meth:`ChartCluster.clean`
puts it back as it was after the install between tests: everything created since then is
deleted (finalizers dropped first, since no operator runs any more to release them), and the
next test starts once it is really gone (a CRD or Namespace still terminating would refuse the
next test's objects of the same name).

:class:`RealPlatform` is what ``platform_factory`` returns for ``api_server="real"``: the same
attributes tests use of a :class:`~kratix_py.local_platform.platform.LocalPlatform`
(``api_client()`` as admin, ``kubeconfig`` for the operator, ``pod_runner``), pipelines run by
the real Job controller, and images given as ``steps`` run in-process by the kubelet stand-in.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes

from kratix_py import kube as k
from kratix_py.local_platform import components
from kratix_py.local_platform.controlplane import ControlPlane

log = logging.getLogger(__name__)

CHART_RELEASE = "kratix"
CHART_NAMESPACE = "kratix-platform-system"
CHART_SERVICE_ACCOUNT = "kratix-platform-controller-manager"
KRATIX_GROUP = "platform.kratix.io"
SERVICE_ACCOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
CLEAN_TIMEOUT = 60.0

# What a test may leave behind, in the order it is removed: owners before what they own.
_NAMESPACED = (
    k.JOBS,
    k.PODS,
    k.CONFIGMAPS,
    k.SECRETS,
    k.SERVICEACCOUNTS,
    k.ROLEBINDINGS,
    k.ROLES,
    k.EVENTS,
    k.Resource("coordination.k8s.io", "v1", "leases", kind="Lease"),
)
_CLUSTER = (k.CLUSTERROLEBINDINGS, k.CLUSTERROLES)
_SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
"""The control plane's own: its controllers keep writing there, and no test does."""
_KEPT_NAMES = ("kube-root-ca.crt", "default")
"""What the control plane's controllers give every namespace (its CA ConfigMap, its default
ServiceAccount): removing them would only have them recreated, and pods need them."""


def chart_dir() -> Path:
    """charts/kratix of this checkout (the real-cluster tests run from a checkout)."""
    return components.versions_file().parents[2] / "charts" / "kratix"


def _getter(admin: k.Kube, kind: k.Resource, name: str, namespace: str) -> Callable[[], Any]:
    return lambda: admin.get(kind, name, namespace)


def _uid(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def _kratix_kinds(admin: k.Kube) -> list[k.Resource]:
    """Every kind the installed CRDs serve in platform.kratix.io (Promises, Works, Destinations...)."""
    kinds = []
    for crd in admin.list(k.CRDS):
        spec = crd["spec"]
        if spec["group"] != KRATIX_GROUP:
            continue
        version = next(v["name"] for v in spec["versions"] if v.get("storage"))
        kinds.append(
            k.Resource(KRATIX_GROUP, version, spec["names"]["plural"], spec["scope"] == "Namespaced",
                       spec["names"]["kind"])
        )  # fmt: skip
    # Promises last: deleting one with its finalizer dropped would otherwise race its requests.
    return sorted(kinds, key=lambda kind: kind.plural == "promises")


def _served_kinds(crd: dict[str, Any]) -> k.Resource:
    spec = crd["spec"]
    version = next(v["name"] for v in spec["versions"] if v.get("storage"))
    return k.Resource(spec["group"], version, spec["names"]["plural"], spec["scope"] == "Namespaced",
                      spec["names"]["kind"])  # fmt: skip


@dataclass
class ChartCluster:
    """A real control plane with the kratix chart installed: see the module docs."""

    plane: ControlPlane
    helm: Path
    home: Path
    operator_kubeconfig: Path = field(init=False)
    """A kubeconfig with a token of the chart's ServiceAccount: what the operator runs with."""
    baseline: set[str] = field(default_factory=set, init=False)
    """UIDs of the objects present once the chart was installed: :meth:`clean` keeps these."""

    @property
    def admin_kubeconfig(self) -> Path:
        assert self.plane.kubeconfig is not None
        return self.plane.kubeconfig

    def admin(self) -> k.Kube:
        return k.Kube(self.plane.api_client())

    def install(self, image: str) -> ChartCluster:
        """``helm install`` the chart (``replicas=0``), wait for its CRDs, record the baseline."""
        from kratix_py.testing.fixtures_controlplane import run_helm

        repository, _, tag = image.rpartition(":")
        answer = run_helm(
            self.helm, "install", CHART_RELEASE, str(chart_dir()), "--set", "replicas=0",
            "--set", f"image.repository={repository}", "--set", f"image.tag={tag}",
            "--set", "image.pullPolicy=Never",
            home=self.home, kubeconfig=self.admin_kubeconfig,
        )  # fmt: skip
        if answer.returncode != 0:
            raise RuntimeError(f"helm install of the kratix chart failed: {answer.stderr.strip()}")
        admin = self.admin()
        kinds = self._wait(lambda: self._established(admin), "the chart's CRDs to be established")
        self.plane.wait_for_watch_caches(kind.path() for kind in kinds)
        for namespace in ("default", CHART_NAMESPACE):
            # The controllers give a new namespace these a moment later: part of the baseline.
            for kind, name in ((k.SERVICEACCOUNTS, "default"), (k.CONFIGMAPS, "kube-root-ca.crt")):
                self._wait(_getter(admin, kind, name, namespace), f"{kind.kind} {namespace}/{name}")
        self.operator_kubeconfig = self.plane.token_kubeconfig(
            self.home / "operator.kubeconfig", CHART_NAMESPACE, CHART_SERVICE_ACCOUNT
        )
        self.baseline = {_uid(obj) for obj in self._objects(admin)}
        return self

    def _established(self, admin: k.Kube) -> list[k.Resource] | None:
        kinds = _kratix_kinds(admin)
        if not kinds:
            return None
        for crd in admin.list(k.CRDS):
            conditions = {c["type"]: c["status"] for c in (crd.get("status") or {}).get("conditions") or []}
            if crd["spec"]["group"] == KRATIX_GROUP and conditions.get("Established") != "True":
                return None
        return kinds

    @staticmethod
    def _wait(check: Callable[[], Any], what: str, timeout: float = CLEAN_TIMEOUT) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(0.1)

    # --- back to the baseline -------------------------------------------------------------------

    def _objects(self, admin: k.Kube) -> Iterator[dict[str, Any]]:
        """Every object :meth:`clean` looks after, with ``_resource`` set to its kind."""
        for kind in [*_kratix_kinds(admin), *self._request_kinds(admin)]:
            for obj in admin.list(kind):
                yield {**obj, "_resource": kind}
        for crd in admin.list(k.CRDS):
            yield {**crd, "_resource": k.CRDS}
        for kind in _NAMESPACED:
            for obj in admin.list(kind):
                if obj["metadata"].get("namespace") not in _SYSTEM_NAMESPACES:
                    yield {**obj, "_resource": kind}
        for kind in _CLUSTER:
            for obj in admin.list(kind):
                yield {**obj, "_resource": kind}
        for obj in admin.list(k.NAMESPACES):
            yield {**obj, "_resource": k.NAMESPACES}

    def _request_kinds(self, admin: k.Kube) -> list[k.Resource]:
        return [_served_kinds(crd) for crd in admin.list(k.CRDS) if crd["spec"]["group"] != KRATIX_GROUP]

    def leftovers(self, admin: k.Kube) -> list[dict[str, Any]]:
        """What tests created since the install (and is still there)."""
        found = []
        for obj in self._objects(admin):
            meta = obj["metadata"]
            if _uid(obj) in self.baseline or meta["name"] in _KEPT_NAMES:
                continue
            if obj["_resource"] in _CLUSTER and meta["name"].startswith("system:"):
                continue  # the control plane's own (RBAC bootstrap, aggregation)
            found.append(obj)
        return found

    def clean(self) -> None:
        """Delete what tests created, and wait until it is gone (see the module docs)."""
        admin = self.admin()
        try:
            self._wait(lambda: not self._delete(admin), "the cluster to be back to the chart's baseline")
        finally:
            admin.api_client.close()

    def _delete(self, admin: k.Kube) -> list[str]:
        """One pass: drop finalizers and delete each leftover; returns what was still there."""
        remaining = []
        for obj in self.leftovers(admin):
            resource: k.Resource = obj["_resource"]
            meta = obj["metadata"]
            name, namespace = meta["name"], meta.get("namespace")
            remaining.append(f"{resource.kind} {namespace + '/' if namespace else ''}{name}")
            with contextlib.suppress(k.KubeError):
                # Not a CRD's: its finalizer is what deletes its objects from storage.
                if meta.get("finalizers") and resource not in (k.NAMESPACES, k.CRDS):
                    admin.patch(resource, name, {"metadata": {"finalizers": None}}, namespace)
                if not meta.get("deletionTimestamp"):
                    self._delete_one(admin, resource, name, namespace)
        return remaining

    @staticmethod
    def _delete_one(admin: k.Kube, resource: k.Resource, name: str, namespace: str | None) -> None:
        body: dict[str, Any] = {
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "propagationPolicy": "Background",
        }
        if resource is k.PODS:
            body["gracePeriodSeconds"] = 0  # gone at once: nothing waits for a kubelet to confirm
        try:
            admin.request("DELETE", resource.path(namespace, name), body=body)
        except k.KubeError as error:
            if not error.not_found:
                raise


def in_pod_step(step: Callable[[Any], int | None]) -> Callable[[Any], int | None]:
    """``step`` run in-process by the kubelet stand-in with the pod's own credentials.

    A container of the pod would read its ServiceAccount token from the projected volume and
    find the API through ``KUBERNETES_SERVICE_HOST``; the in-process step gets an ``api_client``
    built exactly that way (in-cluster configuration), so it has the pod's permissions only.
    """

    def run(ctx: Any) -> int | None:
        account = ctx.path(SERVICE_ACCOUNT_PATH)
        configuration = kubernetes.client.Configuration()
        kubernetes.config.incluster_config.InClusterConfigLoader(
            token_filename=str(account / "token"), cert_filename=str(account / "ca.crt"), environ=ctx.env
        ).load_and_set(configuration)
        with kubernetes.client.ApiClient(configuration) as client:
            return step(_WithClient(ctx, client))

    return run


class _WithClient:
    """A step context plus ``api_client`` (what kratix_py.adapter's ``connect`` looks for)."""

    def __init__(self, ctx: Any, api_client: Any) -> None:
        self._ctx = ctx
        self.api_client = api_client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)


class ForbiddenCalls(logging.Handler):
    """Collects log records that report an API call refused with 403 (``forbidden``).

    The operator logs a failed reconcile as one line and tries again, so a permission the chart
    lacks would only slow a test down; :meth:`RealPlatform.stop` fails the test with them instead.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.found: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "forbidden" in message.lower():
            self.found.append(f"{record.name}: {message}")


@dataclass
class RealPlatform:
    """One test's view of the session's :class:`ChartCluster`: see the module docs."""

    cluster: ChartCluster
    emulator: None = None
    forbidden: ForbiddenCalls = field(default_factory=ForbiddenCalls)

    def __post_init__(self) -> None:
        logging.getLogger().addHandler(self.forbidden)

    @property
    def kubeconfig(self) -> Path:
        """The operator's: the chart ServiceAccount's token (never admin)."""
        return self.cluster.operator_kubeconfig

    @property
    def admin_kubeconfig(self) -> Path:
        return self.cluster.admin_kubeconfig

    @property
    def url(self) -> str:
        return self.cluster.plane.url

    @property
    def pod_runner(self) -> Any:
        return self.cluster.plane.pod_runner

    def api_client(self) -> kubernetes.client.ApiClient:
        """A fresh admin ApiClient (the tests' own view, not the operator's)."""
        return self.cluster.plane.api_client()

    def use_steps(self, steps: dict[str, Callable[..., Any]]) -> None:
        self.cluster.plane.steps.clear()
        self.cluster.plane.steps.update(steps)

    def stop(self) -> None:
        """Back to the baseline for the next test; its steps stop being run. Raises if anything
        was refused with 403 meanwhile (see :class:`ForbiddenCalls`)."""
        logging.getLogger().removeHandler(self.forbidden)
        try:
            self.cluster.clean()
        finally:
            self.cluster.plane.steps.clear()
        if self.forbidden.found:
            shown = "\n".join(self.forbidden.found[:10])
            raise AssertionError(f"API calls were refused (403) under the chart's RBAC:\n{shown}")


def started_cluster(
    workdir: Path, helm: Path, image: str, *, name: str = "kratix-py-suites"
) -> Generator[ChartCluster, None, None]:
    """A :class:`ChartCluster` for a session (a generator for a fixture): started, then stopped."""
    started = time.monotonic()
    plane = ControlPlane(workdir=workdir, pods="podman", name=name).start()
    try:
        cluster = ChartCluster(plane, helm, workdir).install(image)
        log.info("chart cluster ready in %.1fs", time.monotonic() - started)
        yield cluster
    finally:
        plane.stop()
