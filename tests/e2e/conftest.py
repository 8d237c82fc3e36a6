"""The cluster end-to-end suite: kratix-py installed by its chart, on a real API server.

With ``KUBECONFIG`` set (``make e2e-kind``) it runs against that cluster, where the chart's own
operator runs from the image ``$IMAGE``. Without it, against the project's real control plane
(``chart_cluster``: etcd, kube-apiserver and kube-controller-manager built by ``make
setup-components``, pods run by the kubelet stand-in with podman) with the chart installed and
kratix-py's operator running in this process with a token of the chart's ServiceAccount, never
admin; pipelines run as real containers of kratix-py's image, and Works go to a Destination
backed by a real Git server. Under ``CI=true`` a missing component fails instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.local_platform.gitserver import GitServer
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.operator import resources as r

ON_GIVEN_CLUSTER = bool(os.environ.get("KUBECONFIG"))
DESTINATION = "e2e-worker"
GIT_USER = "kratix"


@pytest.fixture(scope="module")
def e2e_cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """Where the suite runs: ``{"kubeconfig": admin kubeconfig, "image": pipeline image, ...}``."""
    if ON_GIVEN_CLUSTER:
        yield {
            "kubeconfig": os.environ["KUBECONFIG"],
            "image": os.environ.get("IMAGE", "kratix-py:e2e"),
            "git": None,
        }
        return
    cluster = request.getfixturevalue("chart_cluster")
    image: str = request.getfixturevalue("kratix_image")
    password = uuid.uuid4().hex
    git = GitServer(
        username=GIT_USER, password=password, https=False, parent_dir=tmp_path_factory.mktemp("e2e-git")
    )
    git.start()
    admin = cluster.admin()
    previous = (os.environ.get("KUBECONFIG"), kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION)
    try:
        git.create_repo("state")
        _state_store_and_destination(admin, git.http_url("state"), password)
        # The test reads $KUBECONFIG, as it would on any cluster: the admin's, not the operator's.
        os.environ["KUBECONFIG"] = str(cluster.admin_kubeconfig)
        kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(cluster.admin_kubeconfig)
        settings = settings_for(str(cluster.operator_kubeconfig), pipeline_adapter_image=image)
        with RunningOperator(settings):
            yield {"kubeconfig": str(cluster.admin_kubeconfig), "image": image, "git": git, "repo": "state"}
    finally:
        if previous[0] is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = previous[0]
        kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION = previous[1]
        admin.api_client.close()
        cluster.clean()  # the next real-cluster test starts from the chart's install
        git.stop()


def _state_store_and_destination(admin: k.Kube, url: str, password: str) -> None:
    admin.create(
        k.SECRETS,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "e2e-git", "namespace": "default"},
            "stringData": {"username": GIT_USER, "password": password},
        },
    )
    admin.create(
        r.GIT_STATE_STORES,
        {
            "apiVersion": c.API_VERSION,
            "kind": "GitStateStore",
            "metadata": {"name": "e2e"},
            "spec": {"url": url, "secretRef": {"name": "e2e-git", "namespace": "default"}},
        },
    )
    admin.create(
        r.DESTINATIONS,
        {
            "apiVersion": c.API_VERSION,
            "kind": "Destination",
            "metadata": {"name": DESTINATION, "labels": {"environment": "dev"}},
            "spec": {"path": DESTINATION, "stateStoreRef": {"kind": "GitStateStore", "name": "e2e"}},
        },
    )


@pytest.fixture
def kube(e2e_cluster: dict[str, Any]) -> Iterator[k.Kube]:
    client = k.load_api_client(e2e_cluster["kubeconfig"])
    yield k.Kube(client)
    client.close()


@pytest.fixture
def pipeline_image(e2e_cluster: dict[str, Any]) -> str:
    """An image the cluster has, with python3: kratix-py's own."""
    return str(e2e_cluster["image"])


@pytest.fixture
def state_repo(e2e_cluster: dict[str, Any]) -> tuple[GitServer, str] | None:
    """The Git server and repository behind the Destination, when this suite made them."""
    git = e2e_cluster.get("git")
    return (git, e2e_cluster["repo"]) if git is not None else None
