"""Command-line arguments of the adapter steps, kept free of heavy imports.

``kratix-py --help`` builds every sub-command's parser, so this module must import quickly; the
steps themselves (and the Kubernetes client) are only imported when a step runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from kratix_py.contract import DEFAULT_METADATA_DIR, DEFAULT_PIPELINE_NAMESPACE, WORK_CREATOR_ROOT

STEP_NAMES = ("reader", "work-writer", "status-writer")

KRATIX_STEP_NAMES = {"work-creator": "work-writer", "update-status": "status-writer"}
"""Kratix's names for the same steps, accepted so pod specs written for Kratix's adapter still work."""


class ArgumentsError(ValueError):
    """The step was started with arguments it does not understand."""


def canonical_step_name(name: str) -> str:
    """``work-creator`` -> ``work-writer`` and so on; unknown names raise :class:`ArgumentsError`."""
    step = KRATIX_STEP_NAMES.get(name, name)
    if step not in STEP_NAMES:
        raise ArgumentsError(f"unknown pipeline-adapter step {name!r}; choose one of {', '.join(STEP_NAMES)}")
    return step


def add_reader_arguments(parser: argparse.ArgumentParser) -> None:
    """The reader takes everything from its environment (KRATIX_OBJECT_*, INPUT_DIR)."""


def add_work_writer_arguments(parser: argparse.ArgumentParser) -> None:
    """Kratix's work-creator flags, same names and defaults, so pod specs carry over unchanged."""
    parser.add_argument(
        "--input-directory",
        default=WORK_CREATOR_ROOT,
        help="directory holding input/ (the pipeline output), metadata/ and kratix-system/ (default %(default)s)",
    )
    parser.add_argument("--promise-name", default="", help="the Promise the pipeline belongs to (required)")
    parser.add_argument("--pipeline-name", default="", help="the pipeline's name (required)")
    parser.add_argument(
        "--namespace",
        default=DEFAULT_PIPELINE_NAMESPACE,
        help="namespace the pipeline runs in; the Work is created there (default %(default)s)",
    )
    parser.add_argument(
        "--workflow-type",
        default="resource",
        choices=("promise", "resource"),
        help="whose workflow this is (default %(default)s)",
    )
    parser.add_argument("--resource-name", default="", help="the resource request (resource workflows)")
    parser.add_argument(
        "--resource-namespace",
        default="",
        help="the request's namespace; only when the pipeline runs in a different namespace",
    )


def add_status_writer_arguments(parser: argparse.ArgumentParser) -> None:
    """Kratix's status-writer has no flags; ours only allows moving the metadata directory."""
    parser.add_argument(
        "--metadata-directory",
        default=DEFAULT_METADATA_DIR,
        help="directory holding status.yaml and workflow-control.yaml (default %(default)s)",
    )


ARGUMENTS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "reader": add_reader_arguments,
    "work-writer": add_work_writer_arguments,
    "status-writer": add_status_writer_arguments,
}

STEP_HELP = {
    "reader": "write the pipeline's object, with its status, to /kratix/input/object.yaml",
    "work-writer": "turn the pipeline output into a Work (skipped when workflow-control.yaml suspends)",
    "status-writer": "merge status.yaml into the object's status and mark the workflow's progress",
}


def parse_step_arguments(step: str, args: Sequence[str]) -> argparse.Namespace:
    """Parse a step's arguments without exiting the process (the fast pod runner calls this in-process)."""
    step = canonical_step_name(step)
    parser = argparse.ArgumentParser(
        prog=f"kratix-py pipeline-adapter {step}", exit_on_error=False, add_help=False
    )
    ARGUMENTS[step](parser)
    try:
        parsed, unknown = parser.parse_known_args(list(args))
    except argparse.ArgumentError as error:
        raise ArgumentsError(f"invalid arguments for {step}: {error}") from None
    except SystemExit:  # argparse still exits for a few errors even with exit_on_error=False
        raise ArgumentsError(f"invalid arguments for {step}: {' '.join(args)}") from None
    if unknown:
        raise ArgumentsError(f"unknown arguments for {step}: {' '.join(unknown)}")
    return parsed
