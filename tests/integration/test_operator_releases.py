"""PromiseRelease end to end (modelled on Kratix's promise_release system test).

A real HTTP server on 127.0.0.1 serves Promise documents; the operator installs them, upgrades them
when the release's version changes, deletes them with the release, and says in the Installed
condition what went wrong with a URL that is unreachable, answers 404, needs credentials or does not
serve a Promise.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import yaml

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.operator import resources as r
from kratix_py.testing.fixtures import ADAPTER_IMAGE, wait_for
from tests.integration.test_operator_fast import condition, promise_body

TOKEN = "Bearer s3cr3t-token"


class PromiseServer:
    """Serves ``documents[path]``; paths under /private/ need the Authorization header TOKEN."""

    def __init__(self) -> None:
        self.documents: dict[str, str] = {}
        self.seen_authorization: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.seen_authorization.append(self.headers.get("Authorization"))
                if self.path.startswith("/private/") and self.headers.get("Authorization") != TOKEN:
                    self.send_response(401)
                    self.end_headers()
                    return
                body = server.documents.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/yaml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}{path}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def versioned_promise(version: str, size_default: str = "small") -> dict[str, Any]:
    body = promise_body()
    body["metadata"]["labels"] = {c.LABEL_PROMISE_VERSION: version, "team": "data"}
    schema = body["spec"]["api"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["properties"]["spec"]["properties"]["size"]["default"] = size_default
    return body


def release(url: str, version: str | None = "v1.0.0", **source: Any) -> dict[str, Any]:
    """What the marketplace's promise-release.yaml files look like."""
    spec: dict[str, Any] = {"sourceRef": {"type": "http", "url": url, **source}}
    if version is not None:
        spec["version"] = version
    return {
        "apiVersion": "platform.kratix.io/v1alpha1",
        "kind": "PromiseRelease",
        "metadata": {"name": "redis-release"},
        "spec": spec,
    }


@pytest.fixture
def served() -> Iterator[PromiseServer]:
    server = PromiseServer()
    yield server
    server.stop()


@pytest.fixture
def kube(platform_factory) -> Iterator[k.Kube]:
    platform = platform_factory(pods="fast")
    client = k.Kube(platform.api_client())
    with RunningOperator(settings_for(str(platform.kubeconfig), pipeline_adapter_image=ADAPTER_IMAGE)):
        yield client


def installed(kube: k.Kube, name: str = "redis-release") -> dict[str, Any]:
    return wait_for(
        lambda: (
            (obj := kube.get(r.PROMISE_RELEASES, name))
            and (condition(obj, "Installed") or {}).get("status") == "True"
            and obj.get("status", {}).get("observedGeneration") == obj["metadata"]["generation"]
            and obj
        ),
        what="the release to be Installed",
    )


def failed(kube: k.Kube, reason: str) -> dict[str, Any]:
    found = wait_for(
        lambda: (
            (obj := kube.get(r.PROMISE_RELEASES, "redis-release"))
            and (condition(obj, "Installed") or {}).get("reason") == reason
            and obj
        ),
        what=f"the Installed condition to say {reason}",
    )
    assert found["status"]["status"] == "Error installing"
    return condition(found, "Installed") or {}


