"""``kratix-py trace`` end to end, and compound Promises (modelled on Kratix's compound_promise test).

The operator runs on the local platform with a real Git server; pipelines are fast-mode steps.
A compound Promise (App) outputs a request of another Promise (Cache) scheduled to the platform's
own Destination; a small GitOps applier plays Flux on the platform and applies what lands in that
Destination's directory, as Kratix's system test does with a real Flux. The worker is a second API
emulator holding Flux Kustomizations, as Flux on a worker would.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from kratix_py import cli
from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.local_platform.gitserver import GitServer
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.operator import resources as r
from kratix_py.testing.fixtures import ADAPTER_IMAGE, wait_for
from kratix_py.testing.objects import open_crd
from kratix_py.trace_cmd import EXIT_NOT_READY, FLUX_KUSTOMIZATIONS

from .test_operator_statestores import condition, destination, git_store, is_commit, tree
from .test_operator_statestores import git_server as git_server
from .test_operator_statestores import repo as repo

GROUP = "trace.kratix.io"
CACHES = k.Resource(GROUP, "v1alpha1", "caches", True, "Cache")
APPS = k.Resource(GROUP, "v1alpha1", "apps", True, "App")
API_KEY = "sk-trace-9f8e7d6c5b4a"


def promise(
    kind: str, plural: str, image: str, selector: dict[str, str], env: list[Any] | None = None
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "image": image}
    if env:
        container["env"] = env
    return {
        "apiVersion": c.API_VERSION,
        "kind": "Promise",
        "metadata": {"name": kind.lower()},
        "spec": {
            "destinationSelectors": [{"matchLabels": selector}],
            "api": open_crd(GROUP, kind, plural, version="v1alpha1", spec_only=True),
            "workflows": {
                "resource": {
                    "configure": [
                        {
                            "apiVersion": c.API_VERSION,
                            "kind": "Pipeline",
                            "metadata": {"name": "instance"},
                            "spec": {"containers": [container]},
                        }
                    ]
                }
            },
        },
    }


def _input(ctx: Any) -> dict[str, Any]:
    return dict(yaml.safe_load((ctx.path("/kratix/input") / "object.yaml").read_text()))


def make_cache(ctx: Any) -> int:
    request = _input(ctx)
    if request["spec"].get("broken"):
        ctx.log("connecting to the cache service")
        ctx.log(f"api key {ctx.env.get('API_KEY', '')} was refused: quota exceeded")
        return 3
    (ctx.path("/kratix/output") / "cache.yaml").write_text(
        yaml.safe_dump(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": request["metadata"]["name"]}}
        )
    )
    return 0


def make_app(ctx: Any) -> int:
    """The compound pipeline: the App's database is a request of the Cache Promise."""
    request = _input(ctx)
    meta = request["metadata"]
    sub_request = {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "Cache",
        "metadata": {
            "name": f"{meta['name']}-cache",
            "namespace": meta["namespace"],
            "labels": {
                c.LABEL_COMPONENT_OF_PROMISE_NAME: "app",
                c.LABEL_COMPONENT_OF_RESOURCE_NAME: meta["name"],
                c.LABEL_COMPONENT_OF_RESOURCE_NAMESPACE: meta["namespace"],
            },
        },
        "spec": {"size": request["spec"].get("size", "small")},
    }
    (ctx.path("/kratix/output") / "cache-request.yaml").write_text(yaml.safe_dump(sub_request))
    return 0


class PlatformApplier:
    """Plays Flux on the platform: applies the requests written under the platform Destination."""

    def __init__(self, kube: k.Kube, server: GitServer, repo: str, prefix: str) -> None:
        self.kube, self.server, self.repo, self.prefix = kube, server, repo, prefix
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> PlatformApplier:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            for path, content in sorted(self.server.read_tree(self.repo).items()):
                if not path.startswith(self.prefix) or not path.endswith(".yaml"):
                    continue
                document = yaml.safe_load(content)
                if isinstance(document, dict) and document.get("kind") == "Cache":
                    self.kube.apply(CACHES, document)


@pytest.fixture
def platform(platform_factory: Callable[..., Any]) -> Iterator[tuple[Any, k.Kube]]:
    steps = {"test/cache:v1": make_cache, "test/app:v1": make_app}
    running = platform_factory(pods="fast", steps=steps)
    kube = k.Kube(running.api_client())
    kube.create(
        k.SECRETS,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "cache-api", "namespace": "default"},
            "data": {"key": base64.b64encode(API_KEY.encode()).decode()},
        },
    )
    settings = settings_for(str(running.kubeconfig), pipeline_adapter_image=ADAPTER_IMAGE)
    with RunningOperator(settings):
        yield running, kube


