"""``kratix-py test DIR``: golden-file tests for a Promise, run with ``render``.

Layout (``kratix-py init promise`` creates it)::

    DIR/promise.yaml
    DIR/destinations.yaml           optional: Destinations every case is scheduled against
    DIR/tests/<case>/request.yaml   a request: the case runs the resource workflow for it;
                                    without it the case runs the Promise's own workflow
    DIR/tests/<case>/case.yaml      optional: workflow (promise|resource), action (configure|delete),
                                    destinations (a file, relative to the case folder)
    DIR/tests/<case>/expected/      what ``render --output`` writes for the case:
                                    pipelines/<pipeline>/<file>, dependencies/<file>,
                                    scheduling.yaml and status.yaml

Each case is rendered on a fresh local platform and compared with ``expected/``; differences are
shown as unified diffs. ``--update`` rewrites ``expected/`` from the render. Volatile values: see
:mod:`kratix_py.authoring.golden` (``<ignored>`` matches any value in a YAML golden). The last line
of the output is ``N passed, M failed``; the exit status is 1 when any case failed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kratix_py.contract import WorkflowAction, WorkflowType
from kratix_py.errors import CommandError

PROMISE_FILE = "promise.yaml"
DESTINATIONS_FILE = "destinations.yaml"
TESTS_DIR = "tests"
REQUEST_FILE = "request.yaml"
CASE_FILE = "case.yaml"
EXPECTED_DIR = "expected"


@dataclass(frozen=True)
class Case:
    name: str
    directory: Path
    workflow: WorkflowType
    action: WorkflowAction
    request: Path | None
    destinations: Path | None
    problem: str | None = None
    """Why the case folder cannot be run (reported as the case's failure; the others still run)."""


@dataclass
class CaseResult:
    case: str
    passed: bool
    detail: str = ""
    seconds: float = 0.0
    updated: bool = False


@dataclass
class Summary:
    results: list[CaseResult] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if not r.passed)

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.passed)


def discover(directory: Path, only: Sequence[str] = ()) -> list[Case]:
    """The cases under ``DIR/tests``, sorted by name (a CommandError when there are none)."""
    if not (directory / PROMISE_FILE).is_file():
        raise CommandError(
            f"{directory}: no {PROMISE_FILE} here; give the Promise folder (the one with {PROMISE_FILE})"
        )
    tests = directory / TESTS_DIR
    folders = sorted(p for p in tests.iterdir() if p.is_dir()) if tests.is_dir() else []
    if only:
        unknown = sorted(set(only) - {p.name for p in folders})
        if unknown:
            raise CommandError(f"{tests}: no case named {', '.join(unknown)}")
        folders = [p for p in folders if p.name in only]
    if not folders:
        raise CommandError(
            f"{tests}: no test cases; add a folder per case with a {REQUEST_FILE} (or a {CASE_FILE} "
            f"saying 'workflow: promise'), then run with --update to record its {EXPECTED_DIR}/"
        )
    default_destinations = directory / DESTINATIONS_FILE
    return [
        _case_or_problem(folder, default_destinations if default_destinations.is_file() else None)
        for folder in folders
    ]


def _case_or_problem(folder: Path, default_destinations: Path | None) -> Case:
    try:
        return _case(folder, default_destinations)
    except CommandError as error:
        return Case(
            folder.name, folder, WorkflowType.PROMISE, WorkflowAction.CONFIGURE, None, None, str(error)
        )


