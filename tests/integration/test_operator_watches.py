"""The operator's watches as real Promises drive them: kinds of one group at several versions, kinds
that move between Promises, Promises deleted under an open watch, and an API that goes away."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from kratix_py import kube as k
from kratix_py.core import conditions as cond
from kratix_py.local_platform.kubeconfig import write_kubeconfig
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.operator import resources as r
from kratix_py.testing.fixtures import ADAPTER_IMAGE, wait_for
from kratix_py.testing.objects import open_crd

GROUP = "marketplace.kratix.io"


def promise(name: str, kind: str, plural: str, version: str, group: str = GROUP) -> dict[str, Any]:
    """A marketplace-style Promise: its own kind in a shared group, at its own version."""
    return {
        "apiVersion": "platform.kratix.io/v1alpha1",
        "kind": "Promise",
        "metadata": {"name": name},
        "spec": {
            "api": open_crd(group, kind, plural, version=version, spec_only=True),
            "workflows": {
                "resource": {
                    "configure": [
                        {
                            "apiVersion": "platform.kratix.io/v1alpha1",
                            "kind": "Pipeline",
                            "metadata": {"name": "instant"},
                            "spec": {"containers": [{"name": "main", "image": "test/instant:v1"}]},
                        }
                    ]
                }
            },
        },
    }


def instant(ctx: Any) -> int:
    obj = yaml.safe_load((ctx.path("/kratix/input") / "object.yaml").read_text())
    (ctx.path("/kratix/metadata") / "status.yaml").write_text(
        yaml.safe_dump({"seenBy": f"{obj['kind']}/{obj['apiVersion']}"})
    )
    return 0


def request(kind: str, version: str, name: str, group: str = GROUP) -> dict[str, Any]:
    return {
        "apiVersion": f"{group}/{version}",
        "kind": kind,
        "metadata": {"name": name, "namespace": "default"},
        "spec": {},
    }


def available(kube: k.Kube, name: str) -> dict[str, Any]:
    return wait_for(
        lambda: (p := kube.get(r.PROMISES, name)) and p.get("status", {}).get("status") == "Available" and p,
        what=f"Promise {name} to become Available",
    )


def workflow_done(kube: k.Kube, resource: k.Resource, name: str, timeout: float = 20) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        obj = kube.get(resource, name, "default")
        found = cond.find(((obj or {}).get("status") or {}).get("conditions"), "ConfigureWorkflowCompleted")
        return obj if found and found.get("status") == "True" else None

    return wait_for(check, timeout=timeout, what=f"{resource.kind} {name} to complete its workflow")


@pytest.fixture
def platform(platform_factory):
    return platform_factory(pods="fast", steps={"test/instant:v1": instant})


@pytest.fixture
def operator(platform) -> Iterator[RunningOperator]:
    settings = settings_for(str(platform.kubeconfig), pipeline_adapter_image=ADAPTER_IMAGE)
    with RunningOperator(settings) as running:
        yield running


def test_kinds_of_one_group_at_different_versions_are_all_served(platform, operator):
    """The marketplace case: most Promises at v1alpha1, one at v1, one at v1alpha2, one group.

    A category watch sees only each group's preferred version; the exact watches see all three."""
    kube = k.Kube(platform.api_client())
    kinds = [
        ("redis", "Redis", "redis", "v1alpha1"),
        ("app-as-a-service", "App", "apps", "v1"),
        ("postgresql", "Postgresql", "postgresqls", "v1alpha2"),
        ("kafka", "Kafka", "kafkas", "v1alpha1"),
    ]
    for name, kind, plural, version in kinds:
        kube.create(r.PROMISES, promise(name, kind, plural, version))
    for name, *_ in kinds:
        available(kube, name)
    for name, kind, plural, version in kinds:
        kube.create(k.Resource(GROUP, version, plural, True, kind), request(kind, version, f"{name}-one"))
    for name, kind, plural, version in kinds:
        obj = workflow_done(kube, k.Resource(GROUP, version, plural, True, kind), f"{name}-one")
        assert obj["status"]["seenBy"] == f"{kind}/{GROUP}/{version}"
        assert obj["metadata"]["labels"]["kratix.io/promise-name"] == name


