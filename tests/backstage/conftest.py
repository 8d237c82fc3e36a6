"""Runs ``js/check.mjs``: Backstage's own packages, installed by ``make setup-backstage``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
JS = HERE / "js"
DATA = HERE / "data"
REPO = HERE.parents[1]
EXAMPLES = REPO / "examples" / "promises"

Check = Callable[[dict[str, Any]], dict[str, Any]]


def _missing() -> str | None:
    if shutil.which("node") is None:
        return "Node.js is not installed"
    if not (JS / "node_modules" / "@backstage" / "catalog-model").is_dir():
        return "the Backstage packages are not installed"
    return None


@pytest.fixture(scope="session")
def backstage_check(tmp_path_factory: pytest.TempPathFactory) -> Check:
    """``check({"entityFiles": [...], "templates": [...]})`` -> what Backstage's packages said."""
    missing = _missing()
    if missing:
        reason = f"{missing}: run 'make setup-backstage' (scripts/setup-backstage-js.sh)"
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI must run these, never skip them
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("backstage-check")

    def check(request: dict[str, Any]) -> dict[str, Any]:
        path = folder / f"request-{len(list(folder.iterdir()))}.json"
        path.write_text(json.dumps(request))
        done = subprocess.run(
            ["node", str(JS / "check.mjs"), str(path)],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert done.returncode == 0, f"check.mjs failed:\n{done.stderr}"
        return dict(json.loads(done.stdout))

    return check
