"""The Redis Promise's instance-configure pipeline, run in-process on hand-made requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .helpers import PipelineRun, kinds, pipeline_module, run_pipeline

redis = pipeline_module("redis")
API = "redis.redis.opstreelabs.in/v1beta2"


def request(name: str = "sessions", namespace: str = "shop", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "marketplace.kratix.io/v1alpha1",
        "kind": "Redis",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"teamName": "team-a", **spec},
    }


def run(tmp_path: Path, obj: dict[str, Any]) -> PipelineRun:
    return run_pipeline(redis, obj, tmp_path / "run")


def server_resources(memory: str) -> dict[str, Any]:
    return {"requests": {"cpu": "100m", "memory": memory}, "limits": {"cpu": "500m", "memory": memory}}


def test_standalone_is_one_redis_with_the_extra_config(tmp_path):
    result = run(tmp_path, request(mode="standalone", maxMemory="256mb", version="7.2"))
    assert result.exit_code == 0, result.stderr
    assert kinds(result.files) == {"redis-config.yaml": "ConfigMap", "redis.yaml": "Redis"}
    server = result.files["redis.yaml"]
    assert server["apiVersion"] == API
    assert server["metadata"]["name"] == "sessions" and server["metadata"]["namespace"] == "shop"
    assert server["spec"] == {
        "kubernetesConfig": {
            "image": "quay.io/opstree/redis:v7.2.7",
            "imagePullPolicy": "IfNotPresent",
            "resources": server_resources("384Mi"),
        },
        "redisConfig": {"additionalRedisConfig": "sessions-redis-config"},
        "podSecurityContext": {"runAsUser": 1000, "fsGroup": 1000},
    }
    assert result.status["connection"] == {"host": "sessions.shop.svc", "port": 6379}
    assert result.status["servers"] == 1
    assert (
        result.status["message"]
        == "Redis 7.2 (standalone, maxmemory 256mb): connect to sessions.shop.svc:6379"
    )


def test_sentinel_is_a_replication_of_three_watched_by_three_sentinels(tmp_path):
    result = run(tmp_path, request(mode="sentinel", maxMemory="1gb", version="7.0"))
    assert kinds(result.files) == {
        "redis-config.yaml": "ConfigMap",
        "redis-replication.yaml": "RedisReplication",
        "redis-sentinel.yaml": "RedisSentinel",
    }
    replication = result.files["redis-replication.yaml"]
    assert replication["apiVersion"] == API and replication["metadata"]["name"] == "sessions"
    assert replication["spec"]["clusterSize"] == 3
    assert replication["spec"]["kubernetesConfig"]["image"] == "quay.io/opstree/redis:v7.0.15"
    assert replication["spec"]["kubernetesConfig"]["resources"] == server_resources("1536Mi")
    assert replication["spec"]["redisConfig"] == {"additionalRedisConfig": "sessions-redis-config"}

    sentinel = result.files["redis-sentinel.yaml"]
    assert sentinel["apiVersion"] == API and sentinel["metadata"]["namespace"] == "shop"
    assert sentinel["spec"]["clusterSize"] == 3
    assert sentinel["spec"]["kubernetesConfig"]["image"] == "quay.io/opstree/redis-sentinel:v7.0.15"
    assert sentinel["spec"]["redisSentinelConfig"] == {
        "redisReplicationName": "sessions",
        "masterGroupName": "mymaster",
        "quorum": "2",
    }
    assert result.status["connection"] == {
        "host": "sessions-sentinel.shop.svc",
        "port": 26379,
        "masterGroup": "mymaster",
    }
    assert result.status["servers"] == 3
    assert (
        "ask the Sentinels at sessions-sentinel.shop.svc:26379 for master mymaster"
        in result.status["message"]
    )


def test_cluster_is_three_shards_whose_leaders_and_followers_share_the_config(tmp_path):
    result = run(tmp_path, request(mode="cluster", maxMemory="100mb"))
    assert kinds(result.files) == {"redis-config.yaml": "ConfigMap", "redis-cluster.yaml": "RedisCluster"}
    spec = result.files["redis-cluster.yaml"]["spec"]
    assert spec["clusterSize"] == 3 and spec["clusterVersion"] == "v7"
    assert spec["persistenceEnabled"] is False
    assert spec["kubernetesConfig"]["image"] == "quay.io/opstree/redis:v7.2.7"
    assert spec["kubernetesConfig"]["resources"] == server_resources("150Mi")
    config = {"redisConfig": {"additionalRedisConfig": "sessions-redis-config"}}
    assert spec["redisLeader"] == config and spec["redisFollower"] == config
    assert "redisConfig" not in spec, "a RedisCluster takes its config per role"
    assert result.status["connection"] == {"host": "sessions-leader.shop.svc", "port": 6379}
    assert result.status["servers"] == 6


@pytest.mark.parametrize("mode", ["standalone", "sentinel", "cluster"])
def test_every_mode_gets_maxmemory_an_lru_policy_and_no_persistence(tmp_path, mode):
    result = run(tmp_path, request(mode=mode, maxMemory="2gb"))
    config = result.files["redis-config.yaml"]
    assert config["metadata"]["name"] == "sessions-redis-config" and config["metadata"]["namespace"] == "shop"
    assert config["data"] == {
        "redis-additional.conf": 'maxmemory 2gb\nmaxmemory-policy allkeys-lru\nsave ""\nappendonly no\n'
    }
    for doc in result.files.values():
        assert doc["metadata"]["labels"]["marketplace.kratix.io/team"] == "team-a"
        assert doc["metadata"]["labels"]["marketplace.kratix.io/redis-mode"] == mode
    assert result.status["mode"] == mode and result.status["maxMemory"] == "2gb"


@pytest.mark.parametrize(
    ("max_memory", "memory"),
    [
        ("256mb", "384Mi"),
        ("1mb", "2Mi"),
        ("3mb", "5Mi"),
        ("100mb", "150Mi"),
        ("1gb", "1536Mi"),
        ("3gb", "4608Mi"),
    ],
)
def test_servers_get_one_and_a_half_times_maxmemory_rounded_up(max_memory, memory):
    assert redis.server_memory(max_memory) == memory


def test_a_hand_written_request_without_optional_fields_gets_the_crd_defaults(tmp_path):
    result = run(tmp_path, request())
    assert kinds(result.files)["redis.yaml"] == "Redis"
    assert result.files["redis.yaml"]["spec"]["kubernetesConfig"]["image"] == "quay.io/opstree/redis:v7.2.7"
    assert "maxmemory 256mb\n" in result.files["redis-config.yaml"]["data"]["redis-additional.conf"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"teamName": None}, "spec.teamName is required: the team that owns the cache"),
        ({"mode": "replica"}, "spec.mode must be one of standalone, sentinel, cluster (got 'replica')"),
        ({"version": "6.2"}, "spec.version must be one of 7.0, 7.2 (got '6.2')"),
        (
            {"maxMemory": "256MB"},
            "spec.maxMemory must be a whole number of mb or gb, like 256mb or 2gb (got '256MB')",
        ),
        (
            {"maxMemory": "0mb"},
            "spec.maxMemory must be a whole number of mb or gb, like 256mb or 2gb (got '0mb')",
        ),
    ],
)
def test_a_request_the_pipeline_cannot_build_fails_with_one_line_naming_the_field(tmp_path, spec, message):
    result = run(tmp_path, request(**spec))
    assert result.exit_code == 1
    assert result.stderr == f"redis instance-configure: {message}\n"
    assert result.files == {} and result.status == {}


def test_the_output_is_byte_for_byte_the_same_on_every_run(tmp_path):
    first = run_pipeline(redis, request(mode="sentinel"), tmp_path / "one")
    second = run_pipeline(redis, request(mode="sentinel"), tmp_path / "two")
    assert first.raw == second.raw and first.status == second.status
