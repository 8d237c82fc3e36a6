"""The PostgreSQL Promise's resource configure pipeline: a request becomes a CloudNativePG Cluster.

It reads the PostgreSQL request from ``/kratix/input/object.yaml`` and writes

* ``cluster.yaml``: a ``postgresql.cnpg.io/v1`` Cluster named after the request, in the request's
  namespace, sized from ``spec.size`` (see :data:`SIZES` and the table in README.md);
* ``scheduled-backup.yaml``: a nightly ScheduledBackup, only when ``spec.backups`` is true;
* the request's status: where to connect, the size and the number of instances.

Only :mod:`kratix_py.sdk` is used (standard library + PyYAML), so the image needs nothing else.
The output depends on the request alone, never on the clock, so reruns change nothing in Git.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

from kratix_py import sdk


@dataclass(frozen=True)
class Size:
    """What one size buys. CPU and memory are per instance, and requested as much as limited."""

    instances: int
    cpu: str
    memory: str
    storage: str


# Keep in step with README.md and the size description in promise.yaml.
SIZES: dict[str, Size] = {
    "small": Size(instances=1, cpu="250m", memory="512Mi", storage="1Gi"),
    "medium": Size(instances=2, cpu="500m", memory="1Gi", storage="10Gi"),
    "large": Size(instances=3, cpu="1", memory="4Gi", storage="50Gi"),
}

# Major version -> operand image, pinned to a minor release: the pipeline reruns whenever the
# request or the Promise changes, and a rerun must never upgrade a database by surprise.
IMAGES: dict[str, str] = {
    "14": "ghcr.io/cloudnative-pg/postgresql:14.13",
    "15": "ghcr.io/cloudnative-pg/postgresql:15.8",
    "16": "ghcr.io/cloudnative-pg/postgresql:16.4",
}

# The CRD defaults these already; repeated so the pipeline also works on a hand-written object.yaml.
DEFAULT_SIZE = "small"
DEFAULT_VERSION = "16"

SNAPSHOT_CLASS_ENV = "BACKUP_SNAPSHOT_CLASS"
DEFAULT_SNAPSHOT_CLASS = "csi-snapclass"
# CloudNativePG cron schedules start with a seconds field: 02:00:00 every day.
BACKUP_SCHEDULE = "0 0 2 * * *"

TEAM_LABEL = "marketplace.kratix.io/team"
PORT = 5432
DATABASE = "app"


class RequestError(ValueError):
    """The request asks for something this pipeline cannot build; the message names the field."""


@dataclass(frozen=True)
class Plan:
    """Everything the pipeline writes, worked out before anything touches the disk."""

    files: dict[str, dict[str, Any]]
    status: dict[str, Any]


def _choice(request: sdk.PipelineObject, field: str, default: str, allowed: dict[str, Any]) -> str:
    value = request.get(f"spec.{field}")
    value = default if value is None else str(value)
    if value not in allowed:
        raise RequestError(f"spec.{field} must be one of {', '.join(allowed)} (got {value!r})")
    return value


def _labels(name: str, team: str, size: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "postgresql",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/managed-by": "kratix",
        TEAM_LABEL: team,
        "marketplace.kratix.io/size": size,
    }


def cluster(
    name: str, namespace: str, team: str, size_name: str, version: str, backups: bool, snapshot_class: str
) -> dict[str, Any]:
    """The CloudNativePG Cluster for one request."""
    size = SIZES[size_name]
    compute = {"cpu": size.cpu, "memory": size.memory}
    spec: dict[str, Any] = {
        "description": f"PostgreSQL {version} for team {team}",
        "instances": size.instances,
        "imageName": IMAGES[version],
        # Replicas are rebuilt and the primary switched over without waiting for a person.
        "primaryUpdateStrategy": "unsupervised",
        "bootstrap": {"initdb": {"database": DATABASE, "owner": DATABASE}},
        # requests == limits: databases get the Guaranteed QoS class and are evicted last.
        "resources": {"requests": dict(compute), "limits": dict(compute)},
        "storage": {"size": size.storage},
        # Pods, PVCs and Services CloudNativePG creates carry the team too (for cost reports).
        "inheritedMetadata": {"labels": {TEAM_LABEL: team}},
    }
    if backups:
        spec["backup"] = {"volumeSnapshot": {"className": snapshot_class}}
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": name, "namespace": namespace, "labels": _labels(name, team, size_name)},
        "spec": spec,
    }


def scheduled_backup(name: str, namespace: str, team: str, size_name: str) -> dict[str, Any]:
    """A nightly volume-snapshot backup of the request's Cluster."""
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "ScheduledBackup",
        "metadata": {
            "name": f"{name}-nightly",
            "namespace": namespace,
            "labels": _labels(name, team, size_name),
        },
        "spec": {
            "schedule": BACKUP_SCHEDULE,
            "method": "volumeSnapshot",
            "cluster": {"name": name},
            # The backups go with the ScheduledBackup, i.e. when the request is deleted.
            "backupOwnerReference": "self",
        },
    }


def plan(request: sdk.PipelineObject, snapshot_class: str = DEFAULT_SNAPSHOT_CLASS) -> Plan:
    """The files and status for ``request`` (raises :class:`RequestError`)."""
    name = request.name
    if not name:
        raise RequestError("the request has no metadata.name")
    namespace = request.namespace or sdk.object_namespace() or "default"
    team = request.get("spec.teamName")
    if not isinstance(team, str) or not team:
        raise RequestError("spec.teamName is required: the team that owns the database")
    size_name = _choice(request, "size", DEFAULT_SIZE, SIZES)
    version = _choice(request, "version", DEFAULT_VERSION, IMAGES)
    backups = request.get("spec.backups") is True

    files = {"cluster.yaml": cluster(name, namespace, team, size_name, version, backups, snapshot_class)}
    if backups:
        files["scheduled-backup.yaml"] = scheduled_backup(name, namespace, team, size_name)

    size = SIZES[size_name]
    host = f"{name}-rw.{namespace}.svc"
    instances = "1 instance" if size.instances == 1 else f"{size.instances} instances"
    status = {
        "message": f"PostgreSQL {version} ({size_name}, {instances}) at {host}:{PORT}",
        "connection": {
            "host": host,
            "readOnlyHost": f"{name}-ro.{namespace}.svc",
            "port": PORT,
            "database": DATABASE,
            # CloudNativePG puts the application user's credentials (and a URI) in this Secret.
            "credentialsSecret": f"{name}-app",
        },
        "size": size_name,
        "instances": size.instances,
        "version": version,
        "backups": "nightly" if backups else "off",
    }
    return Plan(files=files, status=status)


def main() -> int:
    try:
        request = sdk.read_object()
        result = plan(request, os.environ.get(SNAPSHOT_CLASS_ENV) or DEFAULT_SNAPSHOT_CLASS)
    except (sdk.SdkError, RequestError) as error:
        # One line on stderr: it becomes the message of the request's failed-workflow condition.
        print(f"postgresql instance-configure: {error}", file=sys.stderr)
        return 1
    for filename, manifest in result.files.items():
        sdk.write_output(filename, manifest)
    sdk.write_status(result.status)
    print(f"{request.namespace}/{request.name}: {result.status['message']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
