"""Reading the output directory: regular files only, with errors naming anything else."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kratix_py.adapter.output_files import read_pipeline_output
from kratix_py.core.workloads import PipelineOutputError


def test_regular_files_by_posix_relative_path_and_top_level_directories(tmp_path: Path) -> None:
    (tmp_path / "db" / "nested").mkdir(parents=True)
    (tmp_path / "empty").mkdir()
    (tmp_path / "a.yaml").write_bytes(b"a")
    (tmp_path / "db" / "nested" / "x.yaml").write_bytes(b"x")
    output = read_pipeline_output(tmp_path)
    assert output.files == {"a.yaml": b"a", "db/nested/x.yaml": b"x"}
    assert output.directories == {"db", "empty"}


def test_a_missing_output_directory_is_an_empty_output(tmp_path: Path) -> None:
    output = read_pipeline_output(tmp_path / "nothing")
    assert (dict(output.files), output.directories) == ({}, frozenset())


def test_symlinks_are_refused_even_inside_the_output(tmp_path: Path) -> None:
    (tmp_path / "real.yaml").write_text("a: 1\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "link.yaml").symlink_to("/etc/passwd")
    with pytest.raises(
        PipelineOutputError, match=r"output file sub/link\.yaml is a symbolic link \(to /etc/passwd\)"
    ):
        read_pipeline_output(tmp_path)


def test_symlinked_directories_are_refused(tmp_path: Path) -> None:
    (tmp_path / "dirlink").symlink_to(tmp_path.parent)
    with pytest.raises(PipelineOutputError, match="output file dirlink is a symbolic link"):
        read_pipeline_output(tmp_path)


def test_pipes_are_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(PipelineOutputError, match="output file fifo is not a regular file"):
        read_pipeline_output(tmp_path)


def test_file_names_must_be_utf8(tmp_path: Path) -> None:
    os.close(os.open(os.path.join(os.fsencode(tmp_path), b"bad-\xff.yaml"), os.O_CREAT | os.O_WRONLY))
    with pytest.raises(PipelineOutputError, match=r'output file name "bad-\\xff\.yaml" is not valid UTF-8'):
        read_pipeline_output(tmp_path)
