"""Informers against the API emulator over HTTP: paginated lists, watches, 410 relists, gone kinds,
outages, and the store's answers to the operator's own writes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest

from kratix_py import kube as k
from kratix_py.local_platform.emulator import Emulator
from kratix_py.operator.informers import ApiSession, Informer
from kratix_py.operator.store import Change, Store
from kratix_py.testing.fixtures import wait_for

CONFIGMAPS = k.CONFIGMAPS


class LoopThread:
    """An asyncio loop in a thread, as the operator's (informers run on it)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(event_log_size=8).start() as server:
        yield server


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.close()


def configuration(url: str) -> Any:
    config = kubernetes.client.Configuration()
    config.host = url
    return config


def client(url: str) -> k.Kube:
    return k.Kube(kubernetes.client.ApiClient(configuration(url)))


class Recorder:
    def __init__(self) -> None:
        self.changes: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, resource: k.Resource, change: Change) -> None:
        with self.lock:
            self.changes.append((change.type, change.obj["metadata"]["name"]))

    def of(self, kind: str) -> list[str]:
        with self.lock:
            return [name for change, name in self.changes if change == kind]


def configmap(name: str, value: str = "1", labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default", "labels": labels or {}},
        "data": {"v": value},
    }


def start(loop: LoopThread, url: str, recorder: Recorder, **options: Any) -> Informer:
    async def make() -> Informer:
        api = ApiSession(configuration(url))
        return Informer(api, CONFIGMAPS, Store(index_labels=("team",)), recorder, **options).start()

    informer: Informer = loop.run(make())
    return informer


def stop(loop: LoopThread, informer: Informer) -> None:
    loop.run(informer.stop())
    loop.run(informer.api.close())


def test_lists_page_by_page_then_watches(emulator, loop):
    kube = client(emulator.url)
    for i in range(25):
        kube.create(CONFIGMAPS, configmap(f"cm-{i:02d}", labels={"team": "a" if i % 2 else "b"}))
    recorder = Recorder()
    informer = start(loop, emulator.url, recorder, page_size=10)
    try:
        assert informer.synced.wait(5)
        assert len(informer.store) == 25 and len(recorder.of("ADDED")) == 25
        assert len(informer.store.list("default", {"team": "a"})) == 12, "the label index answers"
        kube.patch(CONFIGMAPS, "cm-00", {"data": {"v": "2"}}, "default")
        kube.delete(CONFIGMAPS, "cm-01", "default")
        kube.create(CONFIGMAPS, configmap("late"))
        wait_for(lambda: informer.store.get("default", "late"), what="the new object")
        wait_for(lambda: informer.store.get("default", "cm-01") is None, what="the deletion")
        assert informer.store.get("default", "cm-00")["data"] == {"v": "2"}
        assert recorder.of("MODIFIED") == ["cm-00"] and recorder.of("DELETED") == ["cm-01"]
        assert informer.lists == 1, "one list, then the watch alone"
    finally:
        stop(loop, informer)


def test_a_gap_longer_than_the_history_relists_and_misses_nothing(emulator, loop):
    """The watch is down while more changes happen than the server remembers: the informer gets
    410, lists again, and the store ends up exact, deletions included."""
    kube = client(emulator.url)
    for name in ("keep", "change", "remove"):
        kube.create(CONFIGMAPS, configmap(name))
    recorder = Recorder()
    informer = start(loop, emulator.url, recorder, watch_timeout=(1, 1))
    try:
        assert informer.synced.wait(5)
        # Every reconnect fails for a while (503), then history is gone (event log of 8).
        emulator.inject_fault("GET", r"/api/v1/configmaps$", 503, count=3)
        time.sleep(1.5)  # the open watch ends after 1s; its reconnects now fail
        kube.patch(CONFIGMAPS, "change", {"data": {"v": "new"}}, "default")
        kube.delete(CONFIGMAPS, "remove", "default")
        for i in range(12):
            kube.create(CONFIGMAPS, configmap(f"burst-{i}"))
        wait_for(lambda: informer.lists >= 2, timeout=20, what="a relist after 410")
        wait_for(lambda: len(informer.store) == 14, what="the store to match the cluster")
        assert informer.store.get("default", "remove") is None
        assert informer.store.get("default", "change")["data"] == {"v": "new"}
        assert "remove" in recorder.of("DELETED"), "the deletion seen only by the relist is dispatched"
        assert "change" in recorder.of("MODIFIED")
    finally:
        stop(loop, informer)