def _case(folder: Path, default_destinations: Path | None) -> Case:
    from kratix_py.authoring.documents import DocumentError, read_documents

    settings: dict[str, Any] = {}
    if (folder / CASE_FILE).is_file():
        documents = read_documents(folder / CASE_FILE)
        settings = documents[0].data if documents else {}
        if not isinstance(settings, dict):
            raise DocumentError(f"{folder / CASE_FILE}: must be a mapping (workflow, action, destinations)")
        unknown = sorted(set(settings) - {"workflow", "action", "destinations", "description"})
        if unknown:
            raise DocumentError(
                f"{folder / CASE_FILE}: unknown key {', '.join(unknown)}; use workflow, action, destinations"
            )
    request = folder / REQUEST_FILE if (folder / REQUEST_FILE).is_file() else None
    try:
        workflow = WorkflowType(settings.get("workflow") or ("resource" if request else "promise"))
        action = WorkflowAction(settings.get("action") or "configure")
    except ValueError as error:
        raise DocumentError(
            f"{folder / CASE_FILE}: {error}; workflow is promise|resource, action configure|delete"
        ) from None
    if workflow is WorkflowType.RESOURCE and request is None:
        raise DocumentError(f"{folder}: a resource case needs a {REQUEST_FILE}")
    destinations = (
        folder / str(settings["destinations"]) if settings.get("destinations") else default_destinations
    )
    return Case(
        folder.name,
        folder,
        workflow,
        action,
        request if workflow is WorkflowType.RESOURCE else None,
        destinations,
    )


def run_case(directory: Path, case: Case, args: argparse.Namespace) -> CaseResult:
    from kratix_py.authoring import golden
    from kratix_py.authoring.inputs import load_destinations, load_promise, load_request
    from kratix_py.authoring.output import format_failure, result_files
    from kratix_py.authoring.render import render_checked

    if case.problem is not None:
        return CaseResult(case.name, False, f"{case.problem}\n")
    started = time.monotonic()
    loaded = load_promise(directory / PROMISE_FILE)
    request = load_request(case.request, loaded) if case.request is not None else None
    destinations_file = args.destinations or case.destinations
    destinations = load_destinations(destinations_file) if destinations_file is not None else []
    result = render_checked(
        loaded,
        request,
        workflow=case.workflow,
        action=case.action,
        destinations=destinations,
        runtime=args.runtime,
        adapter_image=args.adapter_image,
        timeout=args.timeout,
        verbose=args.verbose,
    )
    seconds = time.monotonic() - started
    if not result.ok:
        return CaseResult(case.name, False, format_failure(result), seconds)
    actual = result_files(result)
    expected_dir = case.directory / EXPECTED_DIR
    expected = golden.read_tree(expected_dir)
    if args.update:
        golden.write_tree(expected_dir, golden.updated(expected, actual))
        return CaseResult(case.name, True, "", seconds, updated=True)
    if not expected:
        return CaseResult(
            case.name, False, f"{expected_dir}: no goldens yet; run with --update to record them\n", seconds
        )
    differences = golden.compare(expected, actual)
    return CaseResult(case.name, not differences, "".join(differences), seconds)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from kratix_py.authoring.render import add_run_options

    parser.add_argument(
        "directory",
        type=Path,
        metavar="DIR",
        help=f"the Promise folder (with {PROMISE_FILE} and {TESTS_DIR}/)",
    )
    parser.add_argument("--update", action="store_true", help="rewrite each case's expected/ from the render")
    parser.add_argument(
        "--case", action="append", default=[], metavar="NAME", help="run only this case (repeatable)"
    )
    add_run_options(parser)


def run(args: argparse.Namespace) -> int:
    from kratix_py.authoring.runtime import EnvironmentProblem

    cases = discover(args.directory, args.case)
    summary = Summary()
    for case in cases:
        try:
            result = run_case(args.directory, case, args)
        except EnvironmentProblem:
            raise  # a missing runtime or image fails every case the same way: say it once
        except CommandError as error:
            result = CaseResult(case.name, False, f"{error}\n")
        summary.results.append(result)
        verdict = "UPDATED" if result.updated else ("PASS" if result.passed else "FAIL")
        print(f"{verdict} {case.name} ({result.seconds:.1f}s)")
        if result.detail:
            sys.stdout.write("".join(f"    {line}\n" for line in result.detail.rstrip("\n").splitlines()))
    print(f"{summary.passed} passed, {summary.failed} failed")
    return 1 if summary.failed else 0
