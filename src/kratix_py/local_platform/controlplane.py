"""A real Kubernetes control plane on this machine: etcd, kube-apiserver, kube-controller-manager.

The binaries are the pinned ones ``make setup-components`` builds (see
:mod:`kratix_py.local_platform.components`). :class:`ControlPlane` has the shape
:class:`~kratix_py.local_platform.up.KubernetesApi` names, so ``kratix-py local-platform --api
real`` and the test fixtures use it like the emulator's :class:`LocalPlatform`:

- etcd listens on free 127.0.0.1 ports with its data in the working directory;
- kube-apiserver serves TLS with certificates generated for this run, authenticates client
  certificates and service-account tokens (``--service-account-issuer``) and authorizes with
  ``Node,RBAC``, so a ServiceAccount can do only what its Roles grant;
- kube-controller-manager runs every default controller (Job, garbage collector, namespace,
  service-account, token...) with the same signing key;
- with ``pods="podman"`` the kubelet stand-in (:class:`~kratix_py.local_platform.podrunner_node.NodeAgent`)
  registers a Node, runs the pods the Job controller creates and serves their logs to
  ``kubectl logs``.

``kubeconfig`` is an admin kubeconfig (client certificate in ``system:masters``); tests that
must not be admin ask :meth:`ControlPlane.token_kubeconfig` for a ServiceAccount's.

:meth:`start` returns once the server is ready for clients, not merely up: ``/readyz``, then the
bootstrap RBAC roles and the priority-and-fairness objects exist and are digested, and the watch
cache of every kind the project uses answers. Before that, kube-apiserver answers lists and
watches with 429 ("storage is (re)initializing") and a test would start against a server that
turns its first requests away.
Each process logs to ``<workdir>/logs/<name>.log``; :meth:`stop` ends every process it started.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import kubernetes
import yaml

from kratix_py.local_platform import components
from kratix_py.local_platform.controlplane_pki import SERVICE_CIDR, Pki, generate

log = logging.getLogger(__name__)

ISSUER = "https://kubernetes.default.svc.cluster.local"
CLUSTER_NAME = "kratix-py-real"
STOP_GRACE = 10.0

BOOTSTRAP_CLUSTER_ROLES = ("cluster-admin", "admin", "system:controller:job-controller", "system:node")
"""Created by the API server's RBAC bootstrap (``admin`` filled in by the controller-manager's
aggregation); the controllers and the tests' ServiceAccounts act through them."""
FLOW_SCHEMAS = ("exempt", "catch-all", "system-nodes", "kube-controller-manager", "service-accounts",
                "global-default")  # fmt: skip
"""Priority-and-fairness objects the API server creates at start-up. Until its flow-control
controller has digested them (it writes a ``Dangling`` condition on each), requests may be
classified to ``catch-all``, whose priority level rejects (429) instead of queueing."""
WATCHED_KINDS = (
    "/api/v1/namespaces", "/api/v1/pods", "/api/v1/nodes", "/api/v1/configmaps", "/api/v1/secrets",
    "/api/v1/serviceaccounts", "/api/v1/events", "/apis/batch/v1/jobs",
    "/apis/coordination.k8s.io/v1/leases", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
    "/apis/rbac.authorization.k8s.io/v1/roles", "/apis/rbac.authorization.k8s.io/v1/rolebindings",
    "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
)  # fmt: skip
"""Kinds the operator, the kubelet stand-in and the tests list and watch: each must be served
from its watch cache before :meth:`ControlPlane.start` returns."""


class ControlPlaneError(RuntimeError):
    """A component did not start; the message carries the end of its log."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def kubeconfig_document(
    server: str, ca: Path, user: dict[str, str], *, name: str = CLUSTER_NAME
) -> dict[str, Any]:
    """A kubeconfig for ``server`` trusting ``ca``; ``user`` is its credentials stanza."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority-data": _b64(ca)}}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name, "namespace": "default"}}],
        "current-context": name,
        "preferences": {},
    }