def test_a_kind_that_goes_away_ends_quietly_and_comes_back(emulator, loop, caplog):
    kube = client(emulator.url)
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "things.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Thing", "plural": "things", "singular": "thing"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                    },
                }
            ],
        },
    }
    things = k.Resource("example.com", "v1", "things", True, "Thing")
    kube.create(k.CRDS, crd)
    wait_for(lambda: _served(kube, things), what="the CRD to be served")
    kube.create(
        things,
        {"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "a", "namespace": "default"}},
    )
    recorder = Recorder()

    async def make() -> Informer:
        api = ApiSession(configuration(emulator.url))
        return Informer(api, things, Store(), recorder).start()

    informer: Informer = loop.run(make())
    try:
        assert informer.synced.wait(5) and len(informer.store) == 1
        kube.delete(k.CRDS, "things.example.com")
        wait_for(lambda: len(informer.store) == 0, what="the objects to go with their kind")
        assert informer.running, "the informer keeps going"
        assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")], "no error logged"
        kube.create(k.CRDS, crd)
        wait_for(lambda: _served(kube, things), what="the CRD to be served again")
        kube.create(
            things,
            {
                "apiVersion": "example.com/v1",
                "kind": "Thing",
                "metadata": {"name": "b", "namespace": "default"},
            },
        )
        wait_for(lambda: informer.store.get("default", "b"), timeout=40, what="the kind to be watched again")
    finally:
        stop(loop, informer)


def _served(kube: k.Kube, resource: k.Resource) -> bool:
    with contextlib.suppress(k.KubeError):
        kube.list(resource, "default")
        return True
    return False


@pytest.mark.parametrize("packed", [False, True], ids=["plain", "packed"])
def test_a_write_result_is_read_at_once_and_an_older_event_cannot_undo_it(packed: bool) -> None:
    store = Store(packed=packed)
    obj = {"metadata": {"name": "a", "namespace": "n", "resourceVersion": "5"}, "data": {"v": "old"}}
    newer = {"metadata": {"name": "a", "namespace": "n", "resourceVersion": "9"}, "data": {"v": "new"}}
    assert store.upsert(obj, authoritative=True) is not None
    assert store.upsert(newer) is not None, "the operator's write result"
    late = {"metadata": {"name": "a", "namespace": "n", "resourceVersion": "7"}, "data": {"v": "mid"}}
    assert store.upsert(late, authoritative=True) is None, "an older watch event is ignored"
    assert store.get("n", "a")["data"] == {"v": "new"}
    assert store.upsert(dict(newer), authoritative=True) is None, "the write's own event: no second change"
    assert store.remove({"metadata": {"name": "a", "namespace": "n", "resourceVersion": "10"}}) is not None
    assert store.upsert(newer) is None, "a late write result cannot bring a deleted object back"
    again = {"metadata": {"name": "a", "namespace": "n", "resourceVersion": "12"}}
    assert store.upsert(again, authoritative=True) is not None, "a re-created object comes back"


@pytest.mark.parametrize("packed", [False, True], ids=["plain", "packed"])
def test_a_relist_keeps_objects_written_after_the_list_was_taken(packed: bool) -> None:
    store = Store(packed=packed)
    store.upsert({"metadata": {"name": "old", "namespace": "n", "resourceVersion": "3"}}, authoritative=True)
    store.upsert({"metadata": {"name": "mine", "namespace": "n", "resourceVersion": "20"}})
    changes = store.replace([{"metadata": {"name": "other", "namespace": "n", "resourceVersion": "4"}}], 15)
    assert sorted(store.keys()) == [("n", "mine"), ("n", "other")]
    assert sorted((change.type, change.obj["metadata"]["name"]) for change in changes) == [
        ("ADDED", "other"),
        ("DELETED", "old"),
    ]


@pytest.mark.parametrize("packed", [False, True], ids=["plain", "packed"])
def test_lookups_cost_what_they_find(packed: bool) -> None:
    """With 10,000 objects, a label lookup visits only the matching bucket."""
    store = Store(index_labels=("work",), packed=packed)
    for i in range(10_000):
        store.upsert(
            {
                "metadata": {
                    "name": f"p{i}",
                    "namespace": "n",
                    "resourceVersion": str(i + 1),
                    "labels": {"work": f"w{i % 1000}"},
                }
            },
            authoritative=True,
        )
    assert [o["metadata"]["name"] for o in store.list("n", {"work": "w7"})] == [
        f"p{i}" for i in sorted(range(7, 10_000, 1000), key=lambda i: f"p{i}")
    ]
    # Changing a label moves the object between buckets.
    store.upsert(
        {"metadata": {"name": "p7", "namespace": "n", "resourceVersion": "20000", "labels": {"work": "w8"}}}
    )
    assert "p7" not in [o["metadata"]["name"] for o in store.list("n", {"work": "w7"})]
    assert "p7" in [o["metadata"]["name"] for o in store.list("n", {"work": "w8"})]


@pytest.mark.parametrize("packed", [False, True], ids=["plain", "packed"])
def test_a_computed_index_follows_changes_and_deletions(packed: bool) -> None:
    """HealthRecords by the request they name: found without reading the others, moved on change."""
    from kratix_py.operator.health import BY_REQUEST

    def record(name: str, request: str, version: int) -> dict[str, Any]:
        return {
            "metadata": {"name": name, "namespace": "team", "resourceVersion": str(version)},
            "data": {"promiseRef": {"name": "redis"}, "resourceRef": {"name": request}},
        }

    store = Store(indexes=(BY_REQUEST,), packed=packed)
    for i in range(1000):
        store.upsert(record(f"h{i}", f"r{i % 100}", i + 1), authoritative=True)
    names = [o["metadata"]["name"] for o in store.list_by(BY_REQUEST.name, "redis/team/r7")]
    assert names == sorted(f"h{i}" for i in range(7, 1000, 100))
    assert store.list_by(BY_REQUEST.name, "redis/other/r7") == []
    store.upsert(record("h7", "r8", 5000))
    assert "h7" not in [o["metadata"]["name"] for o in store.list_by(BY_REQUEST.name, "redis/team/r7")]
    assert "h7" in [o["metadata"]["name"] for o in store.list_by(BY_REQUEST.name, "redis/team/r8")]
    store.remove(record("h8", "r8", 6000))
    assert "h8" not in [o["metadata"]["name"] for o in store.list_by(BY_REQUEST.name, "redis/team/r8")]


@pytest.mark.parametrize("packed", [False, True], ids=["plain", "packed"])
def test_a_label_value_held_by_one_object_then_two_then_none(packed: bool) -> None:
    """An index value goes from one key to several and back (one key is held without a set)."""
    store = Store(index_labels=("request",), packed=packed)

    def obj(name: str, request: str, version: int) -> dict[str, Any]:
        return {"metadata": {"name": name, "namespace": "team", "resourceVersion": str(version),
                             "labels": {"request": request}}}  # fmt: skip

    def names(request: str) -> list[str]:
        return [o["metadata"]["name"] for o in store.list("team", {"request": request})]

    store.upsert(obj("work", "r1", 1), authoritative=True)
    assert names("r1") == ["work"]
    store.upsert(obj("work", "r1", 2), authoritative=True)  # the same key again: still one
    assert names("r1") == ["work"]
    store.upsert(obj("job", "r1", 3), authoritative=True)
    store.upsert(obj("binding", "r1", 4), authoritative=True)
    assert names("r1") == ["binding", "job", "work"]
    store.remove(obj("job", "r1", 5))
    store.remove(obj("binding", "r1", 6))
    assert names("r1") == ["work"]
    store.upsert(obj("work", "r2", 7), authoritative=True)  # relabelled: moves out
    assert names("r1") == [] and names("r2") == ["work"]
    store.remove(obj("work", "r2", 8))
    assert names("r2") == [] and store.list("team") == []


def test_cached_objects_share_the_strings_they_repeat():
    """A WorkPlacement copies its Work's files: the cache holds each distinct content once."""
    store = Store()
    content = "H4sI" + "x" * 5000
    for name in ("work", "placement"):
        # Decoded separately, as two watch events are: equal strings, distinct objects.
        body = json.loads(json.dumps({"metadata": {"name": name, "resourceVersion": "1"}, "c": [content]}))
        store.upsert(body, authoritative=True)
    work, placement = store.get("", "work"), store.get("", "placement")
    assert work is not None and placement is not None
    assert work["c"][0] == content
    assert work["c"][0] is placement["c"][0]
    assert next(iter(work["metadata"])) is next(iter(placement["metadata"]))


def _gzipped(seed: int) -> str:
    """Work content as Kratix writes it: gzip then base64, so as good as incompressible."""
    import base64
    import random

    return base64.b64encode(random.Random(seed).randbytes(450)).decode()


def _work(i: int, version: int = 1) -> dict[str, Any]:
    """A Work-sized object: what one request adds to the packed kinds."""
    return {
        "apiVersion": "platform.kratix.io/v1alpha1",
        "kind": "Work",
        "metadata": {
            "name": f"w{i}",
            "namespace": "team",
            "resourceVersion": str(version),
            "labels": {"kratix.io/promise-name": "redis", "kratix.io/resource-name": f"r{i}"},
        },
        "spec": {
            "workloadGroups": [
                {"id": "5058f", "workloads": [{"filepath": "cluster.yaml", "content": _gzipped(i)}]}
            ]
        },
        "status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "AllWorkplacementsScheduled"}]
        },
    }


