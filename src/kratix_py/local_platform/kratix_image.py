"""Build kratix-py's own image (operator + pipeline adapter) on a machine without a registry.

The repository's Dockerfile installs kratix-py from PyPI in a build stage. Here the build has no
network, so the Python packages are installed on the host into ``<build dir>/site`` first (pip uses
the host's configuration) and the Dockerfile's ``site-prebuilt`` stage copies them in, on top of the
locally built Debian base image. Host and image share CPython 3.11, so compiled wheels fit.

The operator's Git state-store writer runs ``git`` (and ``ssh`` for ``ssh://`` remotes), so the image
installs them with the Dockerfile's own ``INSTALL_GIT`` step, the one a registry build runs: apt
inside the build, from the Debian mirror the base image was bootstrapped from, over the host's
network (the only network these machines have). That step comes before the kratix-py files in the
Dockerfile, so podman's layer cache keeps it: only the first build on a base image pays for it
(about 30 s), later ones after a source change take about a second. Git is not in the base image
itself: pipeline images are built on it too and do not need git and Perl (about 100 MB).

    python -m kratix_py.local_platform.kratix_image          # prints the image reference
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from kratix_py.local_platform.images import build_image, ensure_base_image

REPO_ROOT = Path(__file__).resolve().parents[3]
IMAGE = "localhost/kratix-py:dev"
"""The image the local platform's pipeline Jobs use for the adapter containers."""


def _source_digest(repo: Path) -> str:
    """What the site folder depends on: pyproject.toml and every file under src/."""
    digest = hashlib.sha256()
    for path in sorted([repo / "pyproject.toml", *(repo / "src").rglob("*")]):
        if path.is_file() and "__pycache__" not in path.parts and ".egg-info" not in str(path):
            digest.update(path.relative_to(repo).as_posix().encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


IMAGE_LEAVES_OUT = ("bin", "kratix_py/local_platform", "kratix_py/testing", "kratix_py/authoring")
"""The operator image runs the operator and the pipeline adapter only: the local platform, the
test fixtures and the authoring tools stay on people's machines (the Dockerfile drops the same)."""


def prepare_context(repo: Path = REPO_ROOT, build_dir: Path | None = None) -> Path:
    """A build context with ``site/`` (kratix-py and its dependencies) and the command wrapper."""
    context = build_dir or repo / "build" / "image-context"
    stamp = context / ".source-digest"
    digest = _source_digest(repo)
    if stamp.exists() and stamp.read_text() == digest and (context / "site" / "kratix_py").is_dir():
        return context
    if context.exists():
        shutil.rmtree(context)
    (context / "docker").mkdir(parents=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-compile",
            "--target",
            str(context / "site"),
            str(repo),
        ],
        check=True,
    )
    for unshipped in IMAGE_LEAVES_OUT:
        shutil.rmtree(context / "site" / unshipped, ignore_errors=True)
    shutil.copy2(repo / "docker" / "kratix-py", context / "docker" / "kratix-py")
    stamp.write_text(digest)
    return context


def ensure_kratix_image(tag: str = IMAGE, repo: Path = REPO_ROOT) -> str:
    """Build (or reuse) kratix-py's image from the current source tree; returns ``tag``."""
    base = ensure_base_image()
    context = prepare_context(repo)
    return build_image(
        context,
        tag,
        {"SITE_STAGE": "site-prebuilt", "INSTALL_GIT": "true"},
        containerfile=repo / "Dockerfile",
        base_image=base,
        network="host",
    )


if __name__ == "__main__":
    print(ensure_kratix_image())


def build_pipeline_image(context_dir: Path, tag: str, build_dir: Path | None = None) -> str:
    """Build a pipeline image whose code uses :mod:`kratix_py.sdk`.

    The context is copied with ``kratix_py/__init__.py`` and ``kratix_py/sdk.py`` beside it (the
    SDK needs only the standard library and PyYAML, which the base image has), so a Containerfile
    can ``COPY kratix_py ...`` and ``from kratix_py import sdk`` works without pip.
    """
    staging = build_dir or REPO_ROOT / "build" / "pipeline-images" / tag.replace("/", "_").replace(":", "_")
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(context_dir, staging, ignore=shutil.ignore_patterns("__pycache__"))
    package = staging / "kratix_py"
    package.mkdir(exist_ok=True)
    source = Path(__file__).resolve().parents[1]
    for name in ("__init__.py", "sdk.py"):
        shutil.copy2(source / name, package / name)
    return build_image(staging, tag)
