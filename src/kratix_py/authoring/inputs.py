"""The Promise, request and Destination files every authoring command reads, and checks they share.

Each check here returns a sentence naming the file, the field and what to do, so ``render``,
``validate``, ``test`` and ``backstage`` refuse the same bad input with the same words.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kratix_py.api import Promise, RequestGVK
from kratix_py.authoring.documents import Document, DocumentError, format_path, read_objects, read_one_object
from kratix_py.contract import API_VERSION, WorkflowAction, WorkflowType
from kratix_py.errors import CommandError


@dataclass(frozen=True)
class LoadedPromise:
    document: Document
    promise: Promise

    @property
    def body(self) -> dict[str, Any]:
        return dict(self.document.data)


def check_promise_kind(document: Document) -> str | None:
    """Why the document is not a Promise at all (wrong kind or apiVersion), or ``None``."""
    data = document.data
    if data.get("kind") != "Promise":
        return (
            f"{document.where()}: expected a Promise (kind: Promise), found kind {data.get('kind')!r}; "
            "pass the Promise file first"
        )
    if data.get("apiVersion") != API_VERSION:
        return f"{document.where(['apiVersion'])}: apiVersion must be {API_VERSION}, not {data.get('apiVersion')!r}"
    return None


def promise_model_errors(document: Document) -> list[tuple[str, str]]:
    """(YAML path, message) for every way the Promise breaks the model; empty when it is valid."""
    try:
        Promise.model_validate(document.data)
    except ValidationError as error:
        problems = []
        for detail in error.errors():
            path = format_path([part for part in detail["loc"] if isinstance(part, str | int)])
            problems.append((path, str(detail["msg"]).removeprefix("Value error, ")))
        return problems
    return []


def load_promise(path: Path, source: str | None = None) -> LoadedPromise:
    """Read and parse a Promise file; one CommandError naming the first problem otherwise."""
    document = read_one_object(path, source, what="Promise")
    problem = check_promise_kind(document)
    if problem is not None:
        raise DocumentError(problem)
    try:
        promise = Promise.model_validate(document.data)
    except ValidationError as error:
        first = error.errors()[0]
        loc = [part for part in first["loc"] if isinstance(part, str | int)]
        more = len(error.errors()) - 1
        raise DocumentError(
            f"{document.where(loc)}: {format_path(loc)}: {str(first['msg']).removeprefix('Value error, ')}"
            + (
                f" (and {more} more problem{'s' if more > 1 else ''}: run 'kratix-py validate')"
                if more
                else ""
            )
        ) from None
    if not promise.metadata.name:
        raise DocumentError(f"{document.where(['metadata'])}: the Promise needs metadata.name")
    return LoadedPromise(document, promise)


def no_api_message(loaded: LoadedPromise, purpose: str) -> str:
    return (
        f"{loaded.document.source}: Promise {loaded.promise.name} has no spec.api, so there are no "
        f"resource requests to {purpose}; add a spec.api CustomResourceDefinition"
    )


def require_api(loaded: LoadedPromise, purpose: str) -> RequestGVK:
    """The Promise's request kind, or a CommandError saying the Promise has no API."""
    gvk = loaded.promise.request_gvk()
    if gvk is None:
        raise CommandError(no_api_message(loaded, purpose))
    return gvk


def request_kind_error(gvk: RequestGVK, promise_name: str, document: Document) -> str | None:
    """Why ``document`` is not a request for the Promise's kind, or ``None``."""
    data = document.data
    kind, api_version = data.get("kind"), data.get("apiVersion")
    if (kind, api_version) == (gvk.kind, gvk.api_version):
        return None
    return (
        f"{document.where(['kind'])}: this is a {kind or '(no kind)'} ({api_version or 'no apiVersion'}), "
        f"but Promise {promise_name} takes requests of kind {gvk.kind} ({gvk.api_version}); "
        "pass a request of that kind"
    )


def load_request(path: Path, loaded: LoadedPromise, source: str | None = None) -> Document:
    """The one request in a file, checked to be of the Promise's kind and to have a name."""
    gvk = require_api(loaded, "render")
    document = read_one_object(path, source, what=f"{gvk.kind} request")
    problem = request_kind_error(gvk, loaded.promise.name, document)
    if problem is not None:
        raise DocumentError(problem)
    if not document.name:
        raise DocumentError(f"{document.where(['metadata'])}: the request needs metadata.name")
    return document


def load_destinations(path: Path, source: str | None = None) -> list[dict[str, Any]]:
    """Destination objects from a YAML list or multi-document file."""
    documents = read_objects(path, source, what="Destination")
    for document in documents:
        if document.kind != "Destination":
            raise DocumentError(
                f"{document.where(['kind'])}: expected Destination objects, found kind {document.kind!r}"
            )
    return [dict(document.data) for document in documents]


def pipeline_images(promise: Promise, workflow: WorkflowType, action: WorkflowAction) -> dict[str, str]:
    """Every image the workflow's pipelines run, with who runs it (for messages)."""
    pipelines = promise.pipelines(workflow, action)
    if action is WorkflowAction.DELETE:
        pipelines = pipelines[:1]  # Kratix runs only the first delete pipeline
    images: dict[str, str] = {}
    for pipeline in pipelines:
        for container in pipeline.spec.containers:
            images.setdefault(container.image, f"pipeline {pipeline.name}, container {container.name}")
    return images


def image_sources(loaded: LoadedPromise, workflow: WorkflowType, action: WorkflowAction) -> dict[str, Path]:
    """Where each pipeline image is built from, when the Promise folder follows the convention of
    the scaffold and the examples: ``pipelines/<pipeline name>/`` with a Dockerfile, next to it."""
    folder = Path(loaded.document.source).parent / "pipelines"
    sources: dict[str, Path] = {}
    for pipeline in loaded.promise.pipelines(workflow, action):
        source = folder / pipeline.name
        if (source / "Dockerfile").is_file() or (source / "Containerfile").is_file():
            for container in pipeline.spec.containers:
                sources.setdefault(container.image, source)
    return sources