def test_a_packed_store_reads_back_every_object_after_the_decoded_ones_are_evicted():
    from kratix_py.operator.store import HOT

    store = Store(index_labels=("kratix.io/resource-name",), packed=True)
    count = HOT * 4
    for i in range(count):
        assert store.upsert(_work(i), authoritative=True) is not None
    assert len(store.keys()) == count
    assert store.get("team", "w0") == _work(0), "long evicted from the decoded ones, read from its bytes"
    assert [o["metadata"]["name"] for o in store.list("team", {"kratix.io/resource-name": "r3"})] == ["w3"]
    assert len(store.list()) == count
    # An echo of a write already held is recognised by its version alone, for evicted objects too.
    assert store.upsert(_work(1), authoritative=True) is None
    change = store.upsert(_work(1, version=2), authoritative=True)
    assert change is not None and change.old == _work(1) and change.new == _work(1, version=2)
    removed = store.remove(_work(2, version=3))
    assert removed is not None and store.get("team", "w2") is None
    assert store.replace([_work(5, version=7)], list_version=7) and len(store.keys()) == 1


def test_a_packed_store_holds_a_fraction_of_the_memory():
    import tracemalloc

    def held(packed: bool) -> int:
        tracemalloc.start()
        store = Store(packed=packed)
        for i in range(2000):
            # Each object decoded on its own, as watch events are.
            store.upsert(json.loads(json.dumps(_work(i))), authoritative=True)
        size = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        assert len(store.keys()) == 2000
        return size

    plain, packed = held(False), held(True)
    # Work content is already gzipped, so what packing saves is the dicts and the metadata around it.
    assert packed < plain * 0.75, f"packed {packed} bytes, plain {plain} bytes"


