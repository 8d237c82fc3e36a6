"""Run a Promise's workflow on an in-process local platform, exactly as the operator would.

The local platform is the project's Kubernetes API emulator plus its podman pod runner; starting it
takes milliseconds. On it this module installs kratix-py's CRDs, the Promise and (for resource
workflows) its request CRD and the request, then drives the operator's own reconcilers
(:class:`~kratix_py.operator.requests.RequestReconciler`, :class:`~kratix_py.operator.promises.PromiseReconciler`,
:class:`~kratix_py.operator.workflows.WorkflowRunner`) one call at a time, waiting for each pipeline
Job in between. The Jobs are therefore the operator's (same pod, mounts, ``KRATIX_*`` environment,
``object.yaml`` carrying the status the previous pipeline left) and so is the resulting status.

What a cluster would add afterwards is simulated from the given Destinations: each Work's groups
are matched with :mod:`kratix_py.core.scheduling`, and a Work whose groups all have a Destination
is taken to be written (its ``Ready`` condition set), so the request's ``WorksSucceeded`` and
``Reconciled`` conditions come out as they would once the state stores are written.

Differences from a cluster, on purpose: a resource workflow runs without first running the
Promise's own workflow (the Promise is marked Available directly); failed pipeline pods are not
retried unless the pipeline sets ``jobOptions.backoffLimit``; a failed pipeline is not retried later.
"""

from __future__ import annotations

import copy
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.api import Destination, Promise, Work
from kratix_py.contract import WorkflowAction, WorkflowType, WorkType
from kratix_py.core import conditions as cond
from kratix_py.core import scheduling
from kratix_py.core.hashing import promise_spec_hash, resource_spec_hash
from kratix_py.core.jobs import failing, job_phase, job_records, job_selector
from kratix_py.core.names import pipeline_namespace
from kratix_py.core.pipelines import PipelineSettings
from kratix_py.core.request_crd import InvalidAPI, build_request_crd
from kratix_py.core.workflow import JobPhase, RetryPolicy
from kratix_py.errors import CommandError

DEFAULT_TIMEOUT = 300.0
_POLL_SECONDS = 0.2
_MAX_RECONCILES = 200  # far more than any workflow needs; guards against a loop that never settles
_SERVER_FIELDS = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "deletionTimestamp",
)


@dataclass(frozen=True)
class RenderInputs:
    """What to render: a Promise, the request (resource workflows), the workflow and action."""

    promise: Mapping[str, Any]
    request: Mapping[str, Any] | None
    workflow: WorkflowType
    action: WorkflowAction
    adapter_image: str
    destinations: Sequence[Mapping[str, Any]] = ()
    timeout: float = DEFAULT_TIMEOUT


@dataclass(frozen=True)
class RenderedGroup:
    """One workload group of a Work: its files (decoded) and where it would be scheduled."""

    id: str
    directory: str
    selectors: tuple[Mapping[str, Any], ...]
    """The group's ``destinationSelectors`` as the work-writer wrote them (with their source)."""
    selector: Mapping[str, str]
    """The merged selector the scheduler applies (the Promise's labels win on a clash)."""
    files: Mapping[str, bytes]
    destinations: tuple[str, ...]
    """Names of the given Destinations the group may land on (a resource group lands on one)."""


@dataclass(frozen=True)
class RenderedWork:
    """One Work: a pipeline's output, or the Promise's static dependencies (``pipeline`` empty)."""

    pipeline: str
    groups: tuple[RenderedGroup, ...]
    dependency: bool
    """Promise-level output, placed on every matching Destination rather than on one."""

    @property
    def label(self) -> str:
        return self.pipeline or "dependencies"


@dataclass(frozen=True)
class PipelineFailure:
    """The pipeline that failed, the container that failed in it, and that container's log."""

    pipeline: str
    container: str
    reason: str
    log: str


@dataclass(frozen=True)
class RenderResult:
    subject: str
    """``Promise <name>`` or ``<Kind> <namespace>/<name>``."""
    workflow: WorkflowType
    action: WorkflowAction
    pipelines: tuple[str, ...]
    """The pipelines that ran, in order."""
    works: tuple[RenderedWork, ...]
    status: Mapping[str, Any]
    failure: PipelineFailure | None = None
    destinations: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.failure is None


