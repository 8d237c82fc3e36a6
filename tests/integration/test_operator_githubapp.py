"""A GitStateStore with authMethod githubApp in the real operator: bad app credentials give a Ready
condition that names what to fix, good ones make the store Ready and a request's Work land in the
repository, and neither the app's private key nor a token ever reaches a status, an Event or the
log. Against the project's Git server (HTTPS) and its test GitHub App API."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.local_platform.githubapi import GitHubAppAPI
from kratix_py.local_platform.gitserver import GitServer
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.operator import resources as r
from kratix_py.testing.fixtures import wait_for
from tests.integration.test_operator_statestores import (
    condition,
    destination,
    group,
    placements,
    ready,
    secret,
    tree,
    work,
)


@pytest.fixture(scope="module")
def git_server() -> Iterator[GitServer]:
    with GitServer(ssh=False) as server:
        server.create_repo("state")
        yield server


@pytest.fixture
def github(git_server: GitServer) -> Iterator[GitHubAppAPI]:
    with GitHubAppAPI(git_server=git_server) as api:
        yield api


@pytest.fixture
def system(platform_factory: Callable[..., Any]) -> Iterator[k.Kube]:
    platform = platform_factory()
    with RunningOperator(settings_for(str(platform.kubeconfig))):
        yield k.Kube(platform.api_client())


def not_ready(kube: k.Kube, reason: str, text: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        found = condition(kube.get(r.GIT_STATE_STORES, "github"), "Ready")
        return found if found.get("reason") == reason and text in found.get("message", "") else None

    return wait_for(check, timeout=20, what=f"the store to say {reason}: {text}")


def test_a_github_app_store_names_bad_credentials_then_writes_without_leaking_them(
    system: k.Kube, git_server: GitServer, github: GitHubAppAPI, caplog: pytest.LogCaptureFixture
) -> None:
    kube = system
    caplog.set_level(logging.DEBUG)
    good = {**github.secret_data(), "ca.crt": git_server.ca_cert_pem + github.ca_cert_pem}
    secret(kube, "app", {**good, "privateKey": "-----BEGIN RSA PRIVATE KEY-----\nnot base64\n"})
    spec = {
        "url": git_server.https_url("state"),
        "authMethod": "githubApp",
        "secretRef": {"name": "app", "namespace": "default"},
    }
    kube.create(
        r.GIT_STATE_STORES,
        {"apiVersion": c.API_VERSION, "kind": "GitStateStore", "metadata": {"name": "github"}, "spec": spec},
    )
    destination(kube, "dev", store="github", path=".")
    work(kube, "db-my-db-configure", group({"db.yaml": "kind: DB\n"}), resource="my-db")
    not_ready(kube, "ErrorInitialisingWriter", "privateKey is not a PEM RSA private key")

    def put(data: dict[str, str]) -> None:
        encoded = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}
        kube.patch(k.SECRETS, "app", {"data": encoded}, "default")

    put({**good, "installationID": "1"})  # a Secret change builds a new writer
    not_ready(kube, "ErrorInitialisingWriter", "HTTP 404")
    assert set(github.refusals) == {"unknown installation 1"}, "the JWT itself was accepted"

    put(good)
    ready(kube, r.GIT_STATE_STORES, "github")
    ready(kube, r.WORKS, "db-my-db-configure", "default", message="Ready")
    files = tree(git_server, "state")
    assert files["resources/default/db/my-db/configure/5058f/db.yaml"] == "kind: DB\n"
    assert github.tokens, "the writes were made with installation tokens"

    everything = json.dumps(
        [
            kube.get(r.GIT_STATE_STORES, "github"),
            kube.get(r.DESTINATIONS, "dev"),
            *placements(kube, "db-my-db-configure"),
            *kube.list(k.EVENTS),
        ]
    )
    failures = [e["message"] for e in kube.list(k.EVENTS) if e["reason"] == "ErrorInitialisingWriter"]
    assert any("privateKey" in message for message in failures), "the leak check reads the failures too"
    key_lines = [line for line in github.private_key_pem.splitlines() if "-----" not in line]
    for leaked in [*github.tokens, *github.seen_jwts, *key_lines]:
        assert leaked not in everything
        assert leaked not in caplog.text
    logged = [record.getMessage() for record in caplog.records if record.name.startswith("kratix_py")]
    assert any("GitStateStore github is not ready: ErrorInitialisingWriter" in line for line in logged)
    assert any("HTTP 404" in line and "installationID" in line for line in logged)
