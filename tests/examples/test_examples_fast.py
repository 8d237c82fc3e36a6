"""The example Promises through the whole local platform, with each pipeline's own code run
in-process (fast mode): Promise -> request -> pipeline -> Work -> Git state store.

This covers every Redis mode and PostgreSQL size in seconds; test_examples_containers.py runs
each example request once with the real pipeline images.
"""

from __future__ import annotations

from typing import Any

import pytest

from kratix_py import contract as c
from kratix_py.operator import resources as r

from .conftest import dependencies_file, resource_dir
from .helpers import configure_image, fast_step, pipeline_module, promise_body, request_resource, work_files

pytestmark = pytest.mark.slow


def fast_system(example_system, promise: str):
    image, _ = configure_image(promise)
    system = example_system(pods="fast", steps={image: fast_step(pipeline_module(promise))})
    system.install(promise)
    return system


def request(kind: str, name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "marketplace.kratix.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"teamName": "team-b", **spec},
    }


REDIS_MODES = {
    "standalone": {"redis-config.yaml": "ConfigMap", "redis.yaml": "Redis"},
    "sentinel": {
        "redis-config.yaml": "ConfigMap",
        "redis-replication.yaml": "RedisReplication",
        "redis-sentinel.yaml": "RedisSentinel",
    },
    "cluster": {"redis-config.yaml": "ConfigMap", "redis-cluster.yaml": "RedisCluster"},
}


def test_every_redis_mode_lands_its_operator_resources_in_git(example_system):
    system = fast_system(example_system, "redis")
    resource = request_resource("redis")
    for mode in REDIS_MODES:
        system.kube.create(resource, request("Redis", f"cache-{mode}", mode=mode, maxMemory="128mb"))

    for mode, expected in REDIS_MODES.items():
        name = f"cache-{mode}"
        obj = system.configured("redis", name)
        assert obj["status"]["mode"] == mode and obj["status"]["maxMemory"] == "128mb"

        (work,) = system.kube.list(r.WORKS, "default", labels={c.LABEL_RESOURCE_NAME: name})
        assert {path: doc["kind"] for path, doc in work_files(work).items()} == expected

        files = system.landed(resource_dir("redis", name), set(expected))
        assert {path: doc["kind"] for path, doc in files.items()} == expected
        config = files["redis-config.yaml"]["data"]["redis-additional.conf"]
        assert config.startswith("maxmemory 128mb\nmaxmemory-policy allkeys-lru\n")
        for path, doc in files.items():
            assert doc["metadata"]["namespace"] == "default", path
            assert doc["metadata"]["labels"]["marketplace.kratix.io/team"] == "team-b", path
        servers = [
            doc for path, doc in files.items() if path not in ("redis-config.yaml", "redis-sentinel.yaml")
        ]
        assert len(servers) == 1
        assert servers[0]["apiVersion"] == "redis.redis.opstreelabs.in/v1beta2"
        assert servers[0]["metadata"]["name"] == name
        # The API server filled in the default version, 7.2; 128mb of maxmemory -> 192Mi containers.
        assert servers[0]["spec"]["kubernetesConfig"]["image"] == "quay.io/opstree/redis:v7.2.7"
        assert servers[0]["spec"]["kubernetesConfig"]["resources"]["limits"]["memory"] == "192Mi"

    # The operator the resources need goes to the Destination once, as the Promise's dependencies.
    documents = system.landed_documents(dependencies_file("redis"))
    assert documents == promise_body("redis")["spec"]["dependencies"]


@pytest.mark.parametrize("backups", [False, True])
def test_postgresql_sizes_become_clusters_of_that_size_in_git(example_system, backups):
    system = fast_system(example_system, "postgresql")
    resource = request_resource("postgresql")
    expected = {"small": (1, "512Mi", "1Gi"), "medium": (2, "1Gi", "10Gi"), "large": (3, "4Gi", "50Gi")}
    for size in expected:
        system.kube.create(resource, request("PostgreSQL", f"db-{size}", size=size, backups=backups))

    for size, (instances, memory, storage) in expected.items():
        name = f"db-{size}"
        obj = system.configured("postgresql", name)
        assert obj["status"]["instances"] == instances
        assert obj["status"]["connection"]["host"] == f"{name}-rw.default.svc"
        names = {"cluster.yaml", "scheduled-backup.yaml"} if backups else {"cluster.yaml"}
        files = system.landed(resource_dir("postgresql", name), names)
        cluster = files["cluster.yaml"]
        assert cluster["kind"] == "Cluster" and cluster["metadata"]["name"] == name
        assert cluster["spec"]["instances"] == instances
        assert cluster["spec"]["resources"]["limits"]["memory"] == memory
        assert cluster["spec"]["storage"]["size"] == storage
        assert cluster["spec"]["imageName"] == "ghcr.io/cloudnative-pg/postgresql:16.4"
        if backups:
            assert files["scheduled-backup.yaml"]["spec"]["cluster"] == {"name": name}
            # The Promise's container env reached the pipeline.
            assert cluster["spec"]["backup"]["volumeSnapshot"]["className"] == "csi-snapclass"

    documents = system.landed_documents(dependencies_file("postgresql"))
    assert [d["kind"] for d in documents] == ["Namespace", "ServiceAccount", "Deployment"]


def test_a_changed_request_replaces_its_files_in_git(example_system):
    system = fast_system(example_system, "redis")
    resource = request_resource("redis")
    system.kube.create(resource, request("Redis", "cache", mode="standalone"))
    system.configured("redis", "cache")
    system.landed(resource_dir("redis", "cache"), set(REDIS_MODES["standalone"]))

    system.kube.patch(resource, "cache", {"spec": {"mode": "cluster"}}, "default")
    files = system.landed(resource_dir("redis", "cache"), set(REDIS_MODES["cluster"]))
    assert files["redis-cluster.yaml"]["spec"]["clusterSize"] == 3