def render(inputs: RenderInputs) -> RenderResult:
    """Run the workflow on a fresh local platform (podman) and report what happened."""
    from kratix_py.local_platform.platform import LocalPlatform

    promise = _promise_model(inputs.promise)
    destinations = [_destination_model(d) for d in inputs.destinations]
    with tempfile.TemporaryDirectory(prefix="kratix-py-render-") as workdir:
        platform = LocalPlatform(workdir=Path(workdir), pods="podman")
        try:
            platform.start()
            session = _Session(k.Kube(platform.api_client()), promise, inputs, destinations)
            return session.run()
        finally:
            platform.stop()


def _promise_model(body: Mapping[str, Any]) -> Promise:
    from pydantic import ValidationError

    from kratix_py.api import validation_message

    try:
        return Promise.model_validate(dict(body))
    except ValidationError as error:
        raise CommandError(f"the Promise is invalid: {validation_message(error)}") from None


def _destination_model(body: Mapping[str, Any]) -> Destination:
    from pydantic import ValidationError

    from kratix_py.api import validation_message

    try:
        return Destination.model_validate(dict(body))
    except ValidationError as error:
        name = (body.get("metadata") or {}).get("name", "?")
        raise CommandError(f"Destination {name} is invalid: {validation_message(error)}") from None


def _without_condition(status: Mapping[str, Any], condition_type: str, reason: str) -> dict[str, Any]:
    kept = [
        condition
        for condition in status.get("conditions") or []
        if (condition.get("type"), condition.get("reason")) != (condition_type, reason)
    ]
    trimmed = dict(status)
    if kept:
        trimmed["conditions"] = kept
    else:
        trimmed.pop("conditions", None)
    return trimmed


