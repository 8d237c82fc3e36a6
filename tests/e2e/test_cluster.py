"""kratix-py installed by its chart on a real cluster: a Promise, a request, its pipeline, its Work.

The cluster is the one ``KUBECONFIG`` names, or the project's own real control plane (see
conftest.py).
"""

from __future__ import annotations

import subprocess
import time
import uuid

import pytest

from kratix_py import kube as k
from kratix_py.operator import resources as r
from kratix_py.testing.objects import open_crd

# Pipelines run as real containers: seconds each on the project's machines, more on a fresh kind.
pytestmark = [pytest.mark.real_cluster, pytest.mark.containers, pytest.mark.slow, pytest.mark.timeout(600)]


def wait_for(check, timeout=180.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(1)
    raise AssertionError("timed out")


def test_a_request_is_fulfilled_by_the_installed_operator(kube, pipeline_image, state_repo):
    suffix = uuid.uuid4().hex[:6]
    group = f"e2e{suffix}.kratix.io"
    promise = {
        "apiVersion": "platform.kratix.io/v1alpha1",
        "kind": "Promise",
        "metadata": {"name": f"e2e-{suffix}"},
        "spec": {
            "api": open_crd(group, "Thing", "things"),
            "workflows": {
                "resource": {
                    "configure": [
                        {
                            "apiVersion": "platform.kratix.io/v1alpha1",
                            "kind": "Pipeline",
                            "metadata": {"name": "write"},
                            "spec": {
                                "containers": [
                                    {
                                        "name": "write",
                                        "image": pipeline_image,
                                        "imagePullPolicy": "Never",
                                        "command": ["python3", "-c"],
                                        "args": [
                                            "open('/kratix/output/cm.yaml','w').write('apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: e2e}\\n')"
                                        ],
                                    }
                                ]
                            },
                        }
                    ]
                }
            },
        },
    }
    kube.create(r.PROMISES, promise)
    try:
        wait_for(
            lambda: (
                (kube.get(r.PROMISES, promise["metadata"]["name"]) or {}).get("status", {}).get("status")
                == "Available"
            )
        )
        things = k.Resource(group, "v1", "things", True, "Thing")
        kube.create(
            things,
            {
                "apiVersion": f"{group}/v1",
                "kind": "Thing",
                "metadata": {"name": "one", "namespace": "default"},
            },
        )
        done = wait_for(
            lambda: any(
                c.get("type") == "ConfigureWorkflowCompleted" and c.get("status") == "True"
                for c in ((kube.get(things, "one", "default") or {}).get("status") or {}).get("conditions")
                or []
            )
        )
        assert done
        works = kube.list(r.WORKS, "default", labels={"kratix.io/resource-name": "one"})
        assert len(works) == 1
        if state_repo is not None:  # the suite's own Destination: the Work's file is in its repository
            git, repo = state_repo
            prefix = f"e2e-worker/resources/default/e2e-{suffix}/one/write/"

            def files() -> list[str]:
                listed = subprocess.run(
                    ["git", "--git-dir", str(git.repo_path(repo)), "ls-tree", "-r", "--name-only", "HEAD"],
                    capture_output=True, text=True, check=False,
                )  # fmt: skip
                return [
                    f for f in listed.stdout.splitlines() if f.startswith(prefix) and f.endswith("/cm.yaml")
                ]

            assert wait_for(files, timeout=60), f"no {prefix}<hash>/cm.yaml in the state store"
    finally:
        kube.delete(r.PROMISES, promise["metadata"]["name"])