def write_private(path: Path, document: dict[str, Any]) -> Path:
    """Write a kubeconfig readable by its owner only (it holds credentials)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@dataclass
class _Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        if self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(STOP_GRACE)


@dataclass
class ControlPlane:
    """A real control plane in ``workdir`` (a temporary folder when None): see the module docs.

    ``port`` 0 picks a free port for the API server. ``pods``: ``"podman"`` runs pods with the
    kubelet stand-in, None runs none. ``name`` names the Node and the kubeconfig context.
    """

    workdir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 0
    pods: str | None = None
    name: str = CLUSTER_NAME
    ready_timeout: float = 120.0
    node_name: str = "kratix-py-node"
    steps: dict[str, Callable[..., Any]] = field(default_factory=dict)
    """Images the kubelet stand-in runs as in-process Python steps instead of podman containers
    (the pod runner's fast mode). The same dict stays in use while the plane runs: a test may
    change it between pods, as each test of a shared control plane brings its own pipelines."""
    pki: Pki | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._processes: list[_Process] = []
        self.kubeconfig: Path | None = None
        self.pod_runner: Any = None
        self.etcd_url = ""
        self.started_in = 0.0

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    # --- life cycle -----------------------------------------------------------------------------

    def start(self) -> ControlPlane:
        started = time.monotonic()
        binaries = {name: components.binary(name) for name in components.CONTROL_PLANE}
        if self.workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="kratix-py-controlplane-")
            self.workdir = Path(self._tmp.name)
        self.workdir.mkdir(parents=True, exist_ok=True)
        cp = self.workdir / "controlplane"
        shutil.rmtree(cp, ignore_errors=True)
        (cp / "logs").mkdir(parents=True)
        try:
            self.pki = pki = generate(cp / "pki", hosts=(self.host,))
            self._start_etcd(binaries["etcd"], cp)
            if not self.port:
                self.port = free_port(self.host)
            self._start_apiserver(binaries["kube-apiserver"], cp, pki)
            admin = {"client-certificate-data": _b64(pki.admin.cert), "client-key-data": _b64(pki.admin.key)}
            self.kubeconfig = write_private(
                self.workdir / "kubeconfig", kubeconfig_document(self.url, pki.ca.cert, admin, name=self.name)
            )
            manager = {
                "client-certificate-data": _b64(pki.controller_manager.cert),
                "client-key-data": _b64(pki.controller_manager.key),
            }
            manager_config = write_private(
                cp / "controller-manager.kubeconfig", kubeconfig_document(self.url, pki.ca.cert, manager)
            )
            self._start_controller_manager(binaries["kube-controller-manager"], cp, pki, manager_config)
            if self.pods is not None:
                from kratix_py.local_platform.podrunner_node import NodeAgent

                self.pod_runner = NodeAgent(
                    self.url,
                    self.kubeconfig,
                    node_name=self.node_name,
                    use_podman=self.pods == "podman",
                    workdir=self.workdir / "pods",
                    log_tls=(pki.serving.cert, pki.serving.key, pki.ca.cert),
                )
                # This plane's dict, shared: changes to it reach the next pod.
                self.pod_runner.share_steps(self.steps)
                self.pod_runner.start()
            self._wait_until_serving()
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - started
        log.info("control plane %s up at %s in %.1fs", self.name, self.url, self.started_in)
        return self

    def stop(self) -> None:
        """Stop the kubelet stand-in and every process this control plane started, newest first."""
        if self.pod_runner is not None:
            self.pod_runner.stop()
            self.pod_runner = None
        for process in reversed(self._processes):
            process.stop()
        self._processes.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- readiness ------------------------------------------------------------------------------

    def _get(self, path: str) -> tuple[int, Any]:
        """GET ``path`` as admin: (status, decoded JSON or None), never raising for an HTTP error."""
        assert self.pki is not None, "the control plane is not started"
        context = ssl.create_default_context(cafile=str(self.pki.ca.cert))
        context.load_cert_chain(str(self.pki.admin.cert), str(self.pki.admin.key))
        try:
            with urllib.request.urlopen(self.url + path, timeout=5, context=context) as answer:
                return int(answer.status), json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            return int(error.code), None

    def _eventually(self, check: Callable[[], str], what: str) -> None:
        """Poll ``check`` (it returns what is still missing, "" when done) until ``ready_timeout``."""
        deadline = time.monotonic() + self.ready_timeout
        missing = check()
        while missing:
            if time.monotonic() > deadline:
                raise ControlPlaneError(
                    f"the API server is not {what} after {self.ready_timeout:.0f}s: {missing}"
                )
            time.sleep(0.2)
            missing = check()

    def _wait_until_serving(self) -> None:
        def bootstrap_roles() -> str:
            for name in BOOTSTRAP_CLUSTER_ROLES:
                status, role = self._get(f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}")
                if status != 200 or not (role or {}).get("rules"):
                    return f"ClusterRole {name} (HTTP {status})"
            return ""

        def flow_control() -> str:
            status, listed = self._get("/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas")
            if status != 200:
                return f"FlowSchemas (HTTP {status})"
            digested = {
                item["metadata"]["name"]
                for item in (listed or {}).get("items") or []
                if any(
                    c.get("type") == "Dangling" for c in (item.get("status") or {}).get("conditions") or []
                )
            }
            absent = [name for name in FLOW_SCHEMAS if name not in digested]
            return f"FlowSchemas not digested: {', '.join(absent)}" if absent else ""

        self._eventually(bootstrap_roles, "bootstrapped (RBAC)")
        self._eventually(flow_control, "bootstrapped (priority and fairness)")
        self.wait_for_watch_caches(WATCHED_KINDS)

    def wait_for_watch_caches(self, paths: Iterable[str]) -> None:
        """Until a list from the watch cache (``resourceVersion=0``) of each kind at ``paths`` (e.g.
        ``/apis/platform.kratix.io/v1alpha1/promises``) answers without 429: a kind's cache starts
        when the server does, or when its CRD is created."""
        pending = list(paths)

        def served() -> str:
            while pending:
                status, _ = self._get(f"{pending[0]}?resourceVersion=0&limit=1")
                if status != 200:
                    return f"{pending[0]} (HTTP {status})"
                pending.pop(0)
            return ""

        self._eventually(served, "serving from its watch caches")

    # --- clients --------------------------------------------------------------------------------

    def configuration(self) -> kubernetes.client.Configuration:
        """The official client's configuration for the admin user."""
        assert self.pki is not None, "the control plane is not started"
        configuration = kubernetes.client.Configuration()
        configuration.host = self.url
        configuration.ssl_ca_cert = str(self.pki.ca.cert)
        configuration.cert_file = str(self.pki.admin.cert)
        configuration.key_file = str(self.pki.admin.key)
        return configuration

    def api_client(self) -> kubernetes.client.ApiClient:
        """A fresh admin ApiClient (each caller gets its own pool)."""
        return kubernetes.client.ApiClient(self.configuration())

    def token_kubeconfig(
        self, path: Path, namespace: str, service_account: str, *, seconds: int = 86400
    ) -> Path:
        """A kubeconfig with a TokenRequest token of ``namespace/service_account`` (no admin rights)."""
        assert self.pki is not None, "the control plane is not started"
        with self.api_client() as client:
            core = kubernetes.client.CoreV1Api(client)
            request = kubernetes.client.AuthenticationV1TokenRequest(
                spec=kubernetes.client.V1TokenRequestSpec(audiences=[ISSUER], expiration_seconds=seconds)
            )
            answer = core.create_namespaced_service_account_token(service_account, namespace, request)
        token = str(answer.status.token) if answer.status is not None else ""
        document = kubeconfig_document(self.url, self.pki.ca.cert, {"token": token}, name=self.name)
        document["contexts"][0]["context"]["namespace"] = namespace
        return write_private(path, document)

    # --- the processes --------------------------------------------------------------------------

    def _spawn(self, name: str, args: list[str], directory: Path) -> _Process:
        log_path = directory / "logs" / f"{name}.log"
        with log_path.open("ab") as out:
            popen = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=directory
            )
        process = _Process(name, popen, log_path)
        self._processes.append(process)
        return process

    def _wait(self, process: _Process, probe: Any, what: str) -> None:
        deadline = time.monotonic() + self.ready_timeout
        last = ""
        while time.monotonic() < deadline:
            if process.popen.poll() is not None:
                raise ControlPlaneError(
                    f"{process.name} exited with {process.popen.returncode} before {what}:\n{process.tail()}"
                )
            try:
                if probe():
                    return
            except (OSError, urllib.error.URLError) as error:
                last = str(error)
            time.sleep(0.2)
        raise ControlPlaneError(
            f"{process.name} not {what} after {self.ready_timeout:.0f}s ({last}):\n{process.tail()}"
        )

    def _start_etcd(self, binary: Path, directory: Path) -> None:
        client, peer = free_port(), free_port()
        self.etcd_url = f"http://127.0.0.1:{client}"
        args = [
            str(binary),
            "--name=default",
            f"--data-dir={directory / 'etcd'}",
            f"--listen-client-urls={self.etcd_url}",
            f"--advertise-client-urls={self.etcd_url}",
            f"--listen-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-cluster=default=http://127.0.0.1:{peer}",
            # A throwaway test store: durability on power loss buys nothing and fsync is slow on
            # a shared disk.
            "--unsafe-no-fsync",
            "--log-level=warn",
        ]
        process = self._spawn("etcd", args, directory)

        def healthy() -> bool:
            with urllib.request.urlopen(f"{self.etcd_url}/health", timeout=2) as answer:
                return b'"true"' in answer.read()

        self._wait(process, healthy, "healthy")

    def _start_apiserver(self, binary: Path, directory: Path, pki: Pki) -> None:
        args = [
            str(binary),
            f"--etcd-servers={self.etcd_url}",
            f"--bind-address={self.host}",
            f"--advertise-address={self.host}",
            f"--secure-port={self.port}",
            f"--cert-dir={directory / 'apiserver-certs'}",
            f"--tls-cert-file={pki.serving.cert}",
            f"--tls-private-key-file={pki.serving.key}",
            f"--client-ca-file={pki.ca.cert}",
            f"--service-account-issuer={ISSUER}",
            f"--service-account-key-file={pki.service_account_pub}",
            f"--service-account-signing-key-file={pki.service_account_key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=Node,RBAC",
            "--allow-privileged=true",
            # The advertise address is loopback, which the ``kubernetes`` Endpoints may not hold;
            # pods reach the API through KUBERNETES_SERVICE_HOST set by the kubelet stand-in.
            "--endpoint-reconciler-type=none",
            # ``kubectl logs`` goes through the API server to the kubelet stand-in's log endpoint:
            # by the Node's InternalIP (its Hostname does not resolve), both sides showing
            # certificates of this run's CA.
            "--kubelet-preferred-address-types=InternalIP",
            f"--kubelet-certificate-authority={pki.ca.cert}",
            f"--kubelet-client-certificate={pki.kubelet_client.cert}",
            f"--kubelet-client-key={pki.kubelet_client.key}",
            "--profiling=false",
            "--v=1",
        ]
        process = self._spawn("kube-apiserver", args, directory)
        context = ssl.create_default_context(cafile=str(pki.ca.cert))
        context.load_cert_chain(str(pki.admin.cert), str(pki.admin.key))

        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=3, context=context) as answer:
                    return bool(answer.status == 200)
            except urllib.error.HTTPError:
                return False

        self._wait(process, ready, "ready")

    def _start_controller_manager(self, binary: Path, directory: Path, pki: Pki, kubeconfig: Path) -> None:
        args = [
            str(binary),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--controllers=*",
            f"--service-account-private-key-file={pki.service_account_key}",
            f"--root-ca-file={pki.ca.cert}",
            f"--cluster-signing-cert-file={pki.ca.cert}",
            f"--cluster-signing-key-file={pki.ca.key}",
            # Each controller acts as its own ServiceAccount, with the bootstrap ClusterRoles, as
            # on a kubeadm cluster.
            "--use-service-account-credentials=true",
            f"--cluster-name={self.name}",
            "--leader-elect=false",
            # No serving port: several control planes (and engineers) share this machine.
            "--secure-port=0",
            "--v=1",
        ]
        process = self._spawn("kube-controller-manager", args, directory)
        # Ready when the token controller has given ``default`` its ServiceAccount: every later pod
        # admission depends on it.
        configuration = self.configuration()

        def serviceaccount() -> bool:
            with kubernetes.client.ApiClient(configuration) as client:
                try:
                    kubernetes.client.CoreV1Api(client).read_namespaced_service_account("default", "default")
                    return True
                except kubernetes.client.ApiException:
                    return False

        self._wait(process, serviceaccount, "managing ServiceAccounts")
