"""``kratix-py render PROMISE [REQUEST]``: run a Promise's pipelines locally and show what would happen.

The pipelines run in containers exactly as the operator's Jobs would (see
:mod:`kratix_py.authoring.engine`); the report lists the files each pipeline wrote per workload
group, the selectors of each group and which of the ``--destinations`` it would land on, and the
status and conditions the object would end up with. A failing pipeline makes the command exit 1
and prints the failing container's log.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from kratix_py.authoring.documents import Document
from kratix_py.authoring.inputs import LoadedPromise
from kratix_py.contract import WorkflowAction, WorkflowType
from kratix_py.errors import CommandError
from kratix_py.local_platform.kratix_image import IMAGE as KRATIX_IMAGE

DEFAULT_ADAPTER_IMAGE = KRATIX_IMAGE
"""kratix-py's own image, as ``python -m kratix_py.local_platform.kratix_image`` builds it."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("promise", type=Path, help="the Promise YAML file")
    parser.add_argument(
        "request", type=Path, nargs="?", help="a resource request (for the resource workflow)"
    )
    add_run_options(parser)
    parser.add_argument(
        "--workflow",
        choices=[str(t) for t in WorkflowType],
        help="which workflow to run (default: resource when REQUEST is given, else promise)",
    )
    parser.add_argument(
        "--action", choices=[str(a) for a in WorkflowAction], default="configure", help="default: configure"
    )
    parser.add_argument(
        "--output",
        type=Path,
        metavar="DIR",
        help="also write the files, scheduling.yaml and status.yaml here",
    )


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Options shared with ``test``: where pipelines run and where output goes."""
    parser.add_argument(
        "--destinations", type=Path, metavar="FILE", help="Destination objects (YAML list or documents)"
    )
    parser.add_argument(
        "--runtime",
        choices=["auto", "podman", "docker"],
        default="auto",
        help="container runtime (default: whichever works)",
    )
    parser.add_argument(
        "--adapter-image",
        default=DEFAULT_ADAPTER_IMAGE,
        help=f"kratix-py's image for the reader/work-writer/status-writer steps (default {DEFAULT_ADAPTER_IMAGE})",
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds to wait for the workflow (default 300)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show the local platform's logs")


def resolve_workflow(requested: str | None, has_request: bool) -> WorkflowType:
    workflow = (
        WorkflowType(requested)
        if requested
        else (WorkflowType.RESOURCE if has_request else WorkflowType.PROMISE)
    )
    if workflow is WorkflowType.RESOURCE and not has_request:
        raise CommandError(
            "the resource workflow runs for a request: pass the REQUEST file after the Promise"
        )
    if workflow is WorkflowType.PROMISE and has_request:
        raise CommandError(
            "the promise workflow works on the Promise itself: drop the REQUEST file, or use --workflow resource"
        )
    return workflow


def render_checked(
    loaded: LoadedPromise,
    request: Document | None,
    *,
    workflow: WorkflowType,
    action: WorkflowAction,
    destinations: Sequence[dict[str, Any]] = (),
    runtime: str = "auto",
    adapter_image: str = DEFAULT_ADAPTER_IMAGE,
    timeout: float = 300.0,
    verbose: bool = False,
) -> Any:
    """Check the runtime and images, then render; returns a :class:`~kratix_py.authoring.engine.RenderResult`."""
    from kratix_py.authoring.engine import RenderInputs, render
    from kratix_py.authoring.inputs import image_sources, pipeline_images, require_api
    from kratix_py.authoring.runtime import require_images, select_runtime

    if workflow is WorkflowType.RESOURCE:
        require_api(loaded, "render")
    if action is WorkflowAction.DELETE and loaded.promise.delete_pipeline(workflow) is None:
        raise CommandError(
            f"{loaded.document.source}: the Promise has no {workflow} delete pipeline "
            f"(spec.workflows.{workflow}.delete is empty): nothing to render"
        )
    images = pipeline_images(loaded.promise, workflow, action)
    select_runtime(runtime)
    if images:
        images.setdefault(adapter_image, "kratix-py's pipeline adapter")
        require_images(images, adapter_image=adapter_image, sources=image_sources(loaded, workflow, action))
    inputs = RenderInputs(
        promise=loaded.body,
        request=dict(request.data) if request is not None else None,
        workflow=workflow,
        action=action,
        adapter_image=adapter_image,
        destinations=tuple(destinations),
        timeout=timeout,
    )
    with _quiet_logs(verbose):
        return render(inputs)


@contextlib.contextmanager
def _quiet_logs(verbose: bool) -> Iterator[None]:
    """The operator code logs every step; a render shows its own report instead, unless -v."""
    logger = logging.getLogger("kratix_py")
    previous = logger.level
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    else:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(previous)


def run(args: argparse.Namespace) -> int:
    from kratix_py.authoring.inputs import load_destinations, load_promise, load_request
    from kratix_py.authoring.output import format_failure, format_report, write_output

    loaded = load_promise(args.promise)
    workflow = resolve_workflow(args.workflow, args.request is not None)
    request = load_request(args.request, loaded) if args.request is not None else None
    destinations = load_destinations(args.destinations) if args.destinations is not None else []
    result = render_checked(
        loaded,
        request,
        workflow=workflow,
        action=WorkflowAction(args.action),
        destinations=destinations,
        runtime=args.runtime,
        adapter_image=args.adapter_image,
        timeout=args.timeout,
        verbose=args.verbose,
    )
    if args.output is not None:
        write_output(result, args.output)
    sys.stdout.write(format_report(result, contents=args.output is None))
    if args.output is not None:
        print(f"\nwrote the output to {args.output}")
    if not result.ok:
        sys.stderr.write(format_failure(result))
        return 1
    return 0
