"""Shared by the example tests: find the examples, run their pipeline code in-process, read Works.

The pipelines are plain scripts (``pipelines/<name>/pipeline.py``), not a package, so they are
loaded from their path. Running one in-process means pointing :mod:`kratix_py.sdk` at temporary
folders through ``INPUT_DIR``/``OUTPUT_DIR``/``METADATA_DIR``, which are process-wide environment
variables: :func:`fast_step` therefore runs one pipeline at a time.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from kratix_py import kube as k
from kratix_py.api.work import decode_workload_content
from kratix_py.core.request_crd import build_request_crd, request_kind

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples"
PROMISES = EXAMPLES / "promises"
PROMISE_NAMES = ("postgresql", "redis")


def load_module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the module is being executed.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


build_images = load_module(EXAMPLES / "build_images.py", "examples_build_images")


def promise_dir(name: str) -> Path:
    return PROMISES / name


def promise_body(name: str) -> dict[str, Any]:
    return dict(build_images.load_promise(promise_dir(name)))


def example_request(name: str) -> dict[str, Any]:
    data = yaml.safe_load((promise_dir(name) / "example-request.yaml").read_text())
    assert isinstance(data, dict)
    return data


def configure_image(name: str) -> tuple[str, Path]:
    """The image and source folder of the Promise's one resource configure pipeline."""
    (entry,) = [
        e for e in build_images.pipeline_images(promise_dir(name)) if e.workflow == "resource.configure"
    ]
    return entry.image, entry.source


def pipeline_module(name: str) -> ModuleType:
    _, source = configure_image(name)
    return load_module(source / "pipeline.py", f"example_{name}_instance_configure")


def request_resource(name: str) -> k.Resource:
    """The API resource of the Promise's requests, e.g. ``postgresqls.marketplace.kratix.io``."""
    api = promise_body(name)["spec"]["api"]
    kind = request_kind(api)
    return k.Resource(kind.group, kind.version, kind.plural, True, api["spec"]["names"]["kind"])


def request_crd(name: str) -> dict[str, Any]:
    return build_request_crd(name, promise_body(name)["spec"]["api"])


# -- running a pipeline in-process ------------------------------------------------------------------


@dataclass
class PipelineRun:
    """What one run of a pipeline left behind."""

    exit_code: int
    files: dict[str, Any]  # output path -> parsed YAML document
    raw: dict[str, bytes]  # output path -> bytes, for determinism checks
    status: dict[str, Any]
    selectors: list[Any] | None
    stdout: str
    stderr: str


_ENV_LOCK = threading.Lock()


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the block and put the old values back afterwards."""
    with _ENV_LOCK:
        saved = {key: os.environ.get(key) for key in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for key, old in saved.items():
                if old is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = old


def run_pipeline(
    module: ModuleType, obj: Mapping[str, Any], workdir: Path, env: Mapping[str, str] | None = None
) -> PipelineRun:
    """Run ``module.main()`` on ``obj`` as a pipeline container would, in folders under ``workdir``."""
    input_dir, output_dir, metadata_dir = (workdir / part for part in ("input", "output", "metadata"))
    for folder in (input_dir, output_dir, metadata_dir):
        folder.mkdir(parents=True)
    (input_dir / "object.yaml").write_text(yaml.safe_dump(dict(obj)))
    values = {
        "INPUT_DIR": str(input_dir),
        "OUTPUT_DIR": str(output_dir),
        "METADATA_DIR": str(metadata_dir),
        "KRATIX_WORKFLOW_TYPE": "resource",
        "KRATIX_WORKFLOW_ACTION": "configure",
        **(env or {}),
    }
    stdout, stderr = io.StringIO(), io.StringIO()
    with environment(values), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = module.main()
    raw = {
        path.relative_to(output_dir).as_posix(): path.read_bytes()
        for path in sorted(output_dir.rglob("*"))
        if path.is_file()
    }
    status_file = metadata_dir / "status.yaml"
    selectors_file = metadata_dir / "destination-selectors.yaml"
    return PipelineRun(
        exit_code=code,
        files={path: yaml.safe_load(data) for path, data in raw.items()},
        raw=raw,
        status=yaml.safe_load(status_file.read_text()) if status_file.exists() else {},
        selectors=yaml.safe_load(selectors_file.read_text()) if selectors_file.exists() else None,
        stdout=stdout.getvalue(),
        stderr=stderr.getvalue(),
    )


def fast_step(module: ModuleType) -> Callable[[Any], int]:
    """A fast-mode step (pod runner ``steps=``) running the pipeline's own ``main()`` in-process.

    The pod's volumes become the SDK's folders and the container's environment (the KRATIX_*
    variables and the Promise's ``env``) is set around the call, one pipeline at a time.
    """

    def step(ctx: Any) -> int:
        values = {key: value for key, value in ctx.env.items() if key != "KUBECONFIG"}
        values |= {
            "INPUT_DIR": str(ctx.path("/kratix/input")),
            "OUTPUT_DIR": str(ctx.path("/kratix/output")),
            "METADATA_DIR": str(ctx.path("/kratix/metadata")),
        }
        stdout = io.StringIO()
        with environment(values), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stdout):
            code = int(module.main())
        for line in stdout.getvalue().splitlines():
            ctx.log(line)
        return code

    return step


# -- reading what the operator made ----------------------------------------------------------------


def work_files(work: Mapping[str, Any]) -> dict[str, Any]:
    """Output path -> parsed YAML of every workload of a Work (its content is gzip + base64)."""
    files: dict[str, Any] = {}
    for group in work["spec"].get("workloadGroups") or []:
        for workload in group["workloads"]:
            files[workload["filepath"]] = yaml.safe_load(decode_workload_content(workload["content"]))
    return files


def kinds(files: Mapping[str, Any]) -> dict[str, str]:
    """Output path -> kind, for comparing what a run produced at a glance."""
    return {path: doc["kind"] for path, doc in files.items()}
