"""The three kratix-py containers of every pipeline pod: reader, work-writer, status-writer.

Each step is a function of a :class:`~kratix_py.adapter.context.StepContext` returning an exit
code, so the same code runs as ``kratix-py pipeline-adapter <step>`` in a real container and
in-process under the fast pod runner. A step that fails prints one line saying which file or
object is wrong and how, and exits 1: that line is what a Promise author sees in ``kubectl logs``.
"""

from __future__ import annotations

import argparse
import json
import os
import posixpath
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from kratix_py.adapter.arguments import ArgumentsError, canonical_step_name, parse_step_arguments
from kratix_py.adapter.context import StepContext, report_error
from kratix_py.adapter.files import UnreadableFileError, read_bounded
from kratix_py.adapter.kube import WORKS, AdapterError, PipelineApi, connect
from kratix_py.adapter.output_files import read_pipeline_output
from kratix_py.adapter.params import ParameterError, object_ref_from_env, params_from_env
from kratix_py.adapter.work import WorkIdentity, WorkOwner, new_work, trace_annotations, updated_work
from kratix_py.contract import (
    DEFAULT_INPUT_DIR,
    DEFAULT_PIPELINE_NAMESPACE,
    ENV_DRY_RUN,
    ENV_INPUT_DIR,
    ENV_OBJECT_NAME,
    ENV_OBJECT_UID,
    ENV_TRACE_PARENT,
    ENV_TRACE_STATE,
    LABEL_DRY_RUN,
    OBJECT_FILE,
    TRUE_LABEL_VALUE,
    WORK_CREATOR_KRATIX_SYSTEM,
    WORK_CREATOR_METADATA,
    WORK_CREATOR_OUTPUT,
)
from kratix_py.core.limited_yaml import format_size
from kratix_py.core.limits import (
    ENV_MAX_METADATA_FILE_BYTES,
    ENV_MAX_STATUS_BYTES,
    ENV_MAX_WORK_BYTES,
    LimitsError,
    NonKubernetesYaml,
    PipelineLimits,
)
from kratix_py.core.ownership import owner_uid
from kratix_py.core.status_merge import STATUS_FILE, StatusFileError, parse_status_file, status_after_pipeline
from kratix_py.core.workflow_control import (
    WORKFLOW_CONTROL_FILE,
    WorkflowControl,
    WorkflowControlError,
    parse_workflow_control,
)
from kratix_py.core.workloads import (
    DESTINATION_SELECTORS_FILE,
    LEGACY_DESTINATION_SELECTORS_FILE,
    PROMISE_SCHEDULING_FILE,
    DirectorySelector,
    PipelineOutputError,
    WorkloadGroup,
    build_workload_groups,
    check_yaml_files,
    parse_destination_selectors,
    parse_promise_scheduling,
    work_size_problem,
)
from kratix_py.kube import KubeError

# Optimistic-concurrency retries: the controller may update the object between our read and our
# write; re-reading and merging again is always correct, so a conflict simply means "try again".
MAX_ATTEMPTS = 5

Clock = Callable[[], datetime]

