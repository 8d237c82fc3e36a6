"""``kratix-py validate PROMISE [REQUEST ...]``: offline checks of a Promise and its requests.

No cluster and no containers: the Promise is checked against kratix-py's model (what Kratix's
admission webhook enforces), its ``spec.api`` is turned into the request CRD and created on an
in-process API emulator (structural schema, names, versions, CEL rules that must compile), each
request is created there with dryRun (types, enums, required fields, unknown fields, the schema's
CEL rules (``x-kubernetes-validations``), defaults, which are shown), and pipeline
images are checked for pinned tags. Every finding names the file, the YAML path and its line.

Exit status: 0 when there is no error (warnings allowed unless ``--strict``), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from kratix_py.authoring.documents import Document, DocumentError, parse_path

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    severity: Severity
    file: str
    path: str
    """YAML path inside the file (``spec.api.spec.versions[0]``); empty for the file as a whole."""
    message: str
    line: int | None = None

    def text(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.severity}: " + (f"{self.path}: " if self.path else "") + self.message

    def as_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "path": self.path,
            "message": self.message,
        }


@dataclass(frozen=True)
class RequestResult:
    """One request as the API server would store it, and the defaults it filled in."""

    file: str
    name: str
    defaults: tuple[tuple[str, Any], ...]
    obj: dict[str, Any] | None


@dataclass
class Report:
    promise: str = ""
    findings: list[Finding] = field(default_factory=list)
    requests: list[RequestResult] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")

    def passed(self, *, strict: bool = False) -> bool:
        return self.errors == 0 and not (strict and self.warnings)

    def add(self, severity: Severity, document: Document | str, path: str, message: str) -> None:
        if isinstance(document, Document):
            line = document.line_of(parse_path(path)) if path else document.line_of([])
            self.findings.append(Finding(severity, document.source, path, message, line))
        else:
            self.findings.append(Finding(severity, document, path, message))

    def as_dict(self, *, strict: bool = False) -> dict[str, Any]:
        return {
            "promise": self.promise,
            "ok": self.passed(strict=strict),
            "errors": self.errors,
            "warnings": self.warnings,
            "findings": [f.as_dict() for f in self.findings],
            "requests": [
                {"file": r.file, "name": r.name, "defaults": dict(r.defaults), "object": r.obj}
                for r in self.requests
            ],
        }


# -- image references --------------------------------------------------------------------------------


def image_pin_problem(image: str) -> str | None:
    """Why ``image`` is not pinned (no tag, or ``latest``), or ``None`` for a tag or digest."""
    if "@" in image:
        return None  # a digest pins the exact image
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {image!r} has no tag, which means 'latest'"
    if last.rsplit(":", 1)[1] == "latest":
        return f"image {image!r} uses the tag 'latest'"
    return None


# -- the checks --------------------------------------------------------------------------------------


def validate(promise_path: Path, request_paths: Sequence[Path] = ()) -> Report:
    """Every finding about the Promise file and the request files."""
    from kratix_py.authoring.documents import read_objects, read_one_object

    report = Report()
    source = str(promise_path)
    try:
        document = read_one_object(promise_path, source, what="Promise")
    except DocumentError as error:
        _file_problem(report, source, error)
        return report
    from kratix_py.authoring.inputs import check_promise_kind

    problem = check_promise_kind(document)
    if problem is not None:
        report.add("error", document, "kind", problem.split(": ", 1)[1])
        return report
    report.promise = document.name
    _check_promise(report, document)
    checker = _check_api(report, document)
    for request_path in request_paths:
        try:
            requests = read_objects(request_path, str(request_path), what="request")
        except DocumentError as error:
            _file_problem(report, str(request_path), error)
            continue
        if not requests:
            report.add("error", str(request_path), "", "the file is empty; it must contain a request")
        for request in requests:
            _check_request(report, document, checker, request)
    return report


def _file_problem(report: Report, source: str, error: DocumentError) -> None:
    """A DocumentError (``file[:line[:column]]: message``) as a finding on the file, line kept."""
    head, sep, rest = str(error).partition(": ")
    parts = head.split(":")
    if not sep or parts[0] != source:
        report.add("error", source, "", str(error))
        return
    line = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    report.findings.append(Finding("error", source, "", rest, line))


def _check_promise(report: Report, document: Document) -> None:
    from kratix_py.api.validation import dns1123_subdomain_error, label_value_error
    from kratix_py.authoring.inputs import promise_model_errors

    name = document.name
    if not name:
        report.add("error", document, "metadata.name", "the Promise needs a name")
    else:
        problem = dns1123_subdomain_error(name) or label_value_error(name)
        if problem is not None:
            # The name is also the value of the kratix.io/promise-name label on everything it creates.
            report.add("error", document, "metadata.name", f"{problem} (it is used as a label value)")
    model_errors = promise_model_errors(document)
    for path, message in model_errors:
        if path == "spec.api":
            continue  # reported with more detail by the API checks
        report.add("error", document, path, message)
    if not model_errors:
        _check_jobs_and_permissions(report, document)
    spec = document.data.get("spec") or {}
    if not isinstance(spec, dict):
        return
    for index, selector in enumerate(spec.get("destinationSelectors") or []):
        if isinstance(selector, dict) and not selector.get("matchLabels"):
            report.add(
                "warning",
                document,
                f"spec.destinationSelectors[{index}].matchLabels",
                "empty: this entry constrains nothing; remove it or add labels",
            )
    _check_pipelines(report, document, spec.get("workflows") or {})


def _check_jobs_and_permissions(report: Report, document: Document) -> None:
    """The Job each pipeline would create, checked as the API server would (as Kratix's webhook
    dry-runs it), and permissions that hand a pipeline more than it should need."""
    from kratix_py.api import Promise
    from kratix_py.core.pipeline_checks import pipeline_job_problems
    from kratix_py.core.rbac import broad_permission_warnings

    promise = Promise.model_validate(document.data)
    for problem in pipeline_job_problems(promise):
        suffix = "" if problem.severity == "warning" else " (the API server would refuse the pipeline's Job)"
        report.add(problem.severity, document, problem.path, problem.message + suffix)
    for warning in broad_permission_warnings(promise):
        report.add("warning", document, warning.path, warning.message)


def _pipelines(workflows: Any) -> Iterable[tuple[str, str, int, dict[str, Any]]]:
    if not isinstance(workflows, dict):
        return
    for workflow_type in ("promise", "resource"):
        triggers = workflows.get(workflow_type) or {}
        if not isinstance(triggers, dict):
            continue
        for action in ("configure", "delete"):
            for index, pipeline in enumerate(triggers.get(action) or []):
                if isinstance(pipeline, dict):
                    yield workflow_type, action, index, pipeline


def _check_pipelines(report: Report, document: Document, workflows: Any) -> None:
    for workflow_type, action, index, pipeline in _pipelines(workflows):
        base = f"spec.workflows.{workflow_type}.{action}[{index}]"
        if action == "delete" and index > 0:
            report.add("warning", document, base, "only the first delete pipeline runs; this one never will")
        containers = (pipeline.get("spec") or {}).get("containers") or []
        for position, container in enumerate(containers if isinstance(containers, list) else []):
            image = container.get("image") if isinstance(container, dict) else None
            if isinstance(image, str) and image:
                problem = image_pin_problem(image)
                if problem is not None:
                    report.add(
                        "warning",
                        document,
                        f"{base}.spec.containers[{position}].image",
                        f"{problem}: pin a version (or a digest) so every run uses the same pipeline",
                    )


def _check_api(report: Report, document: Document) -> Any:
    """Build and install the request CRD; the checker for requests, or ``None``."""
    from kratix_py.api.crd_keys import normalise_crd_keys
    from kratix_py.api.structural import structural_errors
    from kratix_py.authoring.apicheck import ApiChecker, CrdRejected
    from kratix_py.core.request_crd import InvalidAPI, build_request_crd

    api = (
        (document.data.get("spec") or {}).get("api") if isinstance(document.data.get("spec"), dict) else None
    )
    if not api:
        return None
    if not isinstance(api, dict):
        report.add("error", document, "spec.api", "must be a CustomResourceDefinition object")
        return None
    api, renames = normalise_crd_keys(api, path="spec.api")
    for rename in renames:
        written = rename.path.rpartition(".")[0] + f".{rename.written}"
        report.add(
            "warning",
            document,
            written,
            f"read as {rename.canonical!r}, as Kratix reads it (field names match in any capitalisation); "
            f"spell it {rename.canonical}",
        )
    try:
        crd = build_request_crd(document.name or "promise", api)
    except InvalidAPI as error:
        message = str(error)
        path = message.split(" ", 1)[0] if message.startswith("spec.api") else "spec.api"
        report.add("error", document, path, message.removeprefix(path).lstrip(" :") or message)
        return None
    found = False
    for index, version in enumerate(api["spec"]["versions"]):
        schema = (version.get("schema") or {}).get("openAPIV3Schema") or {}
        base = f"spec.api.spec.versions[{index}].schema"
        for problem in structural_errors(schema):
            where, _, message = problem.partition(": ")
            report.add("error", document, f"{base}.{where}", f"not a structural schema: {message}")
            found = True
        properties = schema.get("properties") or {}
        if "spec" not in properties and not schema.get("x-kubernetes-preserve-unknown-fields"):
            report.add(
                "warning",
                document,
                f"{base}.openAPIV3Schema.properties",
                "declares no spec: the API server drops every field of a request's spec",
            )
    if found:
        return None
    try:
        return ApiChecker(crd)
    except CrdRejected as rejected:
        for refused in rejected.problems:
            path = _as_written(refused.path)
            report.add("error", document, f"spec.api.{path}" if path else "spec.api", refused.message)
        return None


_SHARED_SCHEMA = "spec.validation.openAPIV3Schema"


def _as_written(path: str) -> str:
    """A CRD field path from the API server as the Promise's author wrote it: the server reports
    a schema shared by every version (e.g. a CEL rule's compile error) under ``spec.validation``,
    which the author wrote under the versions (the first one is shown)."""
    if path == _SHARED_SCHEMA or path.startswith(_SHARED_SCHEMA + "."):
        return "spec.versions[0].schema.openAPIV3Schema" + path.removeprefix(_SHARED_SCHEMA)
    return path


def _check_request(report: Report, promise: Document, checker: Any, request: Document) -> None:
    from kratix_py.api import Promise
    from kratix_py.authoring.inputs import request_kind_error

    api = (promise.data.get("spec") or {}).get("api")
    if not api:
        report.add(
            "error",
            request,
            "",
            f"Promise {promise.name} has no spec.api, so it takes no requests; add an API or drop this file",
        )
        return
    if checker is None:
        report.add("error", request, "", "cannot be checked until the Promise's spec.api is fixed")
        return
    try:
        gvk = Promise.model_validate(
            {"metadata": {"name": promise.name or "p"}, "spec": {"api": api}}
        ).request_gvk()
    except ValueError:
        gvk = None
    if gvk is not None:
        problem = request_kind_error(gvk, promise.name, request)
        if problem is not None:
            report.add("error", request, "kind", problem.split(": ", 1)[1])
            return
    if not request.name:
        report.add("error", request, "metadata.name", "the request needs a name")
        return
    admission = checker.admit(request.data)
    for refused in admission.problems:
        # "<nil>" is how the API server names the object itself (e.g. a CEL rule at the root).
        report.add("error", request, "" if refused.path == "<nil>" else refused.path, refused.message)
    for pruned in admission.pruned:
        report.add(
            "warning",
            request,
            pruned,
            "not in the Promise's API: the API server drops this field; check the spelling",
        )
    if admission.accepted:
        report.requests.append(RequestResult(request.source, request.name, admission.defaults, admission.obj))


# -- the command -------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("promise", type=Path, help="the Promise YAML file")
    parser.add_argument("requests", type=Path, nargs="*", metavar="REQUEST", help="request files to check")
    parser.add_argument(
        "--output", choices=["text", "json"], default="text", help="report format (default text)"
    )
    parser.add_argument("--strict", action="store_true", help="fail on warnings too")


def format_text(report: Report, *, strict: bool = False) -> str:
    import yaml

    lines = [finding.text() for finding in report.findings]
    for request in report.requests:
        if request.defaults:
            shown = ", ".join(
                f"{path}={yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()}"
                for path, value in request.defaults
            )
            lines.append(f"{request.file}: request {request.name}: defaults applied: {shown}")
        else:
            lines.append(f"{request.file}: request {request.name}: valid, no defaults applied")
    verdict = "ok" if report.passed(strict=strict) else "failed"
    lines.append(
        f"validate {verdict}: Promise {report.promise or '?'}, {len(report.requests)} request(s), "
        f"{report.errors} error(s), {report.warnings} warning(s)"
        + (" (--strict)" if strict and report.warnings else "")
    )
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    report = validate(args.promise, args.requests)
    if args.output == "json":
        sys.stdout.write(json.dumps(report.as_dict(strict=args.strict), indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(format_text(report, strict=args.strict))
    return 0 if report.passed(strict=args.strict) else 1
