"""Step contexts map container paths to host paths; step arguments parse without exiting."""

from __future__ import annotations

from pathlib import Path

import pytest

from kratix_py.adapter.arguments import ArgumentsError, canonical_step_name, parse_step_arguments
from kratix_py.adapter.context import ContainerContext, MountedContext, report_error


def test_mounted_context_maps_the_longest_matching_mount(tmp_path: Path) -> None:
    ctx = MountedContext(
        env={},
        mounts={"/work-creator-files": tmp_path / "root", "/work-creator-files/input": tmp_path / "output"},
    )
    assert ctx.path("/work-creator-files/input/a/b.yaml") == tmp_path / "output" / "a" / "b.yaml"
    assert ctx.path("/work-creator-files/metadata") == tmp_path / "root" / "metadata"
    assert ctx.path("/work-creator-files/input") == tmp_path / "output"
    # a sibling with a common string prefix is not inside the mount
    with pytest.raises(FileNotFoundError, match="/work-creator-filesX is not inside any volume"):
        ctx.path("/work-creator-filesX")


def test_errors_go_to_the_error_channel_when_there_is_one(capsys: pytest.CaptureFixture[str]) -> None:
    report_error(ContainerContext(env={}), "boom")
    assert capsys.readouterr().err == "boom\n"
    mounted = MountedContext(env={}, mounts={})
    report_error(mounted, "bad")
    assert mounted.lines == ["bad"]


def test_kratix_step_names_are_aliases() -> None:
    assert canonical_step_name("work-creator") == "work-writer"
    assert canonical_step_name("update-status") == "status-writer"
    with pytest.raises(ArgumentsError, match="unknown pipeline-adapter step 'writer'"):
        canonical_step_name("writer")


def test_work_writer_arguments_mirror_kratix_work_creator() -> None:
    parsed = parse_step_arguments(
        "work-creator",
        [
            "--input-directory",
            "/files",
            "--promise-name",
            "redis",
            "--pipeline-name",
            "p",
            "--workflow-type",
            "promise",
        ],
    )
    assert (parsed.input_directory, parsed.promise_name, parsed.pipeline_name) == ("/files", "redis", "p")
    assert (parsed.namespace, parsed.workflow_type, parsed.resource_name) == (
        "kratix-platform-system",
        "promise",
        "",
    )
    assert parse_step_arguments("work-writer", []).input_directory == "/work-creator-files"


def test_bad_arguments_raise_instead_of_exiting() -> None:
    with pytest.raises(ArgumentsError, match="unknown arguments for work-writer: --nope"):
        parse_step_arguments("work-writer", ["--nope"])
    with pytest.raises(ArgumentsError, match="invalid arguments for work-writer"):
        parse_step_arguments("work-writer", ["--workflow-type", "other"])
    with pytest.raises(ArgumentsError, match="unknown arguments for reader"):
        parse_step_arguments("reader", ["extra"])