@pytest.mark.both_servers
def test_a_marketplace_release_file_installs_upgrades_and_deletes_its_promise(kube, served):
    served.documents["/v1/promise.yaml"] = yaml.safe_dump(versioned_promise("v1.0.0"))
    served.documents["/v2/promise.yaml"] = yaml.safe_dump(versioned_promise("v2.0.0", size_default="large"))
    kube.create(r.PROMISE_RELEASES, release(served.url("/v1/promise.yaml")))
    obj = installed(kube)
    assert obj["status"]["status"] == "Installed"
    assert obj["metadata"]["finalizers"] == [c.FINALIZER_PROMISE_RELEASE_CLEANUP]
    promise = wait_for(
        lambda: (
            (p := kube.get(r.PROMISES, "redis")) and p.get("status", {}).get("status") == "Available" and p
        ),
        what="the released Promise to become Available",
    )
    labels = promise["metadata"]["labels"]
    assert labels[c.LABEL_PROMISE_RELEASE_NAME] == "redis-release" and labels["team"] == "data"
    assert labels[c.LABEL_PROMISE_VERSION] == "v1.0.0"
    (owner,) = promise["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == (
        "PromiseRelease",
        "redis-release",
        obj["metadata"]["uid"],
    )

    # Upgrade: a new version at a new URL replaces the Promise's spec.
    kube.patch(
        r.PROMISE_RELEASES,
        "redis-release",
        {"spec": {"version": "v2.0.0", "sourceRef": {"url": served.url("/v2/promise.yaml")}}},
    )
    installed(kube)
    upgraded = wait_for(
        lambda: (
            (p := kube.get(r.PROMISES, "redis"))
            and p["metadata"]["labels"][c.LABEL_PROMISE_VERSION] == "v2.0.0"
            and p
        ),
        what="the Promise to be upgraded",
    )
    schema = upgraded["spec"]["api"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert schema["properties"]["spec"]["properties"]["size"]["default"] == "large"

    # A released Promise deleted by hand comes back.
    gone_uid = kube.get(r.PROMISES, "redis")["metadata"]["uid"]
    kube.delete(r.PROMISES, "redis")
    # The Promise may be gone for only milliseconds before the release installs it again: the new
    # one is told apart by its uid, not by catching the moment it is absent.
    wait_for(
        lambda: (p := kube.get(r.PROMISES, "redis")) and p["metadata"]["uid"] != gone_uid,
        what="the release to install its Promise again",
    )

    kube.delete(r.PROMISE_RELEASES, "redis-release")
    wait_for(
        lambda: (
            kube.get(r.PROMISE_RELEASES, "redis-release") is None and kube.get(r.PROMISES, "redis") is None
        ),
        timeout=30,
        what="the release and its Promise to be deleted",
    )
    assert kube.get(k.CRDS, "redises.test.kratix.io") is None


def test_an_empty_version_is_taken_from_the_promise(kube, served):
    served.documents["/promise.yaml"] = yaml.safe_dump(versioned_promise("v1.2.3"))
    kube.create(r.PROMISE_RELEASES, release(served.url("/promise.yaml"), version=None))
    obj = installed(kube)
    assert obj["spec"]["version"] == "v1.2.3"


def test_bad_urls_and_documents_say_what_to_fix(kube, served):
    kube.create(r.PROMISE_RELEASES, release(served.url("/missing.yaml")))
    assert "answered HTTP 404: check spec.sourceRef.url" in failed(kube, "FailedToFetchPromise")["message"]

    served.documents["/configmap.yaml"] = yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    )
    kube.patch(
        r.PROMISE_RELEASES, "redis-release", {"spec": {"sourceRef": {"url": served.url("/configmap.yaml")}}}
    )
    wait_for(
        lambda: (
            "must serve exactly one platform.kratix.io/v1alpha1 Promise, found 1 document(s) (ConfigMap)"
            in (condition(kube.get(r.PROMISE_RELEASES, "redis-release"), "Installed") or {}).get(
                "message", ""
            )
        ),
        what="the not-a-Promise message",
    )

    unversioned = versioned_promise("v1.0.0")
    del unversioned["metadata"]["labels"][c.LABEL_PROMISE_VERSION]
    served.documents["/unversioned.yaml"] = yaml.safe_dump(unversioned)
    kube.patch(
        r.PROMISE_RELEASES, "redis-release", {"spec": {"sourceRef": {"url": served.url("/unversioned.yaml")}}}
    )
    failed(kube, "VersionLabelNotFound")

    served.documents["/v9.yaml"] = yaml.safe_dump(versioned_promise("v9.0.0"))
    kube.patch(r.PROMISE_RELEASES, "redis-release", {"spec": {"sourceRef": {"url": served.url("/v9.yaml")}}})
    message = failed(kube, "VersionNotMatching")["message"]
    assert "spec.version is v1.0.0 but the Promise" in message and "is version v9.0.0" in message

    # Unreachable: a port nothing listens on.
    kube.patch(
        r.PROMISE_RELEASES, "redis-release", {"spec": {"sourceRef": {"url": "http://127.0.0.1:1/p.yaml"}}}
    )
    wait_for(
        lambda: (
            "could not fetch http://127.0.0.1:1/p.yaml"
            in (condition(kube.get(r.PROMISE_RELEASES, "redis-release"), "Installed") or {}).get(
                "message", ""
            )
        ),
        what="the unreachable message",
    )
    assert kube.get(r.PROMISES, "redis") is None

    # Deleting a release that never installed anything is not blocked.
    kube.delete(r.PROMISE_RELEASES, "redis-release")
    wait_for(lambda: kube.get(r.PROMISE_RELEASES, "redis-release") is None, what="the release to go")


def test_a_secret_ref_sends_its_authorization_header(kube, served):
    served.documents["/private/promise.yaml"] = yaml.safe_dump(versioned_promise("v1.0.0"))
    body = release(
        served.url("/private/promise.yaml"), secretRef={"name": "promise-token", "namespace": "default"}
    )
    kube.create(r.PROMISE_RELEASES, body)
    assert "does not exist: create it" in failed(kube, "FailedToFetchPromise")["message"]
    kube.create(
        k.SECRETS,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "promise-token", "namespace": "default"},
            "data": {"authorizationHeader": base64.b64encode(TOKEN.encode()).decode()},
        },
    )
    # The release looks again on its own (a fixed Secret needs no edit of the release).
    installed(kube)
    assert TOKEN in served.seen_authorization
    obj = kube.get(r.PROMISE_RELEASES, "redis-release")
    assert TOKEN not in yaml.safe_dump(obj)  # the credential never lands in the status
