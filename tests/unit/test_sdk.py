"""The pipeline SDK writes exactly the files the adapter steps read (checked with the adapter's own parsers)."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from kratix_py import sdk
from kratix_py.core.status_merge import parse_status_file
from kratix_py.core.workflow_control import parse_workflow_control
from kratix_py.core.workloads import DirectorySelector, check_yaml_files, parse_destination_selectors

REQUEST = {
    "apiVersion": "marketplace.kratix.io/v1alpha1",
    "kind": "Redis",
    "metadata": {"name": "cache", "namespace": "team-a", "labels": {"team": "a"}},
    "spec": {"size": "small", "ports": [{"name": "redis", "port": 6379}]},
    "status": {"message": "Pending"},
}


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("input", "output", "metadata"):
        (tmp_path / name).mkdir()
    monkeypatch.setenv("INPUT_DIR", str(tmp_path / "input"))
    monkeypatch.setenv("OUTPUT_DIR", str(tmp_path / "output"))
    monkeypatch.setenv("METADATA_DIR", str(tmp_path / "metadata"))
    (tmp_path / "input" / "object.yaml").write_text(yaml.safe_dump(REQUEST))
    return tmp_path


def test_directories_default_to_the_pipeline_mounts(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("INPUT_DIR", "OUTPUT_DIR", "METADATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    assert (sdk.input_dir(), sdk.output_dir(), sdk.metadata_dir()) == (
        Path("/kratix/input"),
        Path("/kratix/output"),
        Path("/kratix/metadata"),
    )


def test_read_object_gives_names_sections_and_dotted_access(dirs: Path) -> None:
    request = sdk.read_object()
    assert (request.name, request.namespace, request.kind) == ("cache", "team-a", "Redis")
    assert request.api_version == "marketplace.kratix.io/v1alpha1"
    assert request.labels == {"team": "a"} and request.annotations == {}
    assert request.spec["size"] == "small" and request.status == {"message": "Pending"}
    assert request.get("spec.size") == "small"
    assert request.get("spec.ports.0.port") == 6379
    assert request.get("spec.ports.5.port", "none") == "none"
    assert request.get("spec.missing.deeper") is None
    assert repr(request) == "PipelineObject(Redis team-a/cache)"


def test_read_object_outside_a_pipeline_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INPUT_DIR", str(tmp_path))
    with pytest.raises(
        sdk.SdkError, match=r"object\.yaml does not exist; is this running inside a Kratix pipeline"
    ):
        sdk.read_object()


def test_environment_helpers(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "KRATIX_WORKFLOW_ACTION": "configure",
        "KRATIX_WORKFLOW_TYPE": "resource",
        "KRATIX_PROMISE_NAME": "redis",
        "KRATIX_PIPELINE_NAME": "instance",
        "KRATIX_OBJECT_KIND": "Redis",
        "KRATIX_OBJECT_NAME": "cache",
        "KRATIX_OBJECT_NAMESPACE": "team-a",
        "KRATIX_DRY_RUN": "true",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert (sdk.workflow_action(), sdk.workflow_type(), sdk.promise_name(), sdk.pipeline_name()) == (
        "configure",
        "resource",
        "redis",
        "instance",
    )
    assert (sdk.object_kind(), sdk.object_name(), sdk.object_namespace()) == ("Redis", "cache", "team-a")
    assert sdk.is_resource_workflow() and not sdk.is_promise_workflow()
    assert sdk.is_configure() and not sdk.is_delete()
    assert sdk.is_dry_run()


# -- output ----------------------------------------------------------------------------------------


def test_write_output_accepts_objects_document_lists_text_and_bytes(dirs: Path) -> None:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cache"}}
    sdk.write_output("namespace.yaml", namespace)
    sdk.write_output(
        "db/all.yaml", [namespace, {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}}]
    )
    sdk.write_output("notes.txt", "hello\n")
    sdk.write_output("blob.bin", b"\x00\x01")
    out = dirs / "output"
    assert yaml.safe_load((out / "namespace.yaml").read_text()) == namespace
    assert (out / "namespace.yaml").read_text().startswith("apiVersion: v1\nkind: Namespace\n")  # order kept
    assert list(yaml.safe_load_all((out / "db" / "all.yaml").read_text()))[1]["kind"] == "ConfigMap"
    assert (out / "notes.txt").read_text() == "hello\n"
    assert (out / "blob.bin").read_bytes() == b"\x00\x01"
    files = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    check_yaml_files(files)  # what the work-writer will check


@pytest.mark.parametrize("bad", ["../escape.yaml", "/etc/passwd", "", ".", "a/../../b"])
def test_write_output_refuses_paths_outside_the_output(dirs: Path, bad: str) -> None:
    with pytest.raises(sdk.SdkError):
        sdk.write_output(bad, "x")
    assert not (dirs / "escape.yaml").exists()


def test_write_output_refuses_unknown_content(dirs: Path) -> None:
    with pytest.raises(sdk.SdkError, match="cannot write a int"):
        sdk.write_output("x.yaml", 42)


# -- status ----------------------------------------------------------------------------------------


def test_write_status_accumulates_and_merges_conditions_by_type(dirs: Path) -> None:
    sdk.write_status({"message": "creating", "conditions": [{"type": "A", "status": "False"}]})
    sdk.write_status(
        {"endpoint": "x:1", "conditions": [{"type": "B", "status": "True"}, {"type": "A", "status": "True"}]}
    )
    status = parse_status_file((dirs / "metadata" / "status.yaml").read_text())
    assert status == {
        "message": "creating",
        "conditions": [{"type": "A", "status": "True"}, {"type": "B", "status": "True"}],
        "endpoint": "x:1",
    }
    assert sdk.read_status() == status


def test_write_status_refuses_the_kratix_field(dirs: Path) -> None:
    with pytest.raises(sdk.SdkError, match="'kratix' is a status field managed by kratix-py"):
        sdk.write_status({"kratix": {}})
    assert not (dirs / "metadata" / "status.yaml").exists()


# -- scheduling ------------------------------------------------------------------------------------


def test_destination_selectors_are_written_in_the_adapters_format_and_merged_by_directory(dirs: Path) -> None:
    sdk.write_destination_selectors(
        [{"matchLabels": {"env": "dev"}}, {"directory": "db/", "matchLabels": {"tier": "data"}}]
    )
    sdk.write_destination_selectors([{"directory": "db", "matchLabels": {"tier": "fast"}}])
    parsed = parse_destination_selectors((dirs / "metadata" / "destination-selectors.yaml").read_text())
    assert parsed == [DirectorySelector(".", {"env": "dev"}), DirectorySelector("db", {"tier": "fast"})]


@pytest.mark.parametrize(
    ("selector", "problem"),
    [
        ({"matchLabels": {}}, "needs a non-empty matchLabels"),
        ({"directory": "a/b", "matchLabels": {"x": "y"}}, "single top-level directory"),
        ({"directory": "..", "matchLabels": {"x": "y"}}, "single top-level directory"),
        ({"matchLabels": {"replicas": 3}}, "must be strings"),
    ],
)
def test_invalid_selectors_are_refused_before_the_adapter_sees_them(
    dirs: Path, selector: dict, problem: str
) -> None:
    with pytest.raises(sdk.SdkError, match=problem):
        sdk.write_destination_selectors([selector])


# -- workflow control ------------------------------------------------------------------------------


def test_suspend_writes_workflow_control(dirs: Path) -> None:
    path = sdk.suspend("waiting for approval")
    control = parse_workflow_control(path.read_text())
    assert (control.suspend, control.retry_after, control.message) == (True, None, "waiting for approval")


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        ("1h30m", timedelta(hours=1, minutes=30)),
        (timedelta(minutes=5), timedelta(minutes=5)),
        (timedelta(milliseconds=1500), timedelta(seconds=1.5)),
    ],
)
def test_retry_after_writes_a_go_duration(dirs: Path, duration: str | timedelta, expected: timedelta) -> None:
    control = parse_workflow_control(sdk.retry_after(duration, "not ready").read_text())
    assert control.retry_after == expected and control.message == "not ready"


@pytest.mark.parametrize("duration", ["5 minutes", "10", "-5m", timedelta(seconds=-1)])
def test_retry_after_refuses_what_the_adapter_would_reject(dirs: Path, duration: str | timedelta) -> None:
    with pytest.raises(sdk.SdkError):
        sdk.retry_after(duration)


def test_the_sdk_needs_only_the_standard_library_and_pyyaml() -> None:
    code = (
        "import sys; import kratix_py.sdk; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'kubernetes', 'kopf') "
        "or (m.startswith('kratix_py.') and m != 'kratix_py.sdk')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