def _fresh(body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` as something to create: no status, no fields only the API server sets."""
    created = copy.deepcopy(dict(body))
    created.pop("status", None)
    metadata = created.setdefault("metadata", {})
    for key in _SERVER_FIELDS:
        metadata.pop(key, None)
    return created


@dataclass
class _Session:
    kube: k.Kube
    promise: Promise
    inputs: RenderInputs
    destinations: list[Destination]
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    seen_failures: dict[str, PipelineFailure] = field(default_factory=dict)
    """Job name -> what its failed pod said, read while the pod was there: under restartPolicy
    OnFailure (Kratix's) the Job controller deletes the pod before it marks the Job Failed."""

    # -- setup -------------------------------------------------------------------------------------
    def run(self) -> RenderResult:
        from kratix_py.operator import resources as r

        self._install_crds()
        self._ensure_namespace(c.SYSTEM_NAMESPACE)
        if self.promise.spec.workflows.config.pipeline_namespace:
            # Kratix expects this namespace to exist already; on a fresh platform it must be made.
            self._ensure_namespace(self.promise.spec.workflows.config.pipeline_namespace)
        self._create(r.PROMISES, _fresh(self.inputs.promise), "the Promise")
        if self.inputs.workflow is WorkflowType.RESOURCE:
            resource, obj = self._create_request()
        else:
            resource, obj = r.PROMISES, self.kube.get(r.PROMISES, self.promise.name) or {}
        name, namespace = obj["metadata"]["name"], obj["metadata"].get("namespace")
        if self.inputs.action is WorkflowAction.DELETE:
            self._run_delete(resource, name, namespace)
        else:
            self._run_configure(resource, name, namespace)
        return self._result(resource, name, namespace)

    def _install_crds(self) -> None:
        import yaml

        from kratix_py.api import crdgen

        for text in crdgen.generate().values():
            self.kube.apply(k.CRDS, yaml.safe_load(text))

    def _ensure_namespace(self, namespace: str) -> None:
        if self.kube.get(k.NAMESPACES, namespace) is None:
            self.kube.create(
                k.NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
            )

    def _create(self, resource: k.Resource, body: Mapping[str, Any], what: str) -> dict[str, Any]:
        try:
            return self.kube.create(resource, body)
        except k.KubeError as error:
            raise CommandError(f"the API server rejected {what}: {error.message}") from None

    def _create_request(self) -> tuple[k.Resource, dict[str, Any]]:
        from kratix_py.operator import resources as r

        if self.inputs.request is None:
            raise CommandError("a resource workflow needs a request: pass the REQUEST file")
        try:
            crd = build_request_crd(self.promise.name, self.promise.spec.api or {})
        except InvalidAPI as error:
            raise CommandError(f"the Promise's spec.api cannot become a CRD: {error}") from None
        self._create(k.CRDS, crd, "the Promise's request CRD (spec.api)")
        gvk = self.promise.request_gvk()
        assert gvk is not None  # build_request_crd succeeded, so there is an API
        # Requests wait for an Available Promise whose current generation has been installed;
        # render runs only the resource workflow, so it says both of the Promise directly.
        installed = self.kube.get(r.PROMISES, self.promise.name) or {}
        generation = (installed.get("metadata") or {}).get("generation")
        self.kube.patch_status(
            r.PROMISES, self.promise.name, {"status": "Available", "observedGeneration": generation}
        )
        body = _fresh(self.inputs.request)
        namespace = body["metadata"].setdefault("namespace", "default")
        self._ensure_namespace(namespace)
        resource = k.Resource(gvk.group, gvk.version, gvk.plural, True, gvk.kind)
        obj = self._create(resource, body, "the request")
        initial_status = self.inputs.request.get("status")
        if isinstance(initial_status, Mapping) and initial_status:
            # A request file may carry the status an earlier run left, for pipelines that read it.
            obj = self.kube.patch_status(resource, obj["metadata"]["name"], dict(initial_status), namespace)
        return resource, obj

    # -- running the workflow ----------------------------------------------------------------------
    def _workflow_runner(self) -> Any:
        from kratix_py.operator.workflows import WorkflowRunner

        # Render reports a failure at once: no pod retries (unless the pipeline asks for them) and
        # no later retry of the failed pipeline.
        settings = PipelineSettings(adapter_image=self.inputs.adapter_image, default_backoff_limit=0)
        return WorkflowRunner(self.kube, settings, default_interval=None, retry=RetryPolicy(max_attempts=1))

    def _run_configure(self, resource: k.Resource, name: str, namespace: str | None) -> None:
        from kratix_py.operator.promises import PromiseReconciler
        from kratix_py.operator.requests import RequestReconciler, request_key

        runner = self._workflow_runner()
        reconcile: Callable[[], object]
        if self.inputs.workflow is WorkflowType.RESOURCE:
            requests = RequestReconciler(self.kube, runner, clock=self.clock)
            key = request_key(resource.group, resource.version, resource.plural, namespace or "", name)
            reconcile = lambda: requests(key)  # noqa: E731
        else:
            promises = PromiseReconciler(
                self.kube, runner, enqueue_requests=lambda _name: None, clock=self.clock
            )
            reconcile = lambda: promises(("promise", name))  # noqa: E731
        self._drive(reconcile, namespace)
        # What the scheduler and state-store writers would do, then the conditions that follow.
        self._simulate_placements(namespace)
        self._drive(reconcile, namespace)

    def _run_delete(self, resource: k.Resource, name: str, namespace: str | None) -> None:
        from kratix_py.operator.status import write_status
        from kratix_py.operator.workflows import Subject

        if self.promise.delete_pipeline(self.inputs.workflow) is None:
            raise CommandError(
                f"the Promise has no {self.inputs.workflow} delete pipeline "
                f"(spec.workflows.{self.inputs.workflow}.delete is empty): nothing to render"
            )
        obj = self.kube.get(resource, name, namespace) or {}
        # The delete pipeline sees the object being deleted, deletionTimestamp and all; the
        # finalizer keeps it there for the pipeline, and for the status read at the end.
        obj = self.kube.add_finalizers(resource, obj, [c.FINALIZER_DELETE_WORKFLOWS])
        self.kube.delete(resource, name, namespace)
        runner = self._workflow_runner()
        workflow = self.inputs.workflow

        def step() -> None:
            current = self.kube.get(resource, name, namespace) or {}
            spec = dict(self.inputs.promise.get("spec") or {})
            spec_hash = (
                resource_spec_hash(spec, current.get("spec") or {})
                if workflow is WorkflowType.RESOURCE
                else promise_spec_hash(spec)
            )
            subject = Subject(self.promise, workflow, current, resource, spec_hash)
            outcome = runner.delete(subject, self.clock())
            old = copy.deepcopy(current.get("status") or {})
            status = outcome.status
            if outcome.completed:
                # Kratix would now remove the object; "running" is no longer true of what is left.
                status = _without_condition(
                    status, c.CONDITION_DELETE_WORKFLOW_COMPLETED, "DeleteWorkflowRunning"
                )
            write_status(self.kube, resource, current, old, status)

        self._drive(step, namespace)

    def _drive(self, reconcile: Callable[[], object], namespace: str | None) -> None:
        """Reconcile, wait for the Job it started, and again, until no Job is left running."""
        deadline = time.monotonic() + self.inputs.timeout
        for _ in range(_MAX_RECONCILES):
            try:
                reconcile()
            except k.KubeError as error:
                raise CommandError(
                    f"the local platform refused a step of the workflow: {error.message}"
                ) from None
            running = [job for job in self._jobs(namespace) if job_phase(job) is JobPhase.RUNNING]
            if not running:
                return
            self._wait(running, namespace, deadline)
        raise CommandError(f"the workflow did not settle after {_MAX_RECONCILES} steps")

    def _jobs(self, namespace: str | None) -> list[dict[str, Any]]:
        request = None
        if self.inputs.workflow is WorkflowType.RESOURCE:
            request = {"metadata": {"name": self._request_name(), "namespace": namespace}}
        selector = job_selector(self.promise, self.inputs.workflow, None, request)
        where = pipeline_namespace(self.promise, self.inputs.workflow, namespace)
        return self.kube.list(k.JOBS, where, labels=selector)

    def _request_name(self) -> str:
        return str(((self.inputs.request or {}).get("metadata") or {}).get("name") or "")

    def _wait(self, running: Sequence[Mapping[str, Any]], namespace: str | None, deadline: float) -> None:
        names = {job["metadata"]["name"] for job in running}
        while time.monotonic() < deadline:
            jobs = [job for job in self._jobs(namespace) if job["metadata"]["name"] in names]
            if all(job_phase(job) is not JobPhase.RUNNING for job in jobs):
                return
            for job in jobs:
                # Once per Job, when it is about to fail: its pods are deleted next.
                if failing(job) and job["metadata"]["name"] not in self.seen_failures:
                    failure = self._failure_in_pods(job)
                    if failure is not None:
                        self.seen_failures[job["metadata"]["name"]] = failure
            time.sleep(_POLL_SECONDS)
        pipelines = sorted(
            {(job["metadata"].get("labels") or {}).get(c.LABEL_PIPELINE_NAME, "?") for job in running}
        )
        raise CommandError(
            f"pipeline {', '.join(pipelines)} did not finish within {self.inputs.timeout:g}s; "
            "raise --timeout if it is just slow"
        )

    # -- what a cluster would do with the Works -----------------------------------------------------
    def _works(self, namespace: str | None) -> list[dict[str, Any]]:
        from kratix_py.operator import resources as r

        where = pipeline_namespace(self.promise, self.inputs.workflow, namespace)
        labels = {c.LABEL_PROMISE_NAME: self.promise.name}
        if self.inputs.workflow is WorkflowType.RESOURCE:
            labels[c.LABEL_RESOURCE_NAME] = self._request_name()
            labels[c.LABEL_WORK_TYPE] = str(WorkType.RESOURCE)
        works = self.kube.list(r.WORKS, where, labels=labels)
        if self.inputs.workflow is WorkflowType.RESOURCE and where != namespace and namespace:
            works = [
                w
                for w in works
                if (w["metadata"].get("labels") or {}).get(c.LABEL_RESOURCE_NAMESPACE) == namespace
            ]
        return works

    def _simulate_placements(self, namespace: str | None) -> None:
        from kratix_py.operator import resources as r

        now = self.clock()
        for body in self._works(namespace):
            work = Work.model_validate(body)
            scheduled = all(self._group_destinations(work, group) for group in work.spec.workload_groups)
            ready = (
                cond.Condition(c.CONDITION_READY, cond.TRUE, "AllWorkplacementsScheduled", "Ready")
                if scheduled
                else cond.Condition(c.CONDITION_READY, cond.FALSE, "UnscheduledWorkloads", "Pending")
            )
            conditions = cond.set_condition((body.get("status") or {}).get("conditions"), ready, now)
            self.kube.patch_status(r.WORKS, work.name, {"conditions": conditions}, work.metadata.namespace)

    def _group_destinations(self, work: Work, group: Any) -> tuple[str, ...]:
        names = scheduling.candidates(scheduling.merged_selector(group), self.destinations)
        if not names or work.is_dependency:
            return tuple(names)
        return (scheduling.choose_destination(scheduling.request_identity(work), group.id, names),)

    # -- the report ---------------------------------------------------------------------------------
    def _result(self, resource: k.Resource, name: str, namespace: str | None) -> RenderResult:
        obj = self.kube.get(resource, name, namespace) or {}
        jobs = self._jobs(namespace)
        records = job_records(jobs)
        order = {
            p.name: i for i, p in enumerate(self.promise.pipelines(self.inputs.workflow, self.inputs.action))
        }
        ran: list[str] = []
        for record in records:
            if record.pipeline not in ran:
                ran.append(record.pipeline)
        failure = None
        failed = [job for job in jobs if job_phase(job) is JobPhase.FAILED]
        if failed:
            failure = self._failure(failed[-1])
        works = [self._rendered(Work.model_validate(body)) for body in self._works(namespace)]
        # Static dependencies first, then each pipeline's Work in workflow order.
        works.sort(key=lambda w: (bool(w.pipeline), order.get(w.pipeline, len(order)), w.pipeline))
        kind = str(obj.get("kind") or resource.kind)
        subject = f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"
        return RenderResult(
            subject=subject,
            workflow=self.inputs.workflow,
            action=self.inputs.action,
            pipelines=tuple(ran),
            works=tuple(works) if self.inputs.action is WorkflowAction.CONFIGURE else (),
            status=copy.deepcopy(obj.get("status") or {}),
            failure=failure,
            destinations=tuple(sorted(d.name for d in self.destinations)),
        )

    def _rendered(self, work: Work) -> RenderedWork:
        groups = []
        for group in work.spec.workload_groups:
            groups.append(
                RenderedGroup(
                    id=group.id,
                    directory=group.directory,
                    selectors=tuple(s.to_dict() for s in group.destination_selectors),
                    selector=scheduling.merged_selector(group),
                    files={w.filepath: w.data() for w in sorted(group.workloads, key=lambda w: w.filepath)},
                    destinations=self._group_destinations(work, group),
                )
            )
        pipeline = (work.metadata.labels or {}).get(c.LABEL_PIPELINE_NAME, "")
        return RenderedWork(pipeline=pipeline, groups=tuple(groups), dependency=work.is_dependency)

    def _failure(self, job: Mapping[str, Any]) -> PipelineFailure:
        found = self._failure_in_pods(job) or self.seen_failures.get(job["metadata"]["name"])
        if found is not None:
            return found
        pipeline = (job["metadata"].get("labels") or {}).get(c.LABEL_PIPELINE_NAME, "?")
        message = next(
            (
                str(cd.get("message") or cd.get("reason"))
                for cd in (job.get("status") or {}).get("conditions") or []
                if cd.get("type") == "Failed"
            ),
            "the Job failed",
        )
        return PipelineFailure(pipeline, "", message, "")

    def _failure_in_pods(self, job: Mapping[str, Any]) -> PipelineFailure | None:
        """The first failed (or stuck) container of the Job's newest pods, with its log."""
        pipeline = (job["metadata"].get("labels") or {}).get(c.LABEL_PIPELINE_NAME, "?")
        namespace = job["metadata"]["namespace"]
        pods = self.kube.list(k.PODS, namespace, labels={"job-name": job["metadata"]["name"]})
        for pod in sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp") or "", reverse=True):
            status = pod.get("status") or {}
            for container in [
                *(status.get("initContainerStatuses") or []),
                *(status.get("containerStatuses") or []),
            ]:
                state = container.get("state") or {}
                terminated, waiting = state.get("terminated") or {}, state.get("waiting") or {}
                if terminated and terminated.get("exitCode", 0) != 0:
                    reason = f"exited {terminated.get('exitCode')}"
                    if terminated.get("reason") and terminated["reason"] != "Error":
                        reason += f" ({terminated['reason']})"
                    log = self._log(namespace, pod["metadata"]["name"], container["name"])
                    return PipelineFailure(pipeline, container["name"], reason, log)
                if waiting.get("reason") and waiting["reason"] != "PodInitializing":
                    reason = f"{waiting['reason']}: {waiting.get('message') or ''}".rstrip(": ")
                    return PipelineFailure(pipeline, container["name"], reason, "")
        return None

    def _log(self, namespace: str, pod: str, container: str) -> str:
        try:
            return self.kube.request_text(k.PODS.path(namespace, pod, "log"), query={"container": container})
        except k.KubeError:
            return ""
