"""The Redis Promise's resource configure pipeline: a request becomes redis-operator resources.

The resources are those of the OT-Container-Kit redis-operator (``redis.redis.opstreelabs.in/v1beta2``),
the operator the Promise installs as its dependency. Each mode gets the kinds that build it:

==========  ======================================  =====================================
mode        files                                   servers
==========  ======================================  =====================================
standalone  ``redis.yaml`` (Redis)                  1 Redis
sentinel    ``redis-replication.yaml``              3 Redis (1 primary, 2 replicas)
            (RedisReplication),                     + 3 Sentinels
            ``redis-sentinel.yaml`` (RedisSentinel)
cluster     ``redis-cluster.yaml`` (RedisCluster)   3 shards x (1 leader + 1 follower)
==========  ======================================  =====================================

Every mode also gets ``redis-config.yaml``, a ConfigMap with the extra Redis configuration
(maxmemory and the eviction policy) that the operator adds to each server's redis.conf. The
request's status says where to connect.

Only :mod:`kratix_py.sdk` is used (standard library + PyYAML), so the image needs nothing else.
"""

from __future__ import annotations

import copy
import re
import sys
from dataclasses import dataclass
from typing import Any

from kratix_py import sdk

API_VERSION = "redis.redis.opstreelabs.in/v1beta2"

# Redis minor version -> (server image, Sentinel image), pinned to a patch release so that a
# rerun of the pipeline never upgrades a cache by surprise.
IMAGES: dict[str, tuple[str, str]] = {
    "7.0": ("quay.io/opstree/redis:v7.0.15", "quay.io/opstree/redis-sentinel:v7.0.15"),
    "7.2": ("quay.io/opstree/redis:v7.2.7", "quay.io/opstree/redis-sentinel:v7.2.7"),
}
MODES = ("standalone", "sentinel", "cluster")

# The CRD defaults these already; repeated so the pipeline also works on a hand-written object.yaml.
DEFAULT_MODE = "standalone"
DEFAULT_MAX_MEMORY = "256mb"
DEFAULT_VERSION = "7.2"

# Same rule as the CRD's pattern; Redis reads "mb"/"gb" as binary units (1mb = 1 MiB).
MAX_MEMORY = re.compile(r"^([1-9][0-9]{0,5})(mb|gb)$")
EVICTION_POLICY = "allkeys-lru"

REPLICAS = 3  # sentinel mode: Redis servers (one primary) and Sentinels
SHARDS = 3  # cluster mode: leaders, each with one follower
SENTINEL_QUORUM = 2  # a majority of the three Sentinels must agree the primary is down
MASTER_GROUP = "mymaster"
REDIS_PORT = 6379
SENTINEL_PORT = 26379

SERVER_CPU = {"requests": "100m", "limits": "500m"}  # Redis executes commands on one thread
SENTINEL_RESOURCES = {
    "requests": {"cpu": "50m", "memory": "64Mi"},
    "limits": {"cpu": "100m", "memory": "128Mi"},
}

TEAM_LABEL = "marketplace.kratix.io/team"


class RequestError(ValueError):
    """The request asks for something this pipeline cannot build; the message names the field."""


@dataclass(frozen=True)
class Plan:
    """Everything the pipeline writes, worked out before anything touches the disk."""

    files: dict[str, dict[str, Any]]
    status: dict[str, Any]


def max_memory_mib(value: str) -> int:
    """``256mb`` -> 256, ``2gb`` -> 2048 (raises :class:`RequestError` for anything else)."""
    match = MAX_MEMORY.match(value)
    if match is None:
        raise RequestError(
            f"spec.maxMemory must be a whole number of mb or gb, like 256mb or 2gb (got {value!r})"
        )
    amount, unit = int(match.group(1)), match.group(2)
    return amount * 1024 if unit == "gb" else amount


def server_memory(value: str) -> str:
    """Container memory for a server with maxmemory ``value``: 1.5 times it, rounded up to a MiB.

    Redis needs room beyond maxmemory for its own buffers, replication backlog and fragmentation;
    requests equal limits so the servers get the Guaranteed QoS class.
    """
    mib = max_memory_mib(value)
    return f"{(mib * 3 + 1) // 2}Mi"


def _choice(request: sdk.PipelineObject, field: str, default: str, allowed: tuple[str, ...]) -> str:
    value = request.get(f"spec.{field}")
    value = default if value is None else str(value)
    if value not in allowed:
        raise RequestError(f"spec.{field} must be one of {', '.join(allowed)} (got {value!r})")
    return value


def _metadata(name: str, namespace: str, team: str, mode: str) -> dict[str, Any]:
    labels = {
        "app.kubernetes.io/name": "redis",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/managed-by": "kratix",
        TEAM_LABEL: team,
        "marketplace.kratix.io/redis-mode": mode,
    }
    return {"name": name, "namespace": namespace, "labels": labels}


def config_map(name: str, namespace: str, team: str, mode: str, max_memory: str) -> dict[str, Any]:
    """Extra redis.conf lines, referenced by every server through ``additionalRedisConfig``."""
    metadata = _metadata(f"{name}-redis-config", namespace, team, mode)
    # A cache: evict instead of refusing writes, and keep nothing on disk (no RDB, no AOF).
    conf = f'maxmemory {max_memory}\nmaxmemory-policy {EVICTION_POLICY}\nsave ""\nappendonly no\n'
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": {"redis-additional.conf": conf},
    }


