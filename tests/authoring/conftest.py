"""Helpers for the authoring tests: the commands run through ``kratix_py.cli.main`` as users run them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from kratix_py import cli

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "promises"

AUTHORING_COMMANDS = {
    "render": ("kratix_py.authoring.render", "render a Promise's pipelines locally"),
    "validate": ("kratix_py.authoring.validate", "validate a Promise and requests offline"),
    "test": ("kratix_py.authoring.testcmd", "golden tests of a Promise"),
    "init": ("kratix_py.authoring.init", "scaffold a Promise"),
    "backstage": ("kratix_py.authoring.backstage", "Backstage template and entities for a Promise"),
}


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., Outcome]:
    """``run_cli("validate", "promise.yaml")``: exit code and what was printed."""
    monkeypatch.setattr(cli, "COMMANDS", {**cli.COMMANDS, **AUTHORING_COMMANDS})

    def run(*argv: str | Path) -> Outcome:
        capsys.readouterr()
        code = cli.main([str(a) for a in argv])
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run
