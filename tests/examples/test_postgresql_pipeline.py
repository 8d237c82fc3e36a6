"""The PostgreSQL Promise's instance-configure pipeline, run in-process on hand-made requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .helpers import PipelineRun, pipeline_module, run_pipeline

pg = pipeline_module("postgresql")


def request(name: str = "orders", namespace: str = "shop", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "marketplace.kratix.io/v1alpha1",
        "kind": "PostgreSQL",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"teamName": "team-a", **spec},
    }


def run(tmp_path: Path, obj: dict[str, Any], **env: str) -> PipelineRun:
    return run_pipeline(pg, obj, tmp_path / "run", env)


# The documented table (README.md), spelled out again so that a change to SIZES fails here.
SIZE_TABLE = {
    "small": (1, "250m", "512Mi", "1Gi"),
    "medium": (2, "500m", "1Gi", "10Gi"),
    "large": (3, "1", "4Gi", "50Gi"),
}


@pytest.mark.parametrize("size", list(SIZE_TABLE))
def test_each_size_becomes_a_cluster_with_its_instances_cpu_memory_and_storage(tmp_path, size):
    instances, cpu, memory, storage = SIZE_TABLE[size]
    result = run(tmp_path, request(size=size, version="15"))

    assert result.exit_code == 0, result.stderr
    assert sorted(result.files) == ["cluster.yaml"]
    cluster = result.files["cluster.yaml"]
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1" and cluster["kind"] == "Cluster"
    assert cluster["metadata"]["name"] == "orders" and cluster["metadata"]["namespace"] == "shop"
    spec = cluster["spec"]
    assert spec["instances"] == instances
    assert spec["resources"] == {
        "requests": {"cpu": cpu, "memory": memory},
        "limits": {"cpu": cpu, "memory": memory},
    }
    assert spec["storage"] == {"size": storage}
    assert spec["imageName"] == "ghcr.io/cloudnative-pg/postgresql:15.8"
    assert "backup" not in spec

    status = result.status
    assert status["size"] == size and status["instances"] == instances and status["version"] == "15"
    assert status["connection"]["host"] == "orders-rw.shop.svc"
    assert status["connection"]["port"] == 5432 and status["connection"]["credentialsSecret"] == "orders-app"
    plural = "instance" if instances == 1 else "instances"
    assert status["message"] == f"PostgreSQL 15 ({size}, {instances} {plural}) at orders-rw.shop.svc:5432"


def test_the_size_table_is_the_pipelines_table():
    assert {name: (s.instances, s.cpu, s.memory, s.storage) for name, s in pg.SIZES.items()} == SIZE_TABLE


@pytest.mark.parametrize(
    ("version", "image"),
    [
        ("14", "ghcr.io/cloudnative-pg/postgresql:14.13"),
        ("15", "ghcr.io/cloudnative-pg/postgresql:15.8"),
        ("16", "ghcr.io/cloudnative-pg/postgresql:16.4"),
    ],
)
def test_each_version_runs_a_pinned_minor_release(tmp_path, version, image):
    result = run(tmp_path, request(version=version))
    assert result.files["cluster.yaml"]["spec"]["imageName"] == image


def test_the_team_labels_the_cluster_and_everything_cloudnative_pg_makes_from_it(tmp_path):
    cluster = run(tmp_path, request(teamName="payments", size="large")).files["cluster.yaml"]
    assert cluster["metadata"]["labels"] == {
        "app.kubernetes.io/name": "postgresql",
        "app.kubernetes.io/instance": "orders",
        "app.kubernetes.io/managed-by": "kratix",
        "marketplace.kratix.io/team": "payments",
        "marketplace.kratix.io/size": "large",
    }
    assert cluster["spec"]["inheritedMetadata"] == {"labels": {"marketplace.kratix.io/team": "payments"}}
    assert cluster["spec"]["description"] == "PostgreSQL 16 for team payments"


def test_backups_add_a_nightly_snapshot_schedule_with_the_platforms_snapshot_class(tmp_path):
    result = run(tmp_path, request(backups=True), BACKUP_SNAPSHOT_CLASS="ceph-block")
    assert sorted(result.files) == ["cluster.yaml", "scheduled-backup.yaml"]
    assert result.files["cluster.yaml"]["spec"]["backup"] == {"volumeSnapshot": {"className": "ceph-block"}}
    backup = result.files["scheduled-backup.yaml"]
    assert backup["kind"] == "ScheduledBackup" and backup["apiVersion"] == "postgresql.cnpg.io/v1"
    assert backup["metadata"]["name"] == "orders-nightly" and backup["metadata"]["namespace"] == "shop"
    assert backup["spec"] == {
        "schedule": "0 0 2 * * *",
        "method": "volumeSnapshot",
        "cluster": {"name": "orders"},
        "backupOwnerReference": "self",
    }
    assert result.status["backups"] == "nightly"


def test_without_the_env_variable_backups_use_the_default_snapshot_class(tmp_path):
    result = run(tmp_path, request(backups=True))
    assert result.files["cluster.yaml"]["spec"]["backup"]["volumeSnapshot"]["className"] == "csi-snapclass"


def test_a_hand_written_request_without_optional_fields_gets_the_crd_defaults(tmp_path):
    result = run(tmp_path, request())
    spec = result.files["cluster.yaml"]["spec"]
    assert spec["instances"] == 1 and spec["storage"] == {"size": "1Gi"}
    assert spec["imageName"].endswith(":16.4")
    assert result.status["backups"] == "off"


def test_the_namespace_falls_back_to_the_pipeline_environment(tmp_path):
    obj = request()
    del obj["metadata"]["namespace"]
    result = run(tmp_path, obj, KRATIX_OBJECT_NAMESPACE="team-a-apps")
    assert result.files["cluster.yaml"]["metadata"]["namespace"] == "team-a-apps"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"teamName": ""}, "spec.teamName is required: the team that owns the database"),
        ({"size": "huge"}, "spec.size must be one of small, medium, large (got 'huge')"),
        ({"version": "13"}, "spec.version must be one of 14, 15, 16 (got '13')"),
    ],
)
def test_a_request_the_pipeline_cannot_build_fails_with_one_line_naming_the_field(tmp_path, spec, message):
    result = run(tmp_path, request(**spec))
    assert result.exit_code == 1
    assert result.stderr == f"postgresql instance-configure: {message}\n"
    assert result.files == {} and result.status == {}


def test_the_output_is_byte_for_byte_the_same_on_every_run(tmp_path):
    first = run_pipeline(pg, request(size="medium", backups=True), tmp_path / "one")
    second = run_pipeline(pg, request(size="medium", backups=True), tmp_path / "two")
    assert first.raw == second.raw
    assert first.status == second.status
