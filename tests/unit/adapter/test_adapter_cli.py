"""``kratix-py pipeline-adapter``: one sub-command per step, Kratix's names as aliases, fast to load."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from kratix_py.adapter import cli


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pipeline-adapter")
    cli.add_arguments(parser)
    return parser


def test_each_step_is_a_sub_command_with_its_own_options() -> None:
    args = _parser().parse_args(["work-writer", "--promise-name", "redis", "--pipeline-name", "p"])
    assert (args.adapter_step, args.promise_name, args.input_directory) == (
        "work-writer",
        "redis",
        "/work-creator-files",
    )
    assert _parser().parse_args(["status-writer"]).metadata_directory == "/work-creator-files/metadata"
    assert _parser().parse_args(["reader"]).adapter_step == "reader"


def test_kratix_step_names_are_accepted() -> None:
    assert _parser().parse_args(["work-creator"]).adapter_step == "work-writer"
    assert _parser().parse_args(["update-status"]).adapter_step == "status-writer"


def test_a_step_is_required() -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args([])


def test_loading_the_command_does_not_import_the_kubernetes_client() -> None:
    code = "import sys, kratix_py.adapter.cli; print('kubernetes' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