# Failures a person can act on; anything else is a bug and keeps its traceback.
_EXPECTED_ERRORS = (
    AdapterError,
    ArgumentsError,
    ParameterError,
    PipelineOutputError,
    StatusFileError,
    WorkflowControlError,
    KubeError,
    LimitsError,
    UnreadableFileError,
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _guarded(ctx: StepContext, step: str, action: Callable[[], None]) -> int:
    try:
        action()
    except _EXPECTED_ERRORS as error:
        # One line: the operator puts the end of this log into the object's condition, and YAML
        # errors span several lines (problem, then where).
        report_error(
            ctx,
            f"{step} failed: " + " / ".join(line.strip() for line in str(error).splitlines() if line.strip()),
        )
        return 1
    return 0


def _read_metadata(path: Path, max_bytes: int, limit_hint: str) -> bytes | None:
    """A file the pipeline left in /kratix/metadata, or None when it wrote none (see adapter.files)."""
    return read_bounded(path, max_bytes=max_bytes, what=path.name, limit_hint=limit_hint)


def _limits(ctx: StepContext) -> PipelineLimits:
    return PipelineLimits.from_env(ctx.env)


def _write_atomically(path: Path, text: str) -> None:
    # A reader killed half-way must not leave a truncated object.yaml for the next container.
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _step_options(ctx: StepContext, step: str, options: argparse.Namespace | None) -> argparse.Namespace:
    return options if options is not None else parse_step_arguments(step, getattr(ctx, "args", None) or ())


def dump_object_yaml(obj: Any) -> str:
    """Stable YAML (sorted keys, block style), so the same object always gives the same file."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when PyYAML has it: same text, faster
    return yaml.dump(obj, Dumper=dumper, sort_keys=True, default_flow_style=False, allow_unicode=True)


def read_workflow_control(metadata_dir: Path, limits: PipelineLimits | None = None) -> WorkflowControl | None:
    """``workflow-control.yaml`` from the metadata directory; None when the pipeline wrote none."""
    limits = limits or PipelineLimits()
    data = _read_metadata(
        metadata_dir / WORKFLOW_CONTROL_FILE, limits.max_metadata_file_bytes, ENV_MAX_METADATA_FILE_BYTES
    )
    if data is None:
        return None
    return parse_workflow_control(data, limits=limits.yaml(limits.max_metadata_file_bytes))


def read_status_file(metadata_dir: Path, limits: PipelineLimits) -> dict[str, Any] | None:
    """``status.yaml`` from the metadata directory, parsed; None when the pipeline wrote none."""
    data = _read_metadata(metadata_dir / STATUS_FILE, limits.max_status_bytes, ENV_MAX_STATUS_BYTES)
    if data is None:
        return None
    return parse_status_file(data, limits=limits.yaml(limits.max_status_bytes))


# -- reader ---------------------------------------------------------------------------------------


def reader(ctx: StepContext, options: argparse.Namespace | None = None) -> int:
    """Write the pipeline's object (with its status) to ``/kratix/input/object.yaml``."""

    def run() -> None:
        _step_options(ctx, "reader", options)
        ref = object_ref_from_env(ctx.env)
        input_dir = ctx.env.get(ENV_INPUT_DIR) or DEFAULT_INPUT_DIR
        obj = PipelineApi(connect(ctx)).get_object(ref)
        text = dump_object_yaml(obj)
        _write_atomically(ctx.path(input_dir) / OBJECT_FILE, text)
        ctx.log(f"reader: wrote {ref.describe()} to {input_dir}/{OBJECT_FILE} ({len(text)} bytes)")

    return _guarded(ctx, "reader", run)


# -- work-writer ----------------------------------------------------------------------------------


def _read_destination_selectors(
    ctx: StepContext, metadata_dir: Path, limits: PipelineLimits
) -> list[DirectorySelector]:
    size, yaml_limits = limits.max_metadata_file_bytes, limits.yaml(limits.max_metadata_file_bytes)
    data = _read_metadata(metadata_dir / DESTINATION_SELECTORS_FILE, size, ENV_MAX_METADATA_FILE_BYTES)
    if data is not None:
        if os.path.lexists(metadata_dir / LEGACY_DESTINATION_SELECTORS_FILE):
            ctx.log(
                f"work-writer: warning: both {DESTINATION_SELECTORS_FILE} and "
                f"{LEGACY_DESTINATION_SELECTORS_FILE} exist; using {DESTINATION_SELECTORS_FILE}"
            )
        return parse_destination_selectors(data, filename=DESTINATION_SELECTORS_FILE, limits=yaml_limits)
    legacy = _read_metadata(
        metadata_dir / LEGACY_DESTINATION_SELECTORS_FILE, size, ENV_MAX_METADATA_FILE_BYTES
    )
    if legacy is None:
        return []
    return parse_destination_selectors(legacy, filename=LEGACY_DESTINATION_SELECTORS_FILE, limits=yaml_limits)


def work_identity(options: argparse.Namespace) -> WorkIdentity:
    """Who the Work belongs to, from the work-writer's arguments."""
    if not options.promise_name:
        raise ArgumentsError("--promise-name is required")
    if not options.pipeline_name:
        raise ArgumentsError("--pipeline-name is required")
    is_resource = options.workflow_type == "resource"
    if is_resource and not options.resource_name:
        raise ArgumentsError("--resource-name is required for resource workflows")
    return WorkIdentity(
        promise_name=options.promise_name,
        pipeline_name=options.pipeline_name,
        workflow_type=options.workflow_type,
        namespace=options.namespace or DEFAULT_PIPELINE_NAMESPACE,
        resource_name=options.resource_name if is_resource else "",
        resource_namespace=options.resource_namespace if is_resource else "",
    )


def work_owner(ctx: StepContext, api: PipelineApi) -> WorkOwner | None:
    """The Promise or request the Work is for, with its uid: from the pod's environment (the
    operator puts the uid there), else read from the API; None when the pod names no object."""
    if not ctx.env.get(ENV_OBJECT_NAME):
        ctx.log("work-writer: warning: the pod names no object (KRATIX_OBJECT_*); the Work has no owner")
        return None
    ref = object_ref_from_env(ctx.env)
    uid = ctx.env.get(ENV_OBJECT_UID, "")
    kind = ref.kind
    if not uid or not kind:
        live = api.get_object(ref)
        uid, kind = str(live["metadata"].get("uid") or ""), str(live.get("kind") or kind)
    return WorkOwner(ref.api_version, kind, ref.name, ref.namespace or "", uid)


def _owned_by(work: dict[str, Any], owner: WorkOwner | None) -> bool:
    return owner is not None and owner_uid(work) == owner.uid


def _belongs(work: dict[str, Any], labels: dict[str, str], dry_run: bool) -> bool:
    current = (work.get("metadata") or {}).get("labels") or {}
    if not dry_run and current.get(LABEL_DRY_RUN) == TRUE_LABEL_VALUE:
        return False  # a dry run's Work has the same labels plus dry-run: never overwrite it for real
    return all(current.get(key) == value for key, value in labels.items())


def _upsert_work(
    ctx: StepContext,
    api: PipelineApi,
    identity: WorkIdentity,
    groups: Sequence[WorkloadGroup],
    clock: Clock,
    max_work_bytes: int,
) -> None:
    dry_run = ctx.env.get(ENV_DRY_RUN, "").lower() == TRUE_LABEL_VALUE
    labels = identity.labels(dry_run=dry_run)
    annotations = trace_annotations(ctx.env.get(ENV_TRACE_PARENT), ctx.env.get(ENV_TRACE_STATE))
    force_hash = False
    owner = work_owner(ctx, api)
    for _attempt in range(MAX_ATTEMPTS):
        found = [
            work for work in api.list_works(identity.namespace, labels) if _belongs(work, labels, dry_run)
        ]
        owned = [work for work in found if _owned_by(work, owner)]
        if owned:
            # A Work someone else made with our labels is not ours to update (the operator refuses it).
            found = owned
        if len(found) > 1:
            names = ", ".join(sorted(work["metadata"]["name"] for work in found))
            raise AdapterError(
                f"found {len(found)} Works for this pipeline in namespace {identity.namespace} ({names}); "
                "there must be at most one: delete the extra ones"
            )
        if found:
            body = updated_work(found[0], identity, groups, now=clock(), annotations=annotations, owner=owner)
            verb = "updated"
        else:
            body = new_work(
                identity,
                groups,
                now=clock(),
                dry_run=dry_run,
                annotations=annotations,
                force_hash=force_hash,
                owner=owner,
            )
            verb = "created"
        size = len(json.dumps(body, separators=(",", ":"), default=str))
        problem = work_size_problem(groups, size, max_work_bytes)
        if problem is not None:
            raise PipelineOutputError(problem)
        try:
            if found:
                api.replace_work(body)
            else:
                api.create_work(body)
        except KubeError as error:
            if error.too_large:
                # Only with a raised limit: the size is known here, the API's words alone name none.
                raise PipelineOutputError(
                    f"the API server refused the Work of {format_size(size)} as too large "
                    f"({error.message}); lower {ENV_MAX_WORK_BYTES} to at most 1 MiB, or write less output"
                ) from None
            if not error.conflict:
                raise
            if not found:
                # The name is taken. By our own Work (a concurrent run): the next list finds it.
                # By another pipeline's Work: use the hashed name, which only this identity has.
                taken = api.kube.get(WORKS, body["metadata"]["name"], identity.namespace)
                force_hash = force_hash or taken is None or not _belongs(taken, labels, dry_run)
            continue
        files = sum(len(group.workloads) for group in groups)
        ctx.log(
            f"work-writer: {verb} Work {identity.namespace}/{body['metadata']['name']} with "
            f"{len(groups)} workload group(s) and {files} file(s)"
        )
        return
    raise AdapterError(f"the Work kept changing while we wrote it; gave up after {MAX_ATTEMPTS} attempts")


def work_writer(
    ctx: StepContext, options: argparse.Namespace | None = None, *, clock: Clock = _utc_now
) -> int:
    """Turn the pipeline output into one Work, or leave the Work alone when the pipeline suspends.

    ``options`` are the parsed work-writer arguments (:mod:`kratix_py.adapter.arguments`); when
    omitted they are parsed from ``ctx.args``. Every check runs before anything is written, and the
    whole Work goes out in one create or update call, so a failed run leaves the previous Work as it was.
    """

    def run() -> None:
        parsed = _step_options(ctx, "work-writer", options)
        identity = work_identity(parsed)
        # Each subdirectory is its own volume in the pod, so resolve them one by one, not via the root.
        limits = _limits(ctx)
        root = parsed.input_directory
        metadata_dir = ctx.path(posixpath.join(root, WORK_CREATOR_METADATA))
        control = read_workflow_control(metadata_dir, limits)
        if control is not None and control.pauses_workflow:
            what = "retry" if control.is_retry else "suspension"
            ctx.log(f"work-writer: {WORKFLOW_CONTROL_FILE} asks for a {what}; leaving the Work untouched")
            return
        # The status-writer runs after us and would refuse a bad status.yaml: fail the run before
        # the Work changes, so a broken run never replaces the last good Work.
        read_status_file(metadata_dir, limits)
        directory_selectors = _read_destination_selectors(ctx, metadata_dir, limits)
        output = read_pipeline_output(ctx.path(posixpath.join(root, WORK_CREATOR_OUTPUT)), limits)
        for warning in check_yaml_files(
            output.files,
            limits=limits.yaml(limits.max_output_file_bytes),
            require_objects=limits.non_kubernetes_yaml is NonKubernetesYaml.REFUSE,
        ):
            ctx.log(f"work-writer: warning: {warning}")
        scheduling = _read_metadata(
            ctx.path(posixpath.join(root, WORK_CREATOR_KRATIX_SYSTEM, PROMISE_SCHEDULING_FILE)),
            limits.max_metadata_file_bytes,
            ENV_MAX_METADATA_FILE_BYTES,
        )
        promise_selectors = (
            parse_promise_scheduling(scheduling, limits=limits.yaml(limits.max_metadata_file_bytes))
            if scheduling
            else []
        )
        groups = build_workload_groups(
            output, directory_selectors, promise_selectors, workflow_type=identity.workflow_type
        )
        _upsert_work(ctx, PipelineApi(connect(ctx)), identity, groups, clock, limits.max_work_bytes)

    return _guarded(ctx, "work-writer", run)


# -- status-writer --------------------------------------------------------------------------------


def status_writer(
    ctx: StepContext, options: argparse.Namespace | None = None, *, clock: Clock = _utc_now
) -> int:
    """Merge ``status.yaml`` into the object's status, record suspensions, mark the workflow complete.

    Invalid files fail the step before anything is written. The status is replaced with the
    object's resourceVersion, and on a conflict re-read and merged again.
    """

    def run() -> None:
        parsed = _step_options(ctx, "status-writer", options)
        params = params_from_env(ctx.env)
        limits = _limits(ctx)
        metadata_dir = ctx.path(parsed.metadata_directory)
        incoming = read_status_file(metadata_dir, limits) or {}
        control = read_workflow_control(metadata_dir, limits)
        # Completion is about the configure workflow; the controller tracks the end of a delete pipeline.
        completes = params.is_last_pipeline and params.workflow_action != "delete"
        api = PipelineApi(connect(ctx))
        ref = params.object
        for _attempt in range(MAX_ATTEMPTS):
            obj = api.get_object(ref)
            metadata = obj.get("metadata") or {}
            update = status_after_pipeline(
                obj.get("status") or {},
                incoming,
                workflow_type=params.workflow_type,
                pipeline_name=params.pipeline_name,
                generation=int(metadata.get("generation") or 0),
                is_last_pipeline=completes,
                control=control,
                now=clock(),
                dry_run=params.dry_run,
            )
            current_labels = metadata.get("labels") or {}
            missing = {key: value for key, value in update.labels.items() if current_labels.get(key) != value}
            if missing:
                api.add_labels(ref, missing)
                shown = ", ".join(f"{key}={value}" for key, value in sorted(missing.items()))
                ctx.log(f"status-writer: labelled {ref.describe()} {shown}")
                continue  # re-read: the status must be merged into what the object holds now
            status_bytes = len(json.dumps(update.status, separators=(",", ":"), default=str))
            if status_bytes > limits.max_status_bytes:
                raise StatusFileError(
                    f"{STATUS_FILE}: the merged status would be {format_size(status_bytes)}, over the limit "
                    f"of {format_size(limits.max_status_bytes)} (set {ENV_MAX_STATUS_BYTES} to change it); "
                    "keep large data out of the status"
                )
            obj["status"] = update.status
            try:
                api.replace_status(ref, obj)
            except KubeError as error:
                if error.conflict:
                    continue
                raise
            for warning in update.warnings:
                ctx.log(f"status-writer: warning: {warning}")
            ctx.log(f"status-writer: updated the status of {ref.describe()}")
            return
        raise AdapterError(
            f"the status of {ref.describe()} kept changing while we wrote it; "
            f"gave up after {MAX_ATTEMPTS} attempts"
        )

    return _guarded(ctx, "status-writer", run)


Step = Callable[..., int]

STEPS: dict[str, Step] = {
    "reader": reader,
    "work-writer": work_writer,
    "status-writer": status_writer,
}
"""Step name -> function ``(ctx, options=None) -> exit code``; also the ``pipeline-adapter`` sub-commands."""


def run_step(ctx: StepContext, argv: Sequence[str]) -> int:
    """Run a step from a container's arguments, e.g. ``["work-writer", "--promise-name", "redis"]``.

    A leading ``kratix-py pipeline-adapter`` (the container's command) is skipped, and Kratix's
    names ``work-creator`` and ``update-status`` are accepted, so the fast pod runner can hand over a
    container's command line as it is.
    """
    words = list(argv)
    if words and posixpath.basename(words[0]) == "kratix-py":
        words = words[1:]
    if words and words[0] == "pipeline-adapter":
        words = words[1:]
    if not words:
        report_error(ctx, "pipeline-adapter: no step given; choose reader, work-writer or status-writer")
        return 2
    try:
        step = canonical_step_name(words[0])
        options = parse_step_arguments(step, words[1:])
    except ArgumentsError as error:
        report_error(ctx, f"pipeline-adapter: {error}")
        return 2
    return STEPS[step](ctx, options)


def run_container(ctx: StepContext) -> int:
    """The fast pod runner's entry point for the adapter image: run what the container's command says.

    Uses ``ctx.argv`` (command + args) when the context has it, else ``ctx.command`` + ``ctx.args``,
    e.g. ``["kratix-py", "pipeline-adapter", "work-writer", "--promise-name", "redis", ...]``.
    """
    argv = getattr(ctx, "argv", None)
    if argv is None:
        argv = [*(getattr(ctx, "command", None) or ()), *(getattr(ctx, "args", None) or ())]
    return run_step(ctx, list(argv))
