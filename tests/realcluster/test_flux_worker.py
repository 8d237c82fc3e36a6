"""Real Flux on a worker cluster applies what the platform writes to the state store.

A second real control plane plays the worker: Flux's source-controller and kustomize-controller
(pinned builds) run against it as processes with Flux's CRDs, and ``charts/kratix-destination`` is
installed there with the real Helm CLI, pointing at the platform's state store. The platform side
is the fast path: the API emulator with the in-process operator and a pipeline step in Python
whose output is a ConfigMap. Through a GitStateStore (Flux's GitRepository, basic auth) and a
BucketStateStore (Flux's Bucket on the moto S3 server) the request's ConfigMap must become a real
object on the worker, follow an update of the request, and be pruned when the request is deleted.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from kratix_py import kube as k
from kratix_py.local_platform.controlplane import ControlPlane
from kratix_py.local_platform.defaults import GIT_BRANCH, GIT_REPO, GIT_USER
from kratix_py.local_platform.flux import NAMESPACE as FLUX_NAMESPACE
from kratix_py.local_platform.flux import Flux
from kratix_py.local_platform.gitserver import GitServer
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.local_platform.s3server import S3Server
from kratix_py.operator import resources as r
from kratix_py.testing.fixtures import ADAPTER_IMAGE, wait_for
from kratix_py.testing.fixtures_controlplane import run_helm

pytestmark = [pytest.mark.real_cluster, pytest.mark.slow, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "kratix-destination"
GROUP = "flux.test.kratix.io"
PLURAL = "greetings"
GREETINGS = k.Resource(GROUP, "v1alpha1", PLURAL, True, "Greeting")
STEP_IMAGE = "test/greeting-configmap:v1"
CONFIGMAP_PREFIX = "greeting-"
# Flux polls the source on this interval; a new revision is applied at once (kustomize-controller
# watches its sources), so the poll interval is what each assertion waits for at most.
POLL = "2s"
# Polls of 2s, a Git or S3 fetch, a build and an apply: well under a minute on a loaded machine.
FLUX_TIMEOUT = 120.0


@dataclass
class Worker:
    plane: ControlPlane
    kube: k.Kube
    flux: Flux
    helm: Path
    home: Path

    def install(self, release: str, *values: str) -> None:
        assert self.plane.kubeconfig is not None
        sets = [part for value in values for part in ("--set", value)]
        done = run_helm(
            self.helm, "install", release, str(CHART), *sets, home=self.home, kubeconfig=self.plane.kubeconfig
        )
        assert done.returncode == 0, done.stderr

    def diagnosis(self) -> str:
        """Flux's own view, for failure messages: the sources' and Kustomizations' conditions."""
        lines = []
        for plural in ("gitrepositories", "buckets", "kustomizations"):
            group = (
                "kustomize.toolkit.fluxcd.io" if plural == "kustomizations" else "source.toolkit.fluxcd.io"
            )
            resource = k.Resource(group, "v1", plural, True, plural)
            for obj in self.kube.list(resource, FLUX_NAMESPACE):
                conditions = (obj.get("status") or {}).get("conditions") or []
                summary = "; ".join(f"{c['type']}={c['status']}: {c.get('message', '')}" for c in conditions)
                lines.append(f"{plural}/{obj['metadata']['name']}: {summary}")
        for name in ("source-controller", "kustomize-controller"):
            lines.append(f"--- {name}\n{self.flux.logs(name, 15)}")
        return "\n".join(lines)


@pytest.fixture(scope="session")
def worker(
    control_plane_binaries: None,
    flux_binaries: dict[str, Path],
    helm_binary: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Worker]:
    """One worker cluster for the session: a real control plane (no pods needed) with Flux."""
    workdir = tmp_path_factory.mktemp("flux-worker")
    started = time.monotonic()
    plane = ControlPlane(workdir=workdir / "plane", name="worker", node_name="worker-node").start()
    try:
        kube = k.Kube(plane.api_client())
        assert plane.kubeconfig is not None
        with Flux(kube, plane.kubeconfig, workdir / "flux") as flux:
            print(f"\nworker with Flux up in {time.monotonic() - started:.1f}s", file=sys.stderr)
            home = workdir / "helm"
            home.mkdir()
            yield Worker(plane, kube, flux, helm_binary, home)
    finally:
        plane.stop()
        print(f"\nflux worker: {time.monotonic() - started:.1f}s from start to stop", file=sys.stderr)


