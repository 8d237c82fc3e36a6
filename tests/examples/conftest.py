"""The whole local platform for the example Promises: the real operator, a Git state store on the
test Git server, and one Destination, as the README demo sets them up."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.core import conditions as cond
from kratix_py.local_platform.gitserver import GitServer
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.operator import resources as r
from kratix_py.testing.fixtures import ADAPTER_IMAGE, wait_for

from .helpers import promise_body, request_resource

PASSWORD = "examples-Pa55word"
DESTINATION = "dev"
GROUP = c.DEFAULT_WORKLOAD_GROUP_ID[:5]  # "5058f": the directory of a pipeline's default output group
PIPELINE = "instance-configure"
_repos = itertools.count()


@pytest.fixture(scope="session")
def git_server() -> Iterator[GitServer]:
    with GitServer(username="kratix", password=PASSWORD, https=False, ssh=False) as server:
        yield server


def condition(obj: dict[str, Any] | None, condition_type: str) -> dict[str, Any]:
    return dict(cond.find(((obj or {}).get("status") or {}).get("conditions"), condition_type) or {})


@dataclass
class ExampleSystem:
    """A running platform with one Git-backed Destination, and ways to look at what landed."""

    kube: k.Kube
    git: GitServer
    repo: str

    def install(self, promise: str, timeout: float = 30) -> dict[str, Any]:
        self.kube.create(r.PROMISES, promise_body(promise))
        return wait_for(
            lambda: (
                (p := self.kube.get(r.PROMISES, promise))
                and (p.get("status") or {}).get("status") == "Available"
                and p
            ),
            timeout=timeout,
            what=f"Promise {promise} to become Available",
        )

    def configured(
        self, promise: str, name: str, namespace: str = "default", timeout: float = 30
    ) -> dict[str, Any]:
        """The request once its configure workflow succeeded (fails fast, with the message, if it failed)."""
        resource = request_resource(promise)

        def check() -> dict[str, Any] | None:
            obj = self.kube.get(resource, name, namespace)
            completed = condition(obj, "ConfigureWorkflowCompleted")
            if completed.get("reason") == "ConfigureWorkflowFailed":
                raise AssertionError(f"{promise} {name}: {completed.get('message')}")
            return obj if completed.get("status") == "True" else None

        return wait_for(check, timeout=timeout, what=f"{promise} {namespace}/{name} to be configured")

    def tree(self) -> dict[str, str]:
        return {path: data.decode() for path, data in self.git.read_tree(self.repo).items()}

    def landed(self, prefix: str, expected: set[str], timeout: float = 30) -> dict[str, Any]:
        """Wait until exactly ``expected`` (names under ``prefix``) are in Git; name -> parsed YAML."""

        def check() -> dict[str, Any] | None:
            files = {
                path[len(prefix) :]: text for path, text in self.tree().items() if path.startswith(prefix)
            }
            return files if set(files) == expected else None

        files = wait_for(
            check, timeout=timeout, interval=0.2, what=f"{sorted(expected)} under {prefix} in Git"
        )
        return {name: yaml.safe_load(text) for name, text in files.items()}

    def landed_documents(self, path: str, timeout: float = 30) -> list[Any]:
        text = wait_for(lambda: self.tree().get(path), timeout=timeout, interval=0.2, what=f"{path} in Git")
        return list(yaml.safe_load_all(text))


def resource_dir(promise: str, name: str, namespace: str = "default") -> str:
    """Where a request's output lands: kratix-behaviour.md §3.4, nestedByMetadata."""
    return f"{DESTINATION}/resources/{namespace}/{promise}/{name}/{PIPELINE}/{GROUP}/"


def dependencies_file(promise: str) -> str:
    return f"{DESTINATION}/dependencies/{promise}/{GROUP}/static/{promise}-dependencies.yaml"


@pytest.fixture
def example_system(
    platform_factory: Callable[..., Any], git_server: GitServer
) -> Iterator[Callable[..., ExampleSystem]]:
    """``example_system(pods=..., steps=...)``: platform, operator, GitStateStore and Destination."""
    with contextlib.ExitStack() as stack:

        def start(**platform_options: Any) -> ExampleSystem:
            platform = platform_factory(**platform_options)
            kube = k.Kube(platform.api_client())
            settings = settings_for(str(platform.kubeconfig), pipeline_adapter_image=ADAPTER_IMAGE)
            stack.enter_context(RunningOperator(settings))
            repo = f"examples-{next(_repos)}"
            git_server.create_repo(repo)
            kube.create(
                k.SECRETS,
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": "git-creds", "namespace": "default"},
                    "stringData": {"username": "kratix", "password": PASSWORD},
                },
            )
            kube.create(
                r.GIT_STATE_STORES,
                {
                    "apiVersion": c.API_VERSION,
                    "kind": "GitStateStore",
                    "metadata": {"name": "default"},
                    "spec": {
                        "url": git_server.http_url(repo),
                        "branch": "main",
                        "secretRef": {"name": "git-creds", "namespace": "default"},
                    },
                },
            )
            kube.create(
                r.DESTINATIONS,
                {
                    "apiVersion": c.API_VERSION,
                    "kind": "Destination",
                    "metadata": {"name": DESTINATION, "labels": {"environment": "dev"}},
                    "spec": {
                        "path": DESTINATION,
                        "stateStoreRef": {"kind": "GitStateStore", "name": "default"},
                    },
                },
            )
            wait_for(
                lambda: condition(kube.get(r.DESTINATIONS, DESTINATION), "Ready").get("status") == "True",
                what="the Destination to be Ready",
            )
            return ExampleSystem(kube=kube, git=git_server, repo=repo)

        yield start
