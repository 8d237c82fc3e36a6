"""Each example Promise end to end with real containers: its pipeline image is built from the
Dockerfile next to the Promise, the example request is applied, and the manifests must land in
the Git state store. This is the flow the README demo shows."""

from __future__ import annotations

import pytest

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.local_platform.kratix_image import build_pipeline_image
from kratix_py.testing.fixtures import wait_for

from .conftest import dependencies_file, resource_dir
from .helpers import configure_image, example_request, request_resource

pytestmark = [pytest.mark.containers, pytest.mark.slow]


@pytest.fixture
def container_system(example_system, kratix_image, base_image):
    return example_system(pods="podman")


def build(promise: str) -> str:
    image, source = configure_image(promise)
    return build_pipeline_image(source, image)


def pipeline_pod_containers(kube: k.Kube, name: str) -> list[str]:
    """The containers the request's pipeline pod ran, in order, once all of them exited 0."""
    (job,) = kube.list(k.JOBS, "default", labels={c.LABEL_RESOURCE_NAME: name})
    # The status-writer marks the workflow complete just before it exits: wait for the pod too.
    pod = wait_for(
        lambda: next(
            (
                p
                for p in kube.list(k.PODS, "default", labels={"job-name": job["metadata"]["name"]})
                if p["status"].get("phase") == "Succeeded"
            ),
            None,
        ),
        what="the pipeline pod to succeed",
    )
    statuses = pod["status"]["initContainerStatuses"] + pod["status"]["containerStatuses"]
    assert all(s["state"]["terminated"]["exitCode"] == 0 for s in statuses)
    return [s["name"] for s in statuses]


def test_the_postgresql_example_request_lands_a_medium_cloudnative_pg_cluster_in_git(container_system):
    build("postgresql")
    system = container_system
    system.install("postgresql")
    system.kube.create(request_resource("postgresql"), example_request("postgresql"))

    obj = system.configured("postgresql", "team-a-db", timeout=90)
    assert obj["status"]["message"] == "PostgreSQL 16 (medium, 2 instances) at team-a-db-rw.default.svc:5432"
    assert pipeline_pod_containers(system.kube, "team-a-db") == [
        "reader",
        "cloudnative-pg-cluster",
        "work-writer",
        "status-writer",
    ]

    files = system.landed(resource_dir("postgresql", "team-a-db"), {"cluster.yaml"})
    cluster = files["cluster.yaml"]
    assert (cluster["apiVersion"], cluster["kind"]) == ("postgresql.cnpg.io/v1", "Cluster")
    assert cluster["metadata"]["name"] == "team-a-db" and cluster["metadata"]["namespace"] == "default"
    assert cluster["metadata"]["labels"]["marketplace.kratix.io/team"] == "team-a"
    spec = cluster["spec"]
    assert spec["instances"] == 2
    assert spec["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "500m", "memory": "1Gi"},
    }
    assert spec["storage"] == {"size": "10Gi"}
    assert spec["imageName"] == "ghcr.io/cloudnative-pg/postgresql:16.4"

    deployment = system.landed_documents(dependencies_file("postgresql"))[2]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "ghcr.io/cloudnative-pg/cloudnative-pg:1.24.1"
    )


def test_the_redis_example_request_lands_a_sentinel_setup_in_git(container_system):
    build("redis")
    system = container_system
    system.install("redis")
    system.kube.create(request_resource("redis"), example_request("redis"))

    obj = system.configured("redis", "team-a-cache", timeout=90)
    assert obj["status"]["connection"] == {
        "host": "team-a-cache-sentinel.default.svc",
        "port": 26379,
        "masterGroup": "mymaster",
    }
    files = system.landed(
        resource_dir("redis", "team-a-cache"),
        {"redis-config.yaml", "redis-replication.yaml", "redis-sentinel.yaml"},
    )
    assert files["redis-replication.yaml"]["kind"] == "RedisReplication"
    assert files["redis-replication.yaml"]["spec"]["clusterSize"] == 3
    assert (
        files["redis-replication.yaml"]["spec"]["kubernetesConfig"]["resources"]["limits"]["memory"]
        == "768Mi"
    )
    assert (
        files["redis-sentinel.yaml"]["spec"]["redisSentinelConfig"]["redisReplicationName"] == "team-a-cache"
    )
    assert "maxmemory 512mb\n" in files["redis-config.yaml"]["data"]["redis-additional.conf"]