# -- the platform ------------------------------------------------------------------------------------


def greeting_step(ctx: Any) -> int:
    """The Promise's pipeline: one ConfigMap per request, carrying the request's message."""
    request = yaml.safe_load((ctx.path("/kratix/input") / "object.yaml").read_text())
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CONFIGMAP_PREFIX + request["metadata"]["name"], "namespace": "default"},
        "data": {"message": request["spec"]["message"]},
    }
    (ctx.path("/kratix/output") / "configmap.yaml").write_text(yaml.safe_dump(configmap, sort_keys=True))
    return 0


def promise() -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": {
            "spec": {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]}
        },
    }
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {"kind": "Greeting", "plural": PLURAL, "singular": "greeting"},
            "scope": "Namespaced",
            "versions": [
                {"name": "v1alpha1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}
            ],
        },
    }
    pipeline = {
        "apiVersion": "platform.kratix.io/v1alpha1",
        "kind": "Pipeline",
        "metadata": {"name": "configmap"},
        "spec": {"containers": [{"name": "main", "image": STEP_IMAGE}]},
    }
    return {
        "apiVersion": "platform.kratix.io/v1alpha1",
        "kind": "Promise",
        "metadata": {"name": "greeting"},
        "spec": {"api": crd, "workflows": {"resource": {"configure": [pipeline]}}},
    }


def request(name: str, message: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "Greeting",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"message": message},
    }


@pytest.fixture
def platform(platform_factory: Callable[..., Any]) -> Iterator[k.Kube]:
    """The emulator platform with the in-process operator and the greeting Promise's step."""
    local = platform_factory(pods="fast", steps={STEP_IMAGE: greeting_step})
    kube = k.Kube(local.api_client())
    with RunningOperator(settings_for(str(local.kubeconfig), pipeline_adapter_image=ADAPTER_IMAGE)):
        yield kube


def store_objects(kind: str, spec: dict[str, Any], secret: dict[str, str], destination: str) -> list[Any]:
    """The credentials Secret, a state store ``default`` and one Destination in it, to apply in order."""
    resources = {"GitStateStore": r.GIT_STATE_STORES, "BucketStateStore": r.BUCKET_STATE_STORES}
    return [
        (k.SECRETS, {"apiVersion": "v1", "kind": "Secret",
                     "metadata": {"name": "store-credentials", "namespace": "default"}, "stringData": secret}),
        (resources[kind], {"apiVersion": "platform.kratix.io/v1alpha1", "kind": kind,
                           "metadata": {"name": "default"},
                           "spec": {**spec, "secretRef": {"name": "store-credentials", "namespace": "default"}}}),
        (r.DESTINATIONS, {"apiVersion": "platform.kratix.io/v1alpha1", "kind": "Destination",
                          "metadata": {"name": destination},
                          "spec": {"path": destination, "stateStoreRef": {"kind": kind, "name": "default"}}}),
    ]  # fmt: skip


def install_promise(kube: k.Kube) -> None:
    kube.create(r.PROMISES, promise())
    wait_for(
        lambda: ((kube.get(r.PROMISES, "greeting") or {}).get("status") or {}).get("status") == "Available",
        timeout=60,
        what="the greeting Promise to become Available",
    )


def on_worker(worker: Worker, name: str, check: Callable[[dict[str, Any] | None], bool], what: str) -> None:
    try:
        wait_for(
            lambda: check(worker.kube.get(k.CONFIGMAPS, CONFIGMAP_PREFIX + name, "default")),
            timeout=FLUX_TIMEOUT,
            interval=0.5,
            what=what,
        )
    except AssertionError as error:
        raise AssertionError(f"{error}\n{worker.diagnosis()}") from None


