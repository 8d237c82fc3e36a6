"""Emulator-only features: fault injection, pod logs written by the pod runner, start/speed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

import kubernetes
import pytest
from kubernetes.client import ApiException

from kratix_py.local_platform.emulator import Emulator

from .conftest import Kube

pytestmark = pytest.mark.emulator_only


def _pod(kube: Kube, name: str, containers: list[str]) -> None:
    kube.core.create_namespaced_pod(
        kube.namespace,
        {
            "metadata": {"name": name},
            "spec": {"containers": [{"name": c, "image": "busybox"} for c in containers]},
        },
    )


def test_injected_faults_answer_with_a_status_and_leave_state_alone(kube: Kube, emulator: Emulator) -> None:
    kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": "cm"}, "data": {"v": "1"}})
    emulator.inject_fault("PATCH", r"/configmaps/cm$", 503, count=2, message="etcd is having a bad day")
    for _ in range(2):
        with pytest.raises(ApiException) as caught:
            kube.core.patch_namespaced_config_map("cm", kube.namespace, {"data": {"v": "2"}})
        assert caught.value.status == 503
        body = json.loads(caught.value.body)
        assert body["kind"] == "Status" and body["reason"] == "ServiceUnavailable"
        assert body["message"] == "etcd is having a bad day"
    assert kube.core.read_namespaced_config_map("cm", kube.namespace).data == {
        "v": "1"
    }  # GETs are not affected
    assert kube.core.patch_namespaced_config_map("cm", kube.namespace, {"data": {"v": "2"}}).data == {
        "v": "2"
    }


def test_an_injected_429_asks_to_wait_as_kube_apiserver_does(kube: Kube, emulator: Emulator) -> None:
    """kube-apiserver's 429 ("storage is (re)initializing", priority and fairness) says how long to
    wait twice: the Retry-After header and the Status's details.retryAfterSeconds."""
    emulator.inject_fault("GET", r"/configmaps$", 429, message="storage is (re)initializing")
    # Plain urllib: the official client's urllib3 would quietly wait and retry this one.
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{emulator.url}/api/v1/namespaces/{kube.namespace}/configmaps")
    assert caught.value.code == 429 and caught.value.headers["Retry-After"] == "1"
    body = json.loads(caught.value.read())
    assert body["reason"] == "TooManyRequests" and body["details"] == {"retryAfterSeconds": 1}
    kube.core.list_namespaced_config_map(kube.namespace)


def test_faults_over_http_for_other_processes(kube: Kube, emulator: Emulator) -> None:
    request = urllib.request.Request(
        f"{emulator.url}/_emulator/faults",
        method="POST",
        headers={"Content-Type": "application/json"},
        data=json.dumps({"method": None, "path_regex": "/configmaps", "status": 409}).encode(),
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 201
    with pytest.raises(ApiException) as caught:
        kube.core.list_namespaced_config_map(kube.namespace)
    assert caught.value.status == 409
    assert json.loads(caught.value.body)["reason"] == "Conflict"
    kube.core.list_namespaced_config_map(kube.namespace)


def test_pod_logs_set_by_the_pod_runner(kube: Kube, emulator: Emulator) -> None:
    _pod(kube, "single", ["main"])
    emulator.set_pod_log(kube.namespace, "single", "main", "line 1\nline 2\n")
    assert kube.core.read_namespaced_pod_log("single", kube.namespace) == "line 1\nline 2\n"
    assert kube.core.read_namespaced_pod_log("single", kube.namespace, tail_lines=1) == "line 2\n"
    _pod(kube, "double", ["first", "second"])
    request = urllib.request.Request(
        f"{emulator.url}/_emulator/logs/{kube.namespace}/double/second", method="PUT", data=b"from http\n"
    )
    urllib.request.urlopen(request).close()
    assert kube.core.read_namespaced_pod_log("double", kube.namespace, container="second") == "from http\n"
    with pytest.raises(ApiException) as caught:
        kube.core.read_namespaced_pod_log("double", kube.namespace)  # two containers: which one?
    assert caught.value.status == 400
    assert "choose one of: [first second]" in caught.value.body
    with pytest.raises(ApiException) as caught:
        kube.core.read_namespaced_pod_log("double", kube.namespace, container="first")  # nothing written yet
    assert caught.value.status == 400
    with pytest.raises(ApiException) as caught:
        kube.core.read_namespaced_pod_log("absent", kube.namespace)
    assert caught.value.status == 404
    kube.core.delete_namespaced_pod("single", kube.namespace)
    _pod(kube, "single", ["main"])
    with pytest.raises(ApiException):
        kube.core.read_namespaced_pod_log("single", kube.namespace)  # the old pod's logs went with it


def test_start_and_stop_take_milliseconds() -> None:
    started = time.perf_counter()
    emulator = Emulator().start()
    took = time.perf_counter() - started
    try:
        with urllib.request.urlopen(f"{emulator.url}/version") as response:
            assert json.loads(response.read())["major"] == "1"
    finally:
        stop_started = time.perf_counter()
        emulator.stop()
    assert took < 0.5
    assert time.perf_counter() - stop_started < 0.5


def test_many_creates_per_second_and_list_stays_cheap() -> None:
    with Emulator().start() as emulator:
        api = kubernetes.client.ApiClient(kubernetes.client.Configuration(host=emulator.url))
        core = kubernetes.client.CoreV1Api(api)
        count = 300
        started = time.perf_counter()
        for i in range(count):
            core.create_namespaced_config_map("default", {"metadata": {"name": f"cm-{i}"}})
        rate = count / (time.perf_counter() - started)
        started = time.perf_counter()
        assert len(core.list_namespaced_config_map("default").items) == count
        list_seconds = time.perf_counter() - started
        api.close()
    assert list_seconds < 1.0
    # Far below what it does (well over 1000/s on a laptop core); a floor that catches a regression
    # to per-request work that grows with history, without flaking on a busy CI machine.
    assert rate > 150, f"{rate:.0f} creates/s"


def test_module_entry_point_serves_until_terminated() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "kratix_py.local_platform.emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{url}/api/v1/namespaces/default") as response:
            assert json.loads(response.read())["metadata"]["name"] == "default"
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