@pytest.fixture
def worker(platform_factory: Callable[..., Any]) -> tuple[Any, k.Kube]:
    """A worker cluster with Flux's Kustomization kind and the two Kustomizations Kratix's chart makes."""
    running = platform_factory()
    kube = k.Kube(running.api_client())
    kube.apply(
        k.CRDS,
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "kustomizations.kustomize.toolkit.fluxcd.io"},
            "spec": {
                "group": "kustomize.toolkit.fluxcd.io",
                "names": {"kind": "Kustomization", "plural": "kustomizations", "singular": "kustomization"},
                "scope": "Namespaced",
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "subresources": {"status": {}},
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            }
                        },
                    }
                ],
            },
        },
    )
    wait_for(lambda: kube.list(FLUX_KUSTOMIZATIONS, "flux-system") == [], what="the Kustomization kind")
    kube.apply(k.NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system"}})
    for suffix in ("dependencies", "resources"):
        kube.create(
            FLUX_KUSTOMIZATIONS,
            {
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": f"kratix-workload-{suffix}", "namespace": "flux-system"},
                "spec": {"path": f"./dev/{suffix}", "sourceRef": {"kind": "GitRepository", "name": "kratix"}},
            },
        )
        flux_ready(kube, f"kratix-workload-{suffix}", True)
    return running, kube


def flux_ready(kube: k.Kube, name: str, ready: bool) -> None:
    condition_ = {
        "type": "Ready",
        "status": "True" if ready else "False",
        "reason": "ReconciliationSucceeded" if ready else "BuildFailed",
        "message": "Applied revision: main@sha1:abc" if ready else "kustomize build failed: missing resource",
    }
    kube.patch_status(FLUX_KUSTOMIZATIONS, name, {"conditions": [condition_]}, "flux-system")


def trace(capsys: pytest.CaptureFixture[str], platform: Any, *args: str) -> tuple[int, str]:
    code = cli.main(["trace", *args, "--kubeconfig", str(platform.kubeconfig)])
    return code, capsys.readouterr().out


def reconciled(kube: k.Kube, resource: k.Resource, name: str) -> dict[str, Any]:
    return wait_for(
        lambda: (
            (o := kube.get(resource, name, "default"))
            and condition(o, "Reconciled").get("status") == "True"
            and o
        ),
        timeout=30,
        what=f"{resource.kind} {name} Reconciled",
    )


def nodes(tree_: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield tree_
    for child in tree_["children"]:
        yield from nodes(child)


def one(tree_: dict[str, Any], kind: str) -> dict[str, Any]:
    found = [node for node in nodes(tree_) if node["kind"] == kind]
    assert len(found) == 1, f"one {kind} expected in {json.dumps(tree_, indent=1)}"
    return found[0]


def install(kube: k.Kube, body: dict[str, Any]) -> None:
    kube.create(r.PROMISES, body)
    wait_for(
        lambda: (
            (kube.get(r.PROMISES, body["metadata"]["name"]) or {}).get("status", {}).get("status")
            == "Available"
        ),
        what=f"Promise {body['metadata']['name']}",
    )


def cache_request(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "Cache",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"size": "small", **spec},
    }


def test_trace_follows_a_request_to_its_commit_and_the_flux_kustomization_and_gates_on_it(
    platform, worker, git_server, repo, capsys
):
    running, kube = platform
    git_store(kube, git_server, repo)
    destination(kube, "dev", {"env": "dev"})
    body = promise("Cache", "caches", "test/cache:v1", {"env": "dev"})
    body["spec"]["dependencies"] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cache-system"}},
    ]
    install(kube, body)
    kube.create(CACHES, cache_request("my-cache"))
    reconciled(kube, CACHES, "my-cache")

    code, out = trace(
        capsys,
        running,
        "cache/my-cache",
        "-n",
        "default",
        "-o",
        "json",
        "--worker-kubeconfig",
        str(worker[0].kubeconfig),
    )
    assert code == 0, out
    root = json.loads(out)
    assert (root["kind"], root["name"], root["namespace"], root["ready"]) == (
        "Cache",
        "my-cache",
        "default",
        True,
    )
    job = one(root, "Job")
    assert job["details"]["pipeline"] == "instance" and job["details"]["phase"] == "Succeeded"
    assert job["details"]["attempts"] == "1"
    assert one(root, "Work")["ready"] is True
    placement = one(root, "WorkPlacement")
    assert placement["ready"] is True
    assert placement["details"]["path"] == "dev/resources/default/cache/my-cache/instance/5058f"
    assert is_commit(git_server, repo, placement["details"]["versionID"]), "versionID is the commit"
    assert "dev/resources/default/cache/my-cache/instance/5058f/cache.yaml" in tree(git_server, repo)
    assert one(root, "Destination")["name"] == "dev"
    store = one(root, "GitStateStore")
    assert store["ready"] is True and store["details"]["url"] == git_server.http_url(repo)
    flux = one(root, "Kustomization")
    assert (flux["name"], flux["ready"], flux["details"]["path"]) == (
        "kratix-workload-resources",
        True,
        "dev/resources",
    )

    code, text = trace(
        capsys, running, "caches/my-cache", "-o", "wide", "--worker-kubeconfig", str(worker[0].kubeconfig)
    )
    assert code == 0
    assert "└── Kustomization/flux-system/kratix-workload-resources" in text
    assert f"versionID={placement['details']['versionID']}" in text

    # Flux on the worker fails to apply: the whole path is not Ready, and the exit code says so.
    flux_ready(worker[1], "kratix-workload-resources", False)
    code, text = trace(capsys, running, "cache/my-cache", "--worker-kubeconfig", str(worker[0].kubeconfig))
    assert code == EXIT_NOT_READY
    assert "False  BuildFailed: kustomize build failed: missing resource" in text

    # Without a worker, only the platform side is judged.
    code, _ = trace(capsys, running, "cache/my-cache")
    assert code == 0

    # The Promise's own tree: its dependencies Work, not its requests' Works.
    code, out = trace(capsys, running, "promise/cache", "-o", "json")
    assert code == 0, out
    root = json.loads(out)
    assert (root["kind"], root["name"], root["ready"], root["status"]) == (
        "Promise",
        "cache",
        True,
        "Available",
    )
    dependencies = one(root, "Work")
    assert dependencies["details"]["type"] == "static-dependency"
    assert one(root, "WorkPlacement")["details"]["path"].startswith("dev/dependencies/cache/")