def message_is(expected: str) -> Callable[[dict[str, Any] | None], bool]:
    return lambda configmap: bool(configmap) and (configmap or {}).get("data", {}).get("message") == expected


def request_lifecycle(platform: k.Kube, worker: Worker, name: str, kustomization: str) -> None:
    """Create, update and delete one request; the worker's ConfigMap follows each step."""
    install_promise(platform)
    platform.create(GREETINGS, request(name, "hello"))
    on_worker(worker, name, message_is("hello"), f"the ConfigMap of {name} on the worker")
    configmap = worker.kube.get(k.CONFIGMAPS, CONFIGMAP_PREFIX + name, "default")
    assert configmap is not None
    # kustomize-controller applied it, through the chart's resources Kustomization of this store.
    labels = configmap["metadata"].get("labels") or {}
    assert labels.get("kustomize.toolkit.fluxcd.io/name") == kustomization, labels
    assert labels.get("kustomize.toolkit.fluxcd.io/namespace") == FLUX_NAMESPACE, labels

    platform.patch(GREETINGS, name, {"spec": {"message": "hello again"}}, "default")
    on_worker(worker, name, message_is("hello again"), f"the update of {name} to reach the worker")

    platform.delete(GREETINGS, name, "default")
    on_worker(worker, name, lambda configmap: configmap is None, f"the ConfigMap of {name} to be pruned")


# -- the tests ---------------------------------------------------------------------------------------


def test_a_request_through_a_git_state_store_becomes_a_real_object_on_the_worker(
    worker: Worker, platform: k.Kube
) -> None:
    password = uuid.uuid4().hex
    with GitServer(username=GIT_USER, password=password, https=False, ssh=False) as git:
        git.create_repo(GIT_REPO, branch=GIT_BRANCH)
        url = git.http_url(GIT_REPO)
        spec = {"url": url, "branch": GIT_BRANCH}
        for resource, body in store_objects(
            "GitStateStore", spec, {"username": GIT_USER, "password": password}, "worker-git"
        ):
            platform.apply(resource, body)
        worker.install(
            "kratix-git",
            "source.kind=git",
            "source.name=kratix-git",
            f"source.interval={POLL}",
            f"source.git.url={url}",
            f"source.git.branch={GIT_BRANCH}",
            "source.secret.name=kratix-git",
            "source.secret.create=true",
            f"source.secret.username={GIT_USER}",
            f"source.secret.password={password}",
            "destination.path=worker-git",
            "flux.dependencies.name=kratix-git-dependencies",
            "flux.resources.name=kratix-git-resources",
        )
        request_lifecycle(platform, worker, "git-greeting", "kratix-git-resources")


def test_a_request_through_a_bucket_state_store_becomes_a_real_object_on_the_worker(
    worker: Worker, platform: k.Kube
) -> None:
    with S3Server() as s3:
        s3.create_bucket("kratix")
        spec = {"endpoint": s3.endpoint, "insecure": True, "bucketName": "kratix", "authMethod": "accessKey"}
        for resource, body in store_objects("BucketStateStore", spec, s3.secret_data, "worker-bucket"):
            platform.apply(resource, body)
        access_key, secret_key = s3.secret_data["accessKeyID"], s3.secret_data["secretAccessKey"]
        worker.install(
            "kratix-bucket",
            "source.kind=bucket",
            "source.name=kratix-bucket",
            f"source.interval={POLL}",
            f"source.bucket.endpoint={s3.endpoint}",
            "source.bucket.bucketName=kratix",
            "source.bucket.insecure=true",
            "source.secret.name=kratix-bucket",
            "source.secret.create=true",
            f"source.secret.accessKey={access_key}",
            f"source.secret.secretKey={secret_key}",
            "destination.path=worker-bucket",
            "flux.dependencies.name=kratix-bucket-dependencies",
            "flux.resources.name=kratix-bucket-resources",
        )
        request_lifecycle(platform, worker, "bucket-greeting", "kratix-bucket-resources")
