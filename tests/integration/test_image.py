"""kratix-py's image, built with podman from the repository's Dockerfile: one image, two roles."""

from __future__ import annotations

import pytest

from kratix_py import __version__
from kratix_py.local_platform.podman import run_podman

pytestmark = [pytest.mark.containers]


def test_the_image_runs_the_command_as_a_non_root_user(kratix_image):
    assert run_podman(["run", "--rm", kratix_image, "--version"]).stdout.strip() == f"kratix-py {__version__}"
    uid = run_podman(["run", "--rm", "--entrypoint", "id", kratix_image, "-u"]).stdout.strip()
    assert uid == "65532"


def test_the_image_carries_the_pipeline_adapter(kratix_image):
    help_text = run_podman(["run", "--rm", kratix_image, "pipeline-adapter", "--help"]).stdout
    for step in ("reader", "work-writer", "status-writer"):
        assert step in help_text
    # Without the Kratix environment the reader refuses clearly instead of crashing.
    failed = run_podman(["run", "--rm", kratix_image, "pipeline-adapter", "reader"], check=False)
    assert failed.returncode != 0
    assert "Traceback" not in failed.stdout + failed.stderr
