"""The real kubectl binary: apply a directory of CRDs and objects, get (YAML, table), watch, delete."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from .conftest import Kube

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")


def _kubectl(kube: Kube, cache: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = [
        "kubectl",
        f"--kubeconfig={kube.kubeconfig}",
        f"--cache-dir={cache}",
        f"--namespace={kube.namespace}",
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def _write_manifests(kube: Kube, directory: Path, size: str) -> str:
    group = kube.group("kubectl")
    crd = kube.crd_body(
        "Widget",
        group=group,
        short_names=["wdg"],
        printer_columns=[
            {"name": "Size", "type": "string", "jsonPath": ".spec.size"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
        schema={
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {"size": {"type": "string", "enum": ["small", "medium", "large"]}},
                },
                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        },
    )
    directory.mkdir(exist_ok=True)
    (directory / "crd.yaml").write_text(yaml.safe_dump(crd))
    return group


def test_kubectl_apply_get_watch_and_delete(kube: Kube, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    crds = tmp_path / "crds"
    group = _write_manifests(kube, crds, "small")
    crd_name = f"widgets.{group}"
    kube._crds.append(crd_name)  # removed after the test on a real cluster

    assert f"{crd_name} created" in _kubectl(kube, cache, "apply", "-f", str(crds)).stdout
    assert f"{crd_name} unchanged" in _kubectl(kube, cache, "apply", "-f", str(crds)).stdout
    kube.eventually(lambda: kube.raw("GET", f"/apis/{group}/v1").status == 200)
    assert crd_name in _kubectl(kube, cache, "get", "crds").stdout

    widget = tmp_path / "widget.yaml"
    widget.write_text(
        yaml.safe_dump(
            {
                "apiVersion": f"{group}/v1",
                "kind": "Widget",
                "metadata": {"name": "w1"},
                "spec": {"size": "small"},
            }
        )
    )
    assert "created" in _kubectl(kube, cache, "apply", "-f", str(widget)).stdout
    widget.write_text(
        yaml.safe_dump(
            {
                "apiVersion": f"{group}/v1",
                "kind": "Widget",
                "metadata": {"name": "w1"},
                "spec": {"size": "medium"},
            }
        )
    )
    assert "configured" in _kubectl(kube, cache, "apply", "-f", str(widget)).stdout

    table = _kubectl(kube, cache, "get", f"widgets.{group}").stdout.splitlines()
    assert table[0].split() == ["NAME", "SIZE", "AGE"]
    assert table[1].split()[:2] == ["w1", "medium"]
    assert _kubectl(kube, cache, "get", "wdg", "w1", "-o", "jsonpath={.spec.size}").stdout == "medium"
    as_yaml = yaml.safe_load(_kubectl(kube, cache, "get", f"widgets.{group}", "w1", "-o", "yaml").stdout)
    assert as_yaml["spec"] == {"size": "medium"}
    assert as_yaml["metadata"]["generation"] == 2

    rejected = _kubectl(
        kube,
        cache,
        "patch",
        f"widgets.{group}",
        "w1",
        "--type=merge",
        "-p",
        '{"spec":{"size":"huge"}}',
        check=False,
    )
    assert rejected.returncode != 0
    assert 'spec.size: Unsupported value: "huge"' in rejected.stderr

    watcher = subprocess.Popen(
        [
            "kubectl",
            f"--kubeconfig={kube.kubeconfig}",
            f"--cache-dir={cache}",
            f"--namespace={kube.namespace}",
            "get",
            f"widgets.{group}",
            "-w",
            "--request-timeout=20s",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.0 if kube.real else 0.5)
        _kubectl(
            kube, cache, "patch", f"widgets.{group}", "w1", "--type=merge", "-p", '{"spec":{"size":"large"}}'
        )
        _kubectl(kube, cache, "delete", f"widgets.{group}", "w1")
        time.sleep(1.0 if kube.real else 0.3)
    finally:
        watcher.terminate()
        output, _ = watcher.communicate(timeout=10)
    sizes = [line.split()[1] for line in output.splitlines()[1:] if line.startswith("w1")]
    assert sizes[0] == "medium" and "large" in sizes

    assert "widgets" in _kubectl(kube, cache, "api-resources", f"--api-group={group}").stdout
    assert "No resources found" in _kubectl(kube, cache, "get", f"widgets.{group}").stderr
    _kubectl(kube, cache, "delete", "-f", str(crds))
    kube.eventually(
        lambda: kube.raw("GET", f"/apis/{group}/v1").status == 404, message="the CRD is still served"
    )


def test_kubectl_built_ins(kube: Kube, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _kubectl(kube, cache, "create", "configmap", "settings", "--from-literal=a=1")
    assert _kubectl(kube, cache, "get", "cm", "settings", "-o", "jsonpath={.data.a}").stdout == "1"
    lines = _kubectl(kube, cache, "get", "configmaps").stdout.splitlines()
    assert lines[0].split() == ["NAME", "DATA", "AGE"]
    _kubectl(kube, cache, "label", "cm", "settings", "team=red")
    assert "settings" in _kubectl(kube, cache, "get", "cm", "-l", "team=red").stdout
    _kubectl(kube, cache, "delete", "cm", "settings")
    assert "settings" not in _kubectl(kube, cache, "get", "cm").stdout


def test_kubectl_imperative_create_commands(kube: Kube, tmp_path: Path) -> None:
    # These kubectl commands send protobuf bodies rather than JSON.
    cache = tmp_path / "cache"
    _kubectl(kube, cache, "create", "secret", "generic", "creds", "--from-literal=password=hunter2")
    assert kube.core.read_namespaced_secret("creds", kube.namespace).data == {"password": "aHVudGVyMg=="}
    _kubectl(kube, cache, "create", "serviceaccount", "robot")
    _kubectl(
        kube,
        cache,
        "create",
        "rolebinding",
        "robot-view",
        "--clusterrole=view",
        f"--serviceaccount={kube.namespace}:robot",
    )
    binding = kube.rbac.read_namespaced_role_binding("robot-view", kube.namespace)
    assert binding.role_ref.name == "view" and binding.subjects[0].name == "robot"
    namespace = f"{kube.namespace}-extra"
    _kubectl(kube, cache, "create", "namespace", namespace)
    try:
        assert kube.core.read_namespace(namespace).status.phase == "Active"
    finally:
        _kubectl(kube, cache, "delete", "namespace", namespace, "--wait=false")