def test_a_reader_changing_a_packed_object_is_caught():
    store = Store(packed=True, check_mutations=True)
    store.upsert(_work(0), authoritative=True)
    read = store.get("team", "w0")
    assert read is not None
    read["spec"]["workloadGroups"][0]["id"] = "changed"
    with pytest.raises(AssertionError, match="modified by a reader"):
        store.upsert(_work(0, version=2), authoritative=True)


def test_values_json_would_not_hold_are_packed_as_the_api_would_send_them():
    from kratix_py.operator.store import pack, unpack

    obj = {"metadata": {"name": "plain", "resourceVersion": "1"}, "v": [1, 2.5, None, True, {"k": "é"}]}
    assert unpack(pack(obj)) == obj
    odd = {"metadata": {"name": "odd"}, "value": object()}
    assert isinstance(unpack(pack(odd))["value"], str)


def _job(i: int) -> dict[str, Any]:
    """A pipeline Job as the cache holds one: the same keys, labels and pod template every time."""
    labels = {"kratix.io/promise-name": "cache", "kratix.io/resource-name": f"cache-{i:05d}",
              "kratix.io/pipeline-name": "instance-configure", "kratix.io/work-action": "configure"}  # fmt: skip
    container = {"name": "kratix-work-creator", "image": "ghcr.io/syntasso/kratix-platform-pipeline-adapter:v0.1",
                 "command": ["sh", "-c", "work-creator -input-directory /work-creator-files"],
                 "env": [{"name": "OBJECT_NAME", "value": f"cache-{i:05d}"}, {"name": "KRATIX_WORKFLOW_TYPE", "value": "resource"}],
                 "volumeMounts": [{"name": "shared-output", "mountPath": "/kratix/output"}]}  # fmt: skip
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": f"kratix-cache-cache-{i:05d}-{i * 7919 % 100000:05d}",
            "namespace": "default",
            "uid": f"{i:08d}-0000-4000-8000-{i * 31:012d}",
            "resourceVersion": str(1000 + i),
            "labels": labels,
        },
        "spec": {
            "backoffLimit": 4,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "OnFailure",
                    "containers": [container],
                    "initContainers": [container] * 3,
                },
            },
        },
        "status": {
            "conditions": [
                {
                    "type": "Complete",
                    "status": "True",
                    "lastTransitionTime": f"2026-12-03T10:{i % 60:02d}:00Z",
                }
            ]
        },
    }


