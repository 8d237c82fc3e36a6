"""The kubelet stand-in for a real control plane: one Node whose pods run as podman containers.

On the emulator :class:`~kratix_py.local_platform.podrunner.PodRunner` plays both the Job
controller and the kubelet. Against a real kube-apiserver the controller-manager's own Job
controller creates the pods, so :class:`NodeAgent` only does what a kubelet (and, since there is
no scheduler, the scheduler) does:

- registers the Node ``node_name`` and keeps it Ready: a Lease in ``kube-node-lease`` and the
  Ready condition renewed every few seconds, so the node controller never taints it or evicts;
- binds every pod that has no ``nodeName`` to its Node (``pods/binding``), and runs the pods bound
  to it with the runner's podman machinery, writing Pod status back;
- mounts what admission put into the pod: the projected ``kube-api-access-*`` volume gets a
  TokenRequest token bound to the pod, so a pipeline container has exactly its
  ServiceAccount's permissions; ``KUBERNETES_SERVICE_HOST``/``PORT`` point at the API server
  (containers share the host's network), which is what in-cluster configuration reads;
- removes a terminating pod for good (grace period 0) once its containers are killed, as a
  kubelet confirms a deletion;
- restarts a failed container (``restartPolicy: OnFailure``) after the kubelet's crash back-off,
  having reported its exit first, so the Job controller sees the restart when a kubelet's would.

- serves the kubelet's ``containerLogs`` endpoint (:mod:`~kratix_py.local_platform.kubelet_logs`)
  when given TLS files, so ``kubectl logs`` works: each container's output is written to
  ``<workdir>/logs`` as it runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import kubernetes

from kratix_py.local_platform.kubelet_logs import KubeletLogServer
from kratix_py.local_platform.podrunner import PodRunner, _JobRun
from kratix_py.local_platform.podrunner_api import ApiError, KubeApi
from kratix_py.local_platform.podrunner_spec import PreparedPod
from kratix_py.local_platform.podrunner_status import JobStatusTracker

log = logging.getLogger(__name__)

Json = dict[str, Any]

_MERGE_PATCH = "application/merge-patch+json"
HEARTBEAT_SECONDS = 10.0
LEASE_SECONDS = 40
_FINISHED = ("Succeeded", "Failed")
CRASH_BACKOFF_SECONDS = 10.0
"""The kubelet's first back-off before restarting a failed container, doubled per restart."""
MAX_CRASH_BACKOFF_SECONDS = 300.0


def _micro_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class NodeApi(KubeApi):
    """The runner's API calls plus a kubelet's: Node, Lease, binding, TokenRequest."""

    def delete_pod_now(self, namespace: str, name: str, uid: str) -> None:
        """What a kubelet does once a terminating pod's containers are gone: remove it for good."""
        body = {"gracePeriodSeconds": 0, "preconditions": {"uid": uid}}
        try:
            self._call("DELETE", f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(name)}", body=body)
        except ApiError as error:
            if error.status not in (404, 409):  # gone already, or a new pod of the same name
                raise

    def bind_pod(self, namespace: str, name: str, node: str) -> None:
        """Schedule a pod onto ``node`` (the ``pods/binding`` subresource a scheduler uses)."""
        body = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": namespace},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        self._call("POST", f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(name)}/binding", body=body)

    def register_node(self, body: Json) -> None:
        try:
            self._call("POST", "/api/v1/nodes", body=body)
        except ApiError as error:
            if error.status != 409:  # registered by an earlier run: its status is refreshed next
                raise

    def patch_node_status(self, name: str, status: Json) -> None:
        path = f"/api/v1/nodes/{quote(name)}/status"
        self._call("PATCH", path, body={"status": status}, content_type=_MERGE_PATCH)

    def delete_node(self, name: str) -> None:
        try:
            self._call("DELETE", f"/api/v1/nodes/{quote(name)}")
        except ApiError as error:
            if error.status != 404:
                raise

    def renew_lease(self, name: str, body: Json) -> None:
        """Create or update the Node's Lease in kube-node-lease: the heartbeat the node controller reads."""
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{quote(name)}"
        try:
            self._call("PATCH", path, body=body, content_type=_MERGE_PATCH)
        except ApiError as error:
            if error.status != 404:
                raise
            self._call("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", body=body)

    def request_token(self, namespace: str, service_account: str, spec: Json) -> str:
        """A TokenRequest token, as a kubelet gets one for a projected serviceAccountToken volume."""
        path = f"/api/v1/namespaces/{quote(namespace)}/serviceaccounts/{quote(service_account)}/token"
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
        result = self._call("POST", path, body=body)
        return str(result["status"]["token"])


