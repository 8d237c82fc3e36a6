"""Check the Jobs a Promise would create, when the Promise is validated (kratix-behaviour.md §1.14).

Kratix's admission webhook builds each pipeline's Job and dry-runs it, so a Promise whose pipeline
would make an invalid Job (a ``secretKeyRef`` without ``key``, a mount of a volume that does not
exist, a request above its limit) is refused at ``kubectl apply``. kratix-py builds the very same
Job (:mod:`kratix_py.core.pipelines`) for a stand-in request and checks its pod with
:mod:`kratix_py.core.pod_validation`, then points each finding at the field of the Promise that
caused it.

Pure: for ``kratix-py validate`` and for the Promise reconciler.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from kratix_py.api.pipeline import Pipeline
from kratix_py.api.promise import Promise
from kratix_py.contract import WorkflowAction, WorkflowType
from kratix_py.core.pipelines import PipelineRun, PipelineSettings, build_pipeline_resources
from kratix_py.core.pod_validation import PodProblem, Severity, pod_spec_problems

CHECK_ADAPTER_IMAGE: Final = "kratix-py-adapter:check"
"""The adapter image of the Jobs built for checking; only its shape matters."""
_STAND_IN_UID: Final = "00000000-0000-0000-0000-000000000000"
_KRATIX_MOUNTS: Final = 3
"""/kratix/input, /kratix/output and /kratix/metadata come before a user container's own mounts."""


@dataclass(frozen=True)
class JobProblem:
    """One thing the API server would refuse in a pipeline's Job, at its path in the Promise."""

    path: str
    """``spec.workflows.resource.configure[0].spec.containers[0].env[1].valueFrom.secretKeyRef.key``."""
    message: str
    severity: Severity = "error"

    def text(self) -> str:
        return f"{self.path}: {self.message}"


def _stand_in_request(promise: Promise) -> tuple[dict[str, Any], str] | None:
    gvk = promise.request_gvk()
    if gvk is None:
        return None
    request = {
        "apiVersion": gvk.api_version,
        "kind": gvk.kind,
        "metadata": {"name": "example", "namespace": "default", "uid": _STAND_IN_UID},
    }
    return request, gvk.plural


_INDEXED = re.compile(r"^(\w+)\[(\d+)\](.*)$")


def _promise_path(
    problem: PodProblem, base: str, pipeline: Pipeline, pod: dict[str, Any], settings: PipelineSettings
) -> str | None:
    """Where in the Promise the pod field ``problem.path`` comes from; ``None`` if from kratix-py."""
    match = _INDEXED.match(problem.path)
    if match is None:
        return None
    field, index, rest = match.group(1), int(match.group(2)), match.group(3)
    users = pipeline.spec.containers
    if field == "initContainers" and 1 <= index <= len(users):
        user = users[index - 1]
        built = pod["initContainers"][index]
        kratix_env = len(built.get("env") or []) - len(user.env)
        rest = _shift(rest, "env", kratix_env)
        rest = _shift(rest, "volumeMounts", _KRATIX_MOUNTS)
        return f"{base}.spec.containers[{index - 1}]{rest}"
    if field == "volumes":
        own = index - (len(pod.get("volumes") or []) - len(pipeline.spec.volumes))
        if own >= 0:
            return f"{base}.spec.volumes[{own}]{rest}"
    if field == "imagePullSecrets":
        own = index - (1 if settings.adapter_pull_secret else 0)
        if own >= 0:
            return f"{base}.spec.imagePullSecrets[{own}]{rest}"
    if field == "tolerations":
        return f"{base}.spec.tolerations[{index}]{rest}"
    return None


def _shift(rest: str, field: str, offset: int) -> str:
    prefix = f".{field}["
    if not rest.startswith(prefix):
        return rest
    index, _, tail = rest[len(prefix) :].partition("]")
    return f"{prefix}{int(index) - offset}]{tail}"


def pipeline_job_problems(promise: Promise, settings: PipelineSettings | None = None) -> list[JobProblem]:
    """What the API server would refuse in the Job of each of the Promise's pipelines.

    ``settings`` are the platform's (default container settings and pull secret shape the Job);
    without them, kratix-py's defaults. Resource pipelines are built for a stand-in request named
    ``example`` in ``default``; a Promise without ``spec.api`` has none to check.
    """
    settings = settings or PipelineSettings(adapter_image=CHECK_ADAPTER_IMAGE)
    if not promise.metadata.uid:  # a Promise from a file, not yet applied: Job names need a uid
        promise = promise.model_copy(
            update={"metadata": promise.metadata.model_copy(update={"uid": _STAND_IN_UID})}
        )
    stand_in = _stand_in_request(promise)
    problems: list[JobProblem] = []
    for workflow_type, action, index, pipeline in promise.spec.workflows.all_pipelines():
        base = f"spec.workflows.{workflow_type}.{action}[{index}]"
        is_resource = workflow_type is WorkflowType.RESOURCE
        if is_resource and stand_in is None:
            continue
        run = PipelineRun(
            promise=promise,
            workflow_type=workflow_type,
            action=action,
            pipeline=pipeline,
            index=index,
            run=1,
            attempt=1,
            spec_hash="check",
            is_last_pipeline=action is WorkflowAction.CONFIGURE,
            request=stand_in[0] if is_resource and stand_in else None,
            request_plural=stand_in[1] if is_resource and stand_in else None,
        )
        try:
            job = build_pipeline_resources(run, settings).job
        except ValueError as error:
            problems.append(JobProblem(base, f"its Job cannot be built: {error}"))
            continue
        pod = job["spec"]["template"]["spec"]
        for problem in pod_spec_problems(pod):
            path = _promise_path(problem, base, pipeline, pod, settings)
            if path is None:  # a field kratix-py adds: the platform's settings are at fault
                problems.append(
                    JobProblem(
                        base,
                        f"Job field spec.template.spec.{problem.path}: {problem.message}",
                        problem.severity,
                    )
                )
            else:
                problems.append(JobProblem(path, problem.message, problem.severity))
    return problems