def _server(image: str, memory: str, config_name: str) -> dict[str, Any]:
    """The parts of a server spec that are the same in every mode."""
    return {
        "kubernetesConfig": {
            "image": image,
            "imagePullPolicy": "IfNotPresent",
            "resources": {
                "requests": {"cpu": SERVER_CPU["requests"], "memory": memory},
                "limits": {"cpu": SERVER_CPU["limits"], "memory": memory},
            },
        },
        "redisConfig": {"additionalRedisConfig": config_name},
        # The operator's images run Redis as this user.
        "podSecurityContext": {"runAsUser": 1000, "fsGroup": 1000},
    }


def resources(
    name: str, namespace: str, team: str, mode: str, max_memory: str, version: str
) -> dict[str, dict[str, Any]]:
    """File name -> manifest for one request."""
    image, sentinel_image = IMAGES[version]
    memory = server_memory(max_memory)
    config = config_map(name, namespace, team, mode, max_memory)
    config_name = config["metadata"]["name"]
    metadata = _metadata(name, namespace, team, mode)
    files: dict[str, dict[str, Any]] = {"redis-config.yaml": config}
    if mode == "standalone":
        files["redis.yaml"] = {
            "apiVersion": API_VERSION,
            "kind": "Redis",
            "metadata": metadata,
            "spec": _server(image, memory, config_name),
        }
    elif mode == "sentinel":
        files["redis-replication.yaml"] = {
            "apiVersion": API_VERSION,
            "kind": "RedisReplication",
            "metadata": metadata,
            "spec": {"clusterSize": REPLICAS, **_server(image, memory, config_name)},
        }
        files["redis-sentinel.yaml"] = {
            "apiVersion": API_VERSION,
            "kind": "RedisSentinel",
            "metadata": metadata,
            "spec": {
                "clusterSize": REPLICAS,
                "kubernetesConfig": {
                    "image": sentinel_image,
                    "imagePullPolicy": "IfNotPresent",
                    "resources": copy.deepcopy(SENTINEL_RESOURCES),
                },
                "redisSentinelConfig": {
                    "redisReplicationName": name,
                    "masterGroupName": MASTER_GROUP,
                    "quorum": str(SENTINEL_QUORUM),
                },
                "podSecurityContext": {"runAsUser": 1000, "fsGroup": 1000},
            },
        }
    else:  # cluster
        server = _server(image, memory, config_name)
        redis_config = server.pop("redisConfig")
        files["redis-cluster.yaml"] = {
            "apiVersion": API_VERSION,
            "kind": "RedisCluster",
            "metadata": metadata,
            "spec": {
                "clusterSize": SHARDS,
                "clusterVersion": "v7",
                "persistenceEnabled": False,
                **server,
                # Leaders and followers read the same extra configuration.
                "redisLeader": {"redisConfig": dict(redis_config)},
                "redisFollower": {"redisConfig": dict(redis_config)},
            },
        }
    return files


def _endpoint(name: str, namespace: str, mode: str) -> tuple[str, int, str]:
    """Host, port and the sentence that tells a team how to use them."""
    if mode == "sentinel":
        host = f"{name}-sentinel.{namespace}.svc"
        return host, SENTINEL_PORT, f"ask the Sentinels at {host}:{SENTINEL_PORT} for master {MASTER_GROUP}"
    host = f"{name}-leader.{namespace}.svc" if mode == "cluster" else f"{name}.{namespace}.svc"
    return host, REDIS_PORT, f"connect to {host}:{REDIS_PORT}"


def plan(request: sdk.PipelineObject) -> Plan:
    """The files and status for ``request`` (raises :class:`RequestError`)."""
    name = request.name
    if not name:
        raise RequestError("the request has no metadata.name")
    namespace = request.namespace or sdk.object_namespace() or "default"
    team = request.get("spec.teamName")
    if not isinstance(team, str) or not team:
        raise RequestError("spec.teamName is required: the team that owns the cache")
    mode = _choice(request, "mode", DEFAULT_MODE, MODES)
    version = _choice(request, "version", DEFAULT_VERSION, tuple(IMAGES))
    max_memory = request.get("spec.maxMemory")
    max_memory = DEFAULT_MAX_MEMORY if max_memory is None else str(max_memory)
    max_memory_mib(max_memory)  # validate before anything is built

    files = resources(name, namespace, team, mode, max_memory, version)
    host, port, how = _endpoint(name, namespace, mode)
    servers = {"standalone": 1, "sentinel": REPLICAS, "cluster": SHARDS * 2}[mode]
    status = {
        "message": f"Redis {version} ({mode}, maxmemory {max_memory}): {how}",
        "connection": {
            "host": host,
            "port": port,
            **({"masterGroup": MASTER_GROUP} if mode == "sentinel" else {}),
        },
        "mode": mode,
        "version": version,
        "maxMemory": max_memory,
        "servers": servers,
    }
    return Plan(files=files, status=status)


def main() -> int:
    try:
        request = sdk.read_object()
        result = plan(request)
    except (sdk.SdkError, RequestError) as error:
        # One line on stderr: it becomes the message of the request's failed-workflow condition.
        print(f"redis instance-configure: {error}", file=sys.stderr)
        return 1
    for filename, manifest in result.files.items():
        sdk.write_output(filename, manifest)
    sdk.write_status(result.status)
    print(f"{request.namespace}/{request.name}: {result.status['message']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