def test_a_failed_pipeline_shows_its_container_log_with_secrets_masked(platform, git_server, repo, capsys):
    running, kube = platform
    git_store(kube, git_server, repo)
    destination(kube, "dev", {"env": "dev"})
    env = [{"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "cache-api", "key": "key"}}}]
    install(kube, promise("Cache", "caches", "test/cache:v1", {"env": "dev"}, env))
    kube.create(CACHES, cache_request("bad-cache", broken=True))
    wait_for(
        lambda: (
            condition(kube.get(CACHES, "bad-cache", "default"), "ConfigureWorkflowCompleted").get("reason")
            == "ConfigureWorkflowFailed"
        ),
        what="the pipeline to fail",
    )
    code, out = trace(capsys, running, "cache/bad-cache", "-o", "json")
    assert code == EXIT_NOT_READY
    root = json.loads(out)
    assert root["ready"] is False
    job = one(root, "Job")
    assert (
        job["ready"] is False
        and job["details"]["phase"] == "Failed"
        and job["details"]["container"] == "main"
    )
    assert job["log"][-1] == "api key *** was refused: quota exceeded"
    assert API_KEY not in out
    code, text = trace(capsys, running, "cache/bad-cache")
    assert code == EXIT_NOT_READY and "| api key *** was refused" in text and API_KEY not in text

    code, _ = trace(capsys, running, "cache/no-such-cache")
    assert code == 1
    code, _ = trace(capsys, running, "nosuchkind/x")
    assert code == 1


def status_of(kube: k.Kube, name: str) -> str:
    return str(((kube.get(r.PROMISES, name) or {}).get("status") or {}).get("status") or "")


def test_a_compound_promise_creates_sub_requests_and_trace_lists_them(platform, git_server, repo, capsys):
    """Kratix's compound_promise system test, with a real sub-request and trace on top."""
    running, kube = platform
    git_store(kube, git_server, repo)
    destination(kube, "dev", {"env": "dev"})
    # The platform itself as a Destination, as in Kratix's compound Promise setup.
    destination(kube, "platform", {"environment": "platform"})
    app = promise("App", "apps", "test/app:v1", {"environment": "platform"})
    app["spec"]["requiredPromises"] = [{"name": "cache", "version": "v1.0.0"}]
    kube.create(r.PROMISES, app)
    wait_for(lambda: status_of(kube, "app") == "Unavailable", what="the App to wait for its requirement")

    with PlatformApplier(kube, git_server, repo, "platform/resources/"):
        kube.create(
            APPS,
            {
                "apiVersion": f"{GROUP}/v1alpha1",
                "kind": "App",
                "metadata": {"name": "shop", "namespace": "default"},
                "spec": {"size": "large"},
            },
        )
        wait_for(
            lambda: condition(kube.get(APPS, "shop", "default"), "PromiseAvailable").get("status") == "False",
            what="the request to be pending",
        )
        code, _ = trace(capsys, running, "app/shop")
        assert code == EXIT_NOT_READY, "a pending request is not Ready"

        cache = promise("Cache", "caches", "test/cache:v1", {"env": "dev"})
        cache["metadata"]["labels"] = {c.LABEL_PROMISE_VERSION: "v1.0.0"}
        kube.create(r.PROMISES, cache)
        wait_for(
            lambda: status_of(kube, "app") == "Available", what="the App once its requirement is installed"
        )
        reconciled(kube, APPS, "shop")
        sub = reconciled(kube, CACHES, "shop-cache")
    assert sub["spec"]["size"] == "large"
    files = tree(git_server, repo)
    assert "dev/resources/default/cache/shop-cache/instance/5058f/cache.yaml" in files
    assert not any(path.startswith("dev/resources/default/app/") for path in files), (
        "the App goes to the platform"
    )

    code, out = trace(capsys, running, "app/shop", "-o", "json")
    assert code == 0, out
    root = json.loads(out)
    children = [node for node in root["children"] if node["kind"] == "Cache"]
    assert [(node["name"], node["ready"]) for node in children] == [("shop-cache", True)]
    assert one(children[0], "WorkPlacement")["details"]["path"].startswith(
        "dev/resources/default/cache/shop-cache/"
    )
    own = {**root, "children": [n for n in root["children"] if n["kind"] != "Cache"]}
    assert (
        one(own, "WorkPlacement")["details"]["path"] == "platform/resources/default/app/shop/instance/5058f"
    )
    code, text = trace(capsys, running, "promise/app")
    assert code == 0 and text.startswith("NAME") and "Promise/app" in text

    # A sub-request whose pipeline fails makes its parent's trace fail the gate, with the log.
    kube.patch(CACHES, "shop-cache", {"spec": {"broken": True}}, "default")
    wait_for(
        lambda: (
            condition(kube.get(CACHES, "shop-cache", "default"), "ConfigureWorkflowCompleted").get("reason")
            == "ConfigureWorkflowFailed"
        ),
        what="the sub-request's pipeline to fail",
    )
    code, text = trace(capsys, running, "app/shop")
    assert code == EXIT_NOT_READY and "Cache/default/shop-cache" in text and "quota exceeded" in text


def test_deleting_a_required_promise_makes_the_compound_unavailable_and_deleting_the_compound_keeps_it(
    platform,
):
    _, kube = platform
    cache = promise("Cache", "caches", "test/cache:v1", {"env": "dev"})
    cache["metadata"]["labels"] = {c.LABEL_PROMISE_VERSION: "v1.0.0"}
    install(kube, cache)
    app = promise("App", "apps", "test/app:v1", {"environment": "platform"})
    app["spec"]["requiredPromises"] = [{"name": "cache", "version": "v1.0.0"}]
    install(kube, app)

    kube.delete(r.PROMISES, "cache")
    wait_for(lambda: kube.get(r.PROMISES, "cache") is None, what="the Cache Promise to go")
    wait_for(lambda: status_of(kube, "app") == "Unavailable", what="the App to become Unavailable")

    install(kube, cache)
    wait_for(lambda: status_of(kube, "app") == "Available", what="the App to be Available again")
    kube.delete(r.PROMISES, "app")
    wait_for(lambda: kube.get(r.PROMISES, "app") is None, what="the App Promise to go")
    assert status_of(kube, "cache") == "Available", "the sub-Promise stays"