def test_a_packed_store_packs_against_its_kinds_first_object():
    from kratix_py.operator.store import pack, preset_dictionary, unpack

    first = _job(0)
    zdict = preset_dictionary(first)
    for i in (1, 77, 4242):
        alone, against = pack(_job(i)), pack(_job(i), zdict)
        assert unpack(against, zdict) == _job(i)
        assert len(against) * 3 < len(alone), (
            f"{len(against)} bytes against the first Job, {len(alone)} alone"
        )
    # A value JSON would not hold is packed as the API would send it, with a dictionary too.
    odd = {"metadata": {"name": "odd"}, "value": object()}
    assert isinstance(unpack(pack(odd, zdict), zdict)["value"], str)
    # The store packs that way and reads every object back, long after the decoded ones went.
    store = Store(packed=True)
    for i in range(200):
        store.upsert(_job(i), authoritative=True)
    assert store.get("default", _job(3)["metadata"]["name"]) == _job(3)
    assert store.get("default", _job(0)["metadata"]["name"]) == _job(0)


def test_a_429_while_the_watch_cache_starts_waits_as_asked_without_a_warning(emulator, loop, caplog):
    """kube-apiserver answers a new kind's first lists and watches with 429 "storage is
    (re)initializing" (Retry-After: 1) until its watch cache is ready: normal, so no warning."""
    kube = client(emulator.url)
    kube.create(CONFIGMAPS, configmap("early"))
    emulator.inject_fault("GET", r"/api/v1/configmaps$", 429, count=2, message="storage is (re)initializing")
    recorder = Recorder()
    with caplog.at_level("DEBUG", logger="kratix_py.operator.informers"):
        informer = start(loop, emulator.url, recorder)
        try:
            assert informer.synced.wait(10)
            assert informer.store.get("default", "early") is not None
        finally:
            stop(loop, informer)
    messages = [r.getMessage() for r in caplog.records if "429" in r.getMessage()]
    assert messages and all("storage is (re)initializing" in m for m in messages)
    assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]