def configuration_from(kubeconfig: Path) -> kubernetes.client.Configuration:
    configuration = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    return configuration


class NodeAgent(PodRunner):
    """Plays the kubelet of Node ``node_name`` for the API at ``api_url``: see the module docs.

    ``kubeconfig``: the credentials the agent itself uses (the containers get their pods' own
    ServiceAccount tokens instead). ``log_tls``: (serving certificate, its key, the CA whose client
    certificates may read logs) for the log endpoint; None serves no logs.
    """

    def __init__(
        self,
        api_url: str,
        kubeconfig: Path,
        *,
        node_name: str = "kratix-py-node",
        use_podman: bool = True,
        max_parallel: int = 4,
        workdir: Path | None = None,
        setup_timeout: float = 10.0,
        log_tls: tuple[Path, Path, Path] | None = None,
    ) -> None:
        # No kubeconfig for containers: they get their ServiceAccount's token, never these credentials.
        super().__init__(
            api_url,
            use_podman=use_podman,
            max_parallel=max_parallel,
            workdir=workdir,
            setup_timeout=setup_timeout,
        )
        self.node_name = node_name
        self._api.close()
        self._api = NodeApi(
            self.api_url, pool_size=max_parallel * 2 + 4, configuration=configuration_from(kubeconfig)
        )
        address = urlsplit(self.api_url)
        self._service_env = {
            "KUBERNETES_SERVICE_HOST": address.hostname or "127.0.0.1",
            "KUBERNETES_SERVICE_PORT": str(address.port or 443),
            "KUBERNETES_SERVICE_PORT_HTTPS": str(address.port or 443),
        }
        self._log_server: KubeletLogServer | None = None
        if log_tls is not None:
            cert, key, ca = log_tls
            self._log_server = KubeletLogServer(
                self.container_log, previous_lookup=self.previous_log, cert=cert, key=key, client_ca=ca
            )

    @property
    def node_api(self) -> NodeApi:
        assert isinstance(self._api, NodeApi)
        return self._api

    def start(self) -> NodeAgent:
        if self._started:
            return self
        if self._log_server is not None:
            self._log_server.start()  # its port goes into the Node's status
        self._register()
        super().start()
        self._spawn(self._heartbeat, "node-heartbeat")
        return self

    def stop(self) -> None:
        super().stop()
        if self._log_server is not None:
            self._log_server.stop()
            self._log_server = None

    # --- the Node -------------------------------------------------------------------------------

    def _register(self) -> None:
        labels = {
            "kubernetes.io/hostname": self.node_name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
        }
        self.node_api.register_node(
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.node_name, "labels": labels}}
        )
        self._beat()

    def _node_status(self) -> Json:
        now = _time()
        resources = {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "20Gi"}
        status: Json = {
            "capacity": resources,
            "allocatable": resources,
            "addresses": [
                {"type": "InternalIP", "address": self._service_env["KUBERNETES_SERVICE_HOST"]},
                {"type": "Hostname", "address": self.node_name},
            ],
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kratix-py's kubelet stand-in is posting ready status",
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                }
            ],
            "nodeInfo": {
                "kubeletVersion": "kratix-py",
                "containerRuntimeVersion": "podman",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        }
        if self._log_server is not None:
            status["daemonEndpoints"] = {"kubeletEndpoint": {"Port": self._log_server.port}}
        return status

    def _beat(self) -> None:
        self.node_api.renew_lease(
            self.node_name,
            {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.node_name, "namespace": "kube-node-lease"},
                "spec": {
                    "holderIdentity": self.node_name,
                    "leaseDurationSeconds": LEASE_SECONDS,
                    "renewTime": _micro_time(),
                },
            },
        )
        self.node_api.patch_node_status(self.node_name, self._node_status())

    def _heartbeat(self) -> None:
        while not self._stopping.wait(HEARTBEAT_SECONDS):
            try:
                self._beat()
            except Exception as error:  # the API restarting: the next beat tries again
                log.warning("node %s heartbeat failed: %s", self.node_name, error)

    # --- Pods -----------------------------------------------------------------------------------

    def _list_objects(self) -> tuple[list[Json], str]:
        return self._api.list_path("/api/v1/pods")

    def _watch_objects(self, resource_version: str) -> Iterator[Json]:
        return self._api.watch_path("/api/v1/pods", resource_version, timeout_seconds=300)

    def _on_event(self, kind: str, pod: Json) -> None:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        node = spec.get("nodeName")
        if node and node != self.node_name:
            return
        uid = str(meta.get("uid"))
        namespace = str(meta.get("namespace") or "default")
        name = str(meta.get("name"))
        if kind == "DELETED" or meta.get("deletionTimestamp"):
            with self._lock:
                run = self._runs.pop(uid, None)
                if kind == "DELETED":
                    self._done_uids.discard(uid)
            if run is not None and run.request_cancel("deleted"):
                self._kill_later(run)
            if kind != "DELETED" and node:
                threading.Thread(
                    target=self._finish_deletion, args=(run, namespace, name, uid), daemon=True
                ).start()
            return
        if not node:
            try:
                self.node_api.bind_pod(namespace, name, self.node_name)
            except ApiError as error:
                if error.status not in (404, 409):  # gone, or bound meanwhile
                    log.warning("cannot bind pod %s/%s: %s", namespace, name, error)
            return
        with self._lock:
            if uid in self._done_uids or uid in self._runs:
                return
            if (pod.get("status") or {}).get("phase") in _FINISHED:
                self._done_uids.add(uid)
                return
            run = _JobRun(pod, None)
            self._runs[uid] = run
            self._queue.put(run)

    def _finish_deletion(self, run: _JobRun | None, namespace: str, name: str, uid: str) -> None:
        if run is not None:
            run.done.wait(30)
        try:
            self.node_api.delete_pod_now(namespace, name, uid)
        except ApiError as error:
            log.warning("cannot remove terminated pod %s/%s: %s", namespace, name, error)

    def _run_job(self, run: _JobRun) -> None:
        """Run one pod to its end; the Job controller reads its status."""
        pod = run.job
        policy = str((pod.get("spec") or {}).get("restartPolicy") or "Always")
        self._run_pod(run, pod, JobStatusTracker(None), policy, 6)
        with self._lock:
            self._done_uids.add(run.uid)

    def _patch_job(self, namespace: str, name: str, tracker: JobStatusTracker) -> bool:
        return True  # the real Job controller owns Job status

    def crash_backoff(self, restarts: int) -> float:
        """The kubelet's CrashLoopBackOff: 10 s, doubled per restart, at most 5 minutes.

        It matters to the real Job controller, which counts a pod's restarts against the Job's
        ``backoffLimit``: for that long a failed container shows its exit code, and only then
        does the Job fail and its pod get deleted.
        """
        return min(CRASH_BACKOFF_SECONDS * 2**restarts, MAX_CRASH_BACKOFF_SECONDS)

    def _prepare_options(self) -> dict[str, Any]:
        return {"kubeconfig": None, "inject_service_account": False, "extra_env": self._service_env}

    def _log_file(self, namespace: str, pod: str, container: str) -> Path:
        return self.workdir / "logs" / f"{namespace}_{pod}_{container}.log"

    def _store_log(self, prepared: PreparedPod, container: str, text: str) -> None:
        path = self._log_file(prepared.namespace, prepared.name, container)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def _live_log(self, prepared: PreparedPod, container: str) -> Path | None:
        # The same file the log is kept in at the end: ``kubectl logs`` of a running pod (the
        # operator's own Deployment) shows its output so far.
        return self._log_file(prepared.namespace, prepared.name, container)

    def _keep_previous_log(self, prepared: PreparedPod, container: str) -> None:
        # As a kubelet: from the moment the restart shows in the pod's status (restartCount up),
        # ``kubectl logs --previous`` gives the failed run. Moving the file only when the new run
        # started left a moment in which the restart showed and the previous log was not there.
        path = self._log_file(prepared.namespace, prepared.name, container)
        if path.is_file():
            path.replace(path.with_name(path.name + ".previous"))

    def previous_log(self, namespace: str, pod: str, container: str) -> str | None:
        """The log of the container's run before its last restart, None when it has not restarted."""
        path = self._log_file(namespace, pod, container)
        previous = path.with_name(path.name + ".previous")
        return previous.read_text(errors="replace") if previous.is_file() else None

    def container_log(self, namespace: str, pod: str, container: str) -> str | None:
        """The log of the container's current (or last) run, None when it has not started."""
        path = self._log_file(namespace, pod, container)
        return path.read_text(errors="replace") if path.is_file() else None