def test_a_kind_moved_to_another_promise_is_served_by_the_new_one(platform, operator):
    kube = k.Kube(platform.api_client())
    widgets = k.Resource("tools.example.com", "v1", "widgets", True, "Widget")
    kube.create(r.PROMISES, promise("old-widgets", "Widget", "widgets", "v1", group="tools.example.com"))
    available(kube, "old-widgets")
    kube.create(widgets, request("Widget", "v1", "first", group="tools.example.com"))
    workflow_done(kube, widgets, "first")
    kube.delete(r.PROMISES, "old-widgets")
    wait_for(lambda: kube.get(r.PROMISES, "old-widgets") is None, timeout=30, what="the old Promise to go")

    kube.create(r.PROMISES, promise("new-widgets", "Widget", "widgets", "v1", group="tools.example.com"))
    available(kube, "new-widgets")
    kube.create(widgets, request("Widget", "v1", "second", group="tools.example.com"))
    obj = workflow_done(kube, widgets, "second")
    assert obj["metadata"]["labels"]["kratix.io/promise-name"] == "new-widgets"
    assert obj["status"].get("conditions"), "the new Promise's reconciler owns the kind"


def test_deleting_promises_under_open_watches_never_stops_the_operator(platform, operator, caplog):
    """20 times: a Promise with an API and a request, deleted while its requests are watched."""
    kube = k.Kube(platform.api_client())
    caplog.set_level(logging.INFO)
    for round_ in range(20):
        name = f"gone-{round_}"
        things = k.Resource("churn.example.com", "v1", f"things{round_}", True, f"Thing{round_}")
        kube.create(
            r.PROMISES, promise(name, f"Thing{round_}", f"things{round_}", "v1", group="churn.example.com")
        )
        available(kube, name)
        kube.create(things, request(f"Thing{round_}", "v1", "one", group="churn.example.com"))
        workflow_done(kube, things, "one")
        kube.delete(r.PROMISES, name)
        wait_for(lambda n=name: kube.get(r.PROMISES, n) is None, timeout=30, what=f"Promise {name} to go")
    assert operator._thread is not None and operator._thread.is_alive(), "the operator is still running"
    # And it still serves: a new Promise is installed as usual.
    kube.create(r.PROMISES, promise("after-churn", "After", "afters", "v1", group="churn.example.com"))
    available(kube, "after-churn")
    errors = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert not errors, "no ERROR during normal deletions: " + "; ".join(
        rec.getMessage() for rec in errors[:3]
    )
    tracebacks = [rec for rec in caplog.records if rec.exc_info and rec.name.startswith("kratix_py")]
    assert not tracebacks, "no traceback during normal deletions"


class Proxy:
    """A TCP proxy in front of the API that a test can cut off and restore (an outage)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = threading.Event()
        self.up.set()
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()  # the API is down: connections are refused at once
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass  # the other side went away: close both ends below
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.up.clear()
        with self._lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self._connections.clear()

    def restore(self) -> None:
        self.up.set()

    def close(self) -> None:
        self._closed = True
        self.cut()
        self.listener.close()


def test_an_api_outage_of_30_seconds_is_survived_and_caught_up(platform, tmp_path):
    kube = k.Kube(platform.api_client())
    proxy = Proxy(int(platform.url.rsplit(":", 1)[1]))
    kubeconfig = write_kubeconfig(tmp_path / "through-proxy", f"http://127.0.0.1:{proxy.port}")
    settings = settings_for(str(kubeconfig), pipeline_adapter_image=ADAPTER_IMAGE)
    try:
        with RunningOperator(settings) as running:
            kube.create(r.PROMISES, promise("outage", "Cache", "caches", "v1"))
            available(kube, "outage")
            caches = k.Resource(GROUP, "v1", "caches", True, "Cache")
            kube.create(caches, request("Cache", "v1", "before"))
            workflow_done(kube, caches, "before")

            proxy.cut()
            kube.create(caches, request("Cache", "v1", "during"))  # the test still reaches the API
            time.sleep(30)
            assert running._thread is not None and running._thread.is_alive(), "no exit during the outage"
            during = kube.get(caches, "during", "default") or {}
            assert not during.get("status"), "nothing could be done while the API was unreachable"
            proxy.restore()
            obj = workflow_done(kube, caches, "during", timeout=90)
            assert obj["status"]["seenBy"] == f"Cache/{GROUP}/v1", "caught up after the outage"
    finally:
        proxy.close()
