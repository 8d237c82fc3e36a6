"""The catalog's route end to end: operator, API emulator over HTTP and a real Git server.

The catalog Works go where any Work goes: scheduled to the Destination labelled
``environment: backstage``, written to Git in the Promise's and the request's folders, and
removed when their owner goes. The files read back from Git pass Backstage's own validators.

The last test leaves everything to the operator (kratix_py.operator.catalog): it writes the
catalog Works itself, keeps them current without empty commits and removes them with their owner.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.core import catalog
from kratix_py.core import conditions as cond
from kratix_py.local_platform.gitserver import GitServer
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.operator import resources as r
from kratix_py.testing.fixtures import wait_for

from .conftest import EXAMPLES, Check

pytestmark = pytest.mark.slow

PASSWORD = "catalog-Pa55word"
POSTGRESQLS = k.Resource("marketplace.kratix.io", "v1alpha1", "postgresqls", True, "PostgreSQL")
PROMISE_FOLDER = "backstage/dependencies/postgresql/5cfaf/backstage"
REQUEST_FOLDER = "backstage/resources/default/postgresql/team-a-db/5cfaf/backstage"
_repos = itertools.count()


@pytest.fixture(scope="module")
def git_server() -> Iterator[GitServer]:
    with GitServer(username="kratix", password=PASSWORD, https=False) as server:
        yield server


def promise_body() -> dict[str, Any]:
    """The PostgreSQL example without its pipelines and dependencies: no containers needed."""
    body = dict(yaml.safe_load((EXAMPLES / "postgresql" / "promise.yaml").read_text()))
    body["spec"].pop("workflows", None)
    body["spec"].pop("dependencies", None)
    return body


class Platform:
    def __init__(self, kube: k.Kube, server: GitServer, repo: str, operator: RunningOperator) -> None:
        self.kube, self.server, self.repo, self.operator = kube, server, repo, operator

    def tree(self) -> dict[str, str]:
        return {path: content.decode() for path, content in self.server.read_tree(self.repo).items()}

    def promise(self) -> dict[str, Any]:
        return dict(self.kube.get(r.PROMISES, "postgresql") or {})

    def request(self) -> dict[str, Any] | None:
        return self.kube.get(POSTGRESQLS, "team-a-db", "default")


@pytest.fixture
def platform(platform_factory: Callable[..., Any], git_server: GitServer) -> Iterator[Platform]:
    local = platform_factory()
    kube = k.Kube(local.api_client())
    repo = f"catalog-{next(_repos)}"
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
            "metadata": {"name": "git"},
            "spec": {
                "url": git_server.http_url(repo),
                "secretRef": {"name": "git-creds", "namespace": "default"},
            },
        },
    )
    kube.create(r.DESTINATIONS, catalog.backstage_destination("git"))
    kube.create(
        r.DESTINATIONS,
        {
            "apiVersion": c.API_VERSION,
            "kind": "Destination",
            "metadata": {"name": "dev", "labels": {"environment": "dev"}},
            "spec": {"path": "dev", "stateStoreRef": {"kind": "GitStateStore", "name": "git"}},
        },
    )
    with RunningOperator(settings_for(str(local.kubeconfig))) as operator:
        kube.create(r.PROMISES, promise_body())
        wait_for(
            lambda: (kube.get(r.PROMISES, "postgresql") or {}).get("status", {}).get("status") == "Available",
            what="the Promise to become Available",
        )
        kube.create(
            POSTGRESQLS,
            {
                "apiVersion": "marketplace.kratix.io/v1alpha1",
                "kind": "PostgreSQL",
                "metadata": {"name": "team-a-db", "namespace": "default"},
                "spec": {"teamName": "team-a"},
            },
        )
        wait_for(
            lambda: cond.is_true(
                ((kube.get(POSTGRESQLS, "team-a-db", "default") or {}).get("status") or {}).get("conditions"),
                "Reconciled",
            ),
            what="the request to be Reconciled",
        )
        yield Platform(kube, git_server, repo, operator)


def write_files(tree: dict[str, str], folder: Path) -> list[str]:
    paths = []
    for path, text in tree.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        paths.append(str(target))
    return paths


def test_catalog_works_land_in_git_pass_backstage_and_go_with_their_owner(
    platform: Platform, backstage_check: Check, tmp_path: Path
) -> None:
    kube = platform.kube
    promise_work = catalog.catalog_work_for_promise(platform.promise())
    kube.apply(r.WORKS, promise_work)
    request = platform.request()
    assert request is not None
    works = kube.list(r.WORKS, "default", labels={c.LABEL_RESOURCE_NAME: "team-a-db"})
    request_work = catalog.catalog_work_for_request(
        platform.promise(),
        request,
        works=works,
        destinations=kube.list(r.DESTINATIONS),
        state_stores=kube.list(r.GIT_STATE_STORES),
    )
    kube.apply(r.WORKS, request_work)

    def written() -> dict[str, str] | None:
        tree = {path: text for path, text in platform.tree().items() if path.startswith("backstage/")}
        return tree if len(tree) == 3 else None

    tree = wait_for(written, timeout=30, what="the catalog files in Git")
    assert sorted(tree) == [
        f"{PROMISE_FOLDER}/catalog-info.yaml",
        f"{PROMISE_FOLDER}/template.yaml",
        f"{REQUEST_FOLDER}/catalog-info.yaml",
    ], "only entity files under the Backstage Destination: no canaries, nothing unselected"
    assert not any("backstage" in path for path in platform.tree() if path.startswith("dev/"))
    [entity] = yaml.safe_load_all(tree[f"{REQUEST_FOLDER}/catalog-info.yaml"])
    assert entity["metadata"]["name"] == "default_postgresql_team-a-db"
    assert yaml.safe_load(entity["metadata"]["annotations"]["kratix.io/status"])["reconciled"] == "True"

    checked = backstage_check({"entityFiles": write_files(tree, tmp_path)})
    assert [e["kind"] for e in checked["entities"]] == ["Component", "API", "Template", "Component"]
    assert all(e["errors"] == [] for e in checked["entities"]), checked["entities"]

    kube.delete(POSTGRESQLS, "team-a-db", "default")
    wait_for(
        lambda: f"{REQUEST_FOLDER}/catalog-info.yaml" not in platform.tree(),
        timeout=30,
        what="the request's catalog file to go with the request",
    )
    assert f"{PROMISE_FOLDER}/template.yaml" in platform.tree()


def test_the_operator_writes_the_catalog_for_every_promise_and_request(platform: Platform) -> None:
    kube = platform.kube

    def request_entity() -> dict[str, Any] | None:
        text = platform.tree().get(f"{REQUEST_FOLDER}/catalog-info.yaml")
        return dict(yaml.safe_load(text)) if text else None

    def reconciled() -> dict[str, Any] | None:
        entity = request_entity()
        status = yaml.safe_load(
            ((entity or {}).get("metadata") or {}).get("annotations", {}).get("kratix.io/status", "{}")
        )
        return entity if status.get("reconciled") == "True" else None

    # The Reconciled request's file says so: the catalog Work followed the status.
    entity = wait_for(
        reconciled, timeout=15, what="the operator's catalog file to show the Reconciled request"
    )
    assert entity["spec"]["dependsOn"] == ["component:default/postgresql-promise"]
    assert f"{PROMISE_FOLDER}/template.yaml" in platform.tree()
    # Made with kubectl, not the Template: the operator labels it for Backstage's Kubernetes tab.
    kubernetes_id = entity["metadata"]["annotations"]["backstage.io/kubernetes-id"]
    assert (platform.request() or {})["metadata"]["labels"]["backstage.io/kubernetes-id"] == kubernetes_id
    work_name = catalog.catalog_work_name_for_request("postgresql", "default", "team-a-db")

    # Reconciling everything again changes nothing Backstage shows: no write, no commit.
    wait_for(lambda: platform.operator.operator.queue.idle(), what="the queue to settle")
    work = kube.get(r.WORKS, work_name, "default")
    assert work is not None and work["metadata"]["labels"][catalog.LABEL_CATALOG] == "request"
    commits = platform.server.commits(platform.repo)
    platform.operator.restart()
    wait_for(
        lambda: platform.operator.operator.queue.reconciles >= 2 and platform.operator.operator.queue.idle(),
        what="every object to be reconciled after the restart",
    )
    assert platform.server.commits(platform.repo) == commits, "a quiet reconcile made a commit"
    after = kube.get(r.WORKS, work_name, "default") or {}
    assert after["metadata"]["generation"] == work["metadata"]["generation"], "the catalog Work was rewritten"

    # The request's entity goes before the request does; the Promise's with the Promise.
    kube.delete(POSTGRESQLS, "team-a-db", "default")
    wait_for(lambda: platform.request() is None, timeout=30, what="the request to be deleted")
    assert f"{REQUEST_FOLDER}/catalog-info.yaml" not in platform.tree()
    assert f"{PROMISE_FOLDER}/template.yaml" in platform.tree()
    kube.delete(r.PROMISES, "postgresql")
    wait_for(lambda: not kube.get(r.PROMISES, "postgresql"), timeout=30, what="the Promise to be deleted")
    assert not [path for path in platform.tree() if path.startswith("backstage/")]
