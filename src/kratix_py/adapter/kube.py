"""The few Kubernetes API calls the pipeline adapter makes, with errors a pipeline author can read.

Built on :mod:`kratix_py.kube` (the project's one client layer over the official ``kubernetes``
package). The adapter runs with the pipeline's ServiceAccount, so a 403 here almost always means
the Promise's RBAC, and the message says so.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

from kratix_py.adapter.context import StepContext
from kratix_py.adapter.params import ObjectRef
from kratix_py.contract import ENV_KUBECONFIG, GROUP, VERSION
from kratix_py.kube import Kube, KubeError, Resource, load_api_client

WORKS = Resource(GROUP, VERSION, "works", namespaced=True, kind="Work")
FIELD_MANAGER = "kratix-py-pipeline-adapter"


class AdapterError(Exception):
    """A step failed for a reason a person can fix; shown as one line in ``kubectl logs``."""


def connect(ctx: StepContext) -> Kube:
    """A client for the context's cluster: ``ctx.api_client`` if given, else ``$KUBECONFIG``, else in-cluster."""
    api_client = getattr(ctx, "api_client", None)
    if api_client is None:
        try:
            api_client = _client_for(ctx.env.get(ENV_KUBECONFIG) or None)
        except Exception as error:  # the kubernetes package raises several unrelated types here
            raise AdapterError(f"cannot configure a Kubernetes client: {error}") from None
    return Kube(api_client, field_manager=FIELD_MANAGER)


_CLIENTS: dict[tuple[str, float, int], Any] = {}
_CLIENTS_LOCK = threading.Lock()


def _client_for(kubeconfig: str | None) -> Any:
    """One client per kubeconfig file (as it is now) per process.

    A pipeline container runs one step and exits, so this changes nothing there; where the steps
    run in one process (the local platform's fast pods, ``kratix-py render``), reading and parsing
    the kubeconfig for every step would cost more than the step itself.
    """
    if not kubeconfig:
        return load_api_client(None)
    stat = os.stat(kubeconfig)
    key = (kubeconfig, stat.st_mtime, stat.st_size)
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            client = load_api_client(kubeconfig)
            client.rest_client.pool_manager.connection_pool_kw["maxsize"] = 16
            _CLIENTS.clear()  # a changed file replaces the client it was read into
            _CLIENTS[key] = client
        return client


def resource_for(ref: ObjectRef) -> Resource:
    return Resource(ref.group, ref.version, ref.plural, namespaced=ref.namespace is not None, kind=ref.kind)


def explain(error: KubeError, action: str) -> AdapterError:
    """Turn an API failure into a sentence: what we tried, what the server said, what to check."""
    hint = ""
    if error.status == 403:
        hint = " (the pipeline's ServiceAccount is not allowed to do this; check the Promise's RBAC)"
    elif error.status == 0:
        hint = " (is the API server reachable from the pipeline pod?)"
    elif error.too_large:
        hint = " (over the API server's size limit for one object: write less)"
    code = f"HTTP {error.status}: " if error.status else ""
    return AdapterError(f"could not {action}: {code}{error.message}{hint}")


class PipelineApi:
    """Object and Work access for the adapter steps."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    def get_object(self, ref: ObjectRef) -> dict[str, Any]:
        try:
            obj = self.kube.get(resource_for(ref), ref.name, ref.namespace)
        except KubeError as error:
            raise explain(error, f"read {ref.describe()}") from None
        if obj is None:
            raise AdapterError(f"{ref.describe()} does not exist (deleted while its pipeline was running?)")
        return obj

    def add_labels(self, ref: ObjectRef, labels: Mapping[str, str]) -> dict[str, Any]:
        """Merge-patch labels onto the object; returns the updated object (with its new resourceVersion)."""
        try:
            return self.kube.patch(
                resource_for(ref), ref.name, {"metadata": {"labels": dict(labels)}}, ref.namespace
            )
        except KubeError as error:
            raise explain(error, f"label {ref.describe()}") from None

    def replace_status(self, ref: ObjectRef, obj: Mapping[str, Any]) -> dict[str, Any]:
        """PUT the status subresource; the object's resourceVersion guards against lost updates.

        Raises :class:`KubeError` on a conflict so the caller can re-read and merge again.
        """
        try:
            return dict(
                self.kube.request(
                    "PUT", resource_for(ref).path(ref.namespace, ref.name, "status"), body=dict(obj)
                )
            )
        except KubeError as error:
            if error.conflict:
                raise
            raise explain(error, f"update the status of {ref.describe()}") from None

    def list_works(self, namespace: str, labels: Mapping[str, str]) -> list[dict[str, Any]]:
        try:
            return self.kube.list(WORKS, namespace, labels=labels)
        except KubeError as error:
            raise explain(error, f"list Works in namespace {namespace}") from None

    def create_work(self, work: Mapping[str, Any]) -> dict[str, Any]:
        """Create; raises :class:`KubeError` on AlreadyExists (retry as an update) or when too large."""
        try:
            return self.kube.create(WORKS, work)
        except KubeError as error:
            if error.conflict or error.too_large:  # the caller knows the Work's size and says it
                raise
            raise explain(error, f"create Work {work['metadata']['name']}") from None

    def replace_work(self, work: Mapping[str, Any]) -> dict[str, Any]:
        """Replace; raises :class:`KubeError` on a conflict (re-read and retry) or when too large."""
        try:
            return self.kube.replace(WORKS, work)
        except KubeError as error:
            if error.conflict or error.too_large:
                raise
            raise explain(error, f"update Work {work['metadata']['name']}") from None
