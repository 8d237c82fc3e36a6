"""Watches: from a resourceVersion, nothing lost after a list, 410 when too old, timeouts, selectors."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import kubernetes
import pytest
from kubernetes import watch
from kubernetes.client import ApiException

from kratix_py.local_platform.emulator import Emulator

from .conftest import Kube


def _collect(
    kube: Kube, resource_version: str | None, until: int, timeout: int = 2, **kwargs: Any
) -> list[tuple[str, str]]:
    events: list[tuple[str, str]] = []
    w = watch.Watch()
    extra = {"resource_version": resource_version} if resource_version is not None else {}
    for event in w.stream(
        kube.core.list_namespaced_config_map, kube.namespace, timeout_seconds=timeout, **extra, **kwargs
    ):
        events.append((event["type"], event["object"].metadata.name))
        if len(events) >= until:
            w.stop()
    return events


def test_watch_from_the_list_resource_version_loses_nothing(kube: Kube) -> None:
    kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": "before"}})
    listed = kube.core.list_namespaced_config_map(kube.namespace)
    # Changes between the list and the start of the watch must still be delivered.
    kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": "between"}})
    kube.core.patch_namespaced_config_map("before", kube.namespace, {"data": {"a": "1"}})
    kube.core.delete_namespaced_config_map("between", kube.namespace)
    events = _collect(kube, listed.metadata.resource_version, until=3)
    assert events == [("ADDED", "between"), ("MODIFIED", "before"), ("DELETED", "between")]


def test_watch_without_a_resource_version_starts_with_the_current_objects(kube: Kube) -> None:
    for name in ("a", "b"):
        kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": name}})
    assert sorted(_collect(kube, None, until=2)) == [("ADDED", "a"), ("ADDED", "b")]


def test_watch_streams_live_events_and_resource_versions_increase(kube: Kube) -> None:
    listed = kube.core.list_namespaced_config_map(kube.namespace)
    stream = kube.core.list_namespaced_config_map(
        kube.namespace,
        watch=True,
        resource_version=listed.metadata.resource_version,
        timeout_seconds=5,
        _preload_content=False,
    )
    kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": "live"}})
    kube.core.patch_namespaced_config_map("live", kube.namespace, {"data": {"x": "1"}})
    lines = []
    for line in _lines(stream):
        lines.append(json.loads(line))
        if len(lines) == 2:
            break
    stream.release_conn()
    assert [e["type"] for e in lines] == ["ADDED", "MODIFIED"]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in lines]
    assert rvs[0] < rvs[1]
    assert rvs[0] > int(listed.metadata.resource_version)


def _lines(response: Any) -> Any:
    buffer = b""
    for chunk in response.stream(1024, decode_content=False):
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield line


def test_timeout_seconds_ends_the_stream(kube: Kube) -> None:
    started = time.monotonic()
    events = _collect(
        kube,
        kube.core.list_namespaced_config_map(kube.namespace).metadata.resource_version,
        until=1,
        timeout=1,
    )
    elapsed = time.monotonic() - started
    assert events == []
    assert 0.9 <= elapsed < 5


def test_watch_accepts_bookmarks(kube: Kube) -> None:
    rv = kube.core.list_namespaced_config_map(kube.namespace).metadata.resource_version
    kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": "x"}})
    events = _collect(kube, rv, until=1, allow_watch_bookmarks=True)
    assert events == [("ADDED", "x")]


def test_label_selector_watch_sees_objects_enter_and_leave(kube: Kube) -> None:
    rv = kube.core.list_namespaced_config_map(kube.namespace).metadata.resource_version
    kube.core.create_namespaced_config_map(
        kube.namespace, {"metadata": {"name": "in", "labels": {"team": "red"}}}
    )
    kube.core.create_namespaced_config_map(
        kube.namespace, {"metadata": {"name": "out", "labels": {"team": "blue"}}}
    )
    kube.core.patch_namespaced_config_map("out", kube.namespace, {"metadata": {"labels": {"team": "red"}}})
    kube.core.patch_namespaced_config_map("in", kube.namespace, {"metadata": {"labels": {"team": "blue"}}})
    events = _collect(kube, rv, until=3, label_selector="team=red")
    assert events == [("ADDED", "in"), ("ADDED", "out"), ("DELETED", "in")]


def test_field_selector_watch(kube: Kube) -> None:
    rv = kube.core.list_namespaced_config_map(kube.namespace).metadata.resource_version
    for name in ("one", "two"):
        kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": name}})
    kube.core.delete_namespaced_config_map("two", kube.namespace)
    assert _collect(kube, rv, until=2, field_selector="metadata.name=two") == [
        ("ADDED", "two"),
        ("DELETED", "two"),
    ]


@pytest.mark.emulator_only
def test_watch_from_a_forgotten_resource_version_is_410_gone() -> None:
    with Emulator(event_log_size=5).start() as emu:
        api = kubernetes.client.ApiClient(kubernetes.client.Configuration(host=emu.url))
        core = kubernetes.client.CoreV1Api(api)
        first = core.create_namespaced_config_map("default", {"metadata": {"name": "c0"}})
        for i in range(1, 10):
            core.create_namespaced_config_map("default", {"metadata": {"name": f"c{i}"}})
        with pytest.raises(ApiException) as caught:
            for _ in watch.Watch().stream(
                core.list_namespaced_config_map,
                "default",
                resource_version=first.metadata.resource_version,
                timeout_seconds=2,
            ):
                pass
        assert caught.value.status == 410
        # The raw stream: HTTP 200 and an ERROR event with a 410 Status, which is what kopf handles.
        url = f"{emu.url}/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={first.metadata.resource_version}"
        with urllib.request.urlopen(url, timeout=5) as response:
            event = json.loads(response.readline())
        assert event["type"] == "ERROR"
        assert event["object"]["code"] == 410
        assert event["object"]["reason"] == "Expired"
        # A recent resourceVersion still works.
        recent = core.list_namespaced_config_map("default").metadata.resource_version
        core.create_namespaced_config_map("default", {"metadata": {"name": "fresh"}})
        w = watch.Watch()
        names = []
        for event in w.stream(
            core.list_namespaced_config_map, "default", resource_version=recent, timeout_seconds=2
        ):
            names.append(event["object"].metadata.name)
            w.stop()
        assert names == ["fresh"]
        api.close()


@pytest.mark.emulator_only
def test_stop_is_fast_with_open_watches(kube: Kube, emulator: Emulator) -> None:
    url = f"{emulator.url}/api/v1/namespaces/{kube.namespace}/configmaps?watch=true"
    responses = [urllib.request.urlopen(url, timeout=5) for _ in range(3)]
    emulator.wait_for_watch("configmaps")
    started = time.monotonic()
    emulator.stop()
    assert time.monotonic() - started < 0.3
    for response in responses:
        assert response.read() == b""  # the streams ended cleanly
        response.close()


@pytest.mark.emulator_only  # the WatchList feature (sendInitialEvents) is not enabled on every cluster
def test_send_initial_events_ends_with_a_bookmark(kube: Kube, emulator: Emulator) -> None:
    kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": "existing"}})
    url = (
        f"{emulator.url}/api/v1/namespaces/{kube.namespace}/configmaps?watch=true&sendInitialEvents=true"
        "&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1"
    )
    with urllib.request.urlopen(url, timeout=5) as response:
        events = [json.loads(line) for line in response.read().splitlines()]
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]
    assert events[0]["object"]["metadata"]["name"] == "existing"
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


@pytest.mark.emulator_only  # a real server may hold the stream until its request timeout (a minute)
def test_watches_of_a_deleted_crd_end(kube: Kube) -> None:
    group = kube.group()
    kube.create_crd("Fleeting", group=group)
    rv = kube.custom.list_namespaced_custom_object(group, "v1", kube.namespace, "fleetings")["metadata"][
        "resourceVersion"
    ]
    stream = kube.custom.list_namespaced_custom_object(
        group,
        "v1",
        kube.namespace,
        "fleetings",
        watch=True,
        resource_version=rv,
        timeout_seconds=30,
        _preload_content=False,
    )
    started = time.monotonic()
    kube.ext.delete_custom_resource_definition(f"fleetings.{group}")
    remaining = b"".join(stream.stream(1024, decode_content=False))
    stream.release_conn()
    assert time.monotonic() - started < 20
    assert b'"type":"ERROR"' not in remaining.replace(b" ", b"")
