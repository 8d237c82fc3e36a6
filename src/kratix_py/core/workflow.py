"""The workflow state machine: which pipeline Job to run next for an object, if any.

Kratix orders Jobs by their second-resolution ``creationTimestamp`` and sleeps 1.1 s after every
pipeline start so that the order is unambiguous. kratix-py records an explicit *run* number, the
pipeline *index* and an *attempt* on every Job it creates, and decides from those alone. The decision
is a pure function of the object's state and its Jobs, so an operator restart recomputes the same
answer, and Job names derived from (object, run, index, attempt) make "start this pipeline"
idempotent: a second create of the same Job is a 409, never a second run.

Rules (kratix-behaviour.md §2.8, §2.10, §2.11, §2.13):
- configure pipelines run one at a time, in order; the next starts only when the previous succeeded;
- a failure stops the chain; the failed pipeline is retried with exponential backoff, and once those
  retries are spent (with ``reconcileAfterFailure``, Kratix's default) the whole workflow is started
  again one reconciliation interval after the last failure, as Kratix does;
- a new spec hash, the manual-reconciliation label or a periodic rerun starts a new run from the first
  pipeline, but only once no Job of the object is running; the runner suspends a running Job of
  an older spec (so a hung pipeline cannot hold a new spec back), never one of the current spec;
- a pipeline that suspended itself (workflow-control.yaml) waits; when resumed it is run again.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta


class JobPhase(enum.StrEnum):
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


@dataclass(frozen=True)
class JobRecord:
    """What the state machine needs to know about one pipeline Job (read from its labels/status)."""

    name: str
    pipeline: str
    index: int
    run: int
    attempt: int
    spec_hash: str
    phase: JobPhase
    finished_at: datetime | None = None
    message: str = ""

    @property
    def order(self) -> tuple[int, int, int]:
        """Jobs sort by (run, index, attempt): the largest is the most recent decision."""
        return (self.run, self.index, self.attempt)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff for failed pipelines: base, base*2, base*4 ... capped at ``maximum``."""

    base: timedelta = timedelta(seconds=10)
    maximum: timedelta = timedelta(minutes=10)
    max_attempts: int = 5  # 1 run + 4 automatic retries; a spec change or the manual label starts afresh

    def delay(self, failed_attempt: int) -> timedelta:
        """Wait after the ``failed_attempt``-th (1-based) attempt failed."""
        return min(self.base * (2 ** max(failed_attempt - 1, 0)), self.maximum)


@dataclass(frozen=True)
class WorkflowState:
    """Everything the decision depends on. Time is an input, never read from a clock here."""

    pipelines: Sequence[str]
    spec_hash: str
    jobs: Sequence[JobRecord]
    now: datetime
    rerun_requested: bool = False
    """The manual-reconciliation (or run-from-start) label is on the object."""
    completed_at: datetime | None = None
    """When the last run completed (ConfigureWorkflowCompleted=True lastTransitionTime)."""
    interval: timedelta | None = timedelta(hours=10)
    """Periodic rerun interval; ``None`` disables periodic reruns."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    suspended: bool = False
    """The ``kratix.io/workflow-suspended`` label is on the object."""
    suspended_index: int | None = None
    """The pipeline that asked to suspend or retry (its phase is ``Suspended``)."""
    resume_at: datetime | None = None
    """``nextRetryAt`` written by a pipeline that asked to be retried later."""
    change_reason: str = "the specification changed"
    """Why the spec hash differs, as the caller knows it: a request's hash also covers its
    Promise's spec, so "the Promise changed" is the truth when the request itself did not."""
    reconcile_after_failure: bool = True
    """Kratix's ``workflows.reconcileAfterFailure``: a failed workflow whose retries are spent is
    started again each ``interval``; without it only a change or the manual label reruns it."""


@dataclass(frozen=True)
class Start:
    """Create the Job for pipeline ``index`` of ``run`` (attempt ``attempt``)."""

    index: int
    run: int
    attempt: int
    reason: str
    new_run: bool = False
    """True when this starts a new run: the rerun labels can go, statuses reset to Pending."""


@dataclass(frozen=True)
class Wait:
    """Nothing to do now; look again after ``requeue_after`` (or on the next Job event)."""

    reason: str
    requeue_after: timedelta | None = None


@dataclass(frozen=True)
class Failed:
    """Pipeline ``index`` failed; ``retry_at`` says when it will be retried (None: not automatically)."""

    index: int
    job: str
    message: str
    retry_at: datetime | None


@dataclass(frozen=True)
class Suspended:
    """A pipeline asked to suspend the workflow; ``resume_at`` when it asked for a later retry."""

    index: int
    resume_at: datetime | None


@dataclass(frozen=True)
class Completed:
    """Every pipeline of the current run succeeded; rerun after ``requeue_after`` (periodic)."""

    run: int
    requeue_after: timedelta | None


Decision = Start | Wait | Failed | Suspended | Completed


def latest_run(jobs: Iterable[JobRecord]) -> int:
    return max((job.run for job in jobs), default=0)


def decide(state: WorkflowState) -> Decision:
    """The next step of a configure workflow (see the module docstring for the rules)."""
    if not state.pipelines:
        return Completed(run=0, requeue_after=None)

    running = [job for job in state.jobs if job.phase is JobPhase.RUNNING]
    if running:
        newest = max(running, key=lambda job: job.order)
        return Wait(f"pipeline {newest.pipeline} is running (Job {newest.name})")

    run = latest_run(state.jobs)
    current = sorted((job for job in state.jobs if job.run == run), key=lambda job: job.order)
    if not current:
        return Start(index=0, run=run + 1, attempt=1, reason="first run", new_run=True)

    if state.rerun_requested:
        return Start(index=0, run=run + 1, attempt=1, reason="manual reconciliation requested", new_run=True)
    if any(job.spec_hash != state.spec_hash for job in current):
        return Start(index=0, run=run + 1, attempt=1, reason=state.change_reason, new_run=True)

    last = current[-1]
    if state.suspended_index is not None and state.suspended_index == last.index:
        if state.suspended:
            # The handler removes the label once ``resume_at`` has passed (or a person does).
            return Suspended(index=last.index, resume_at=state.resume_at)
        return Start(index=last.index, run=run, attempt=last.attempt + 1, reason="workflow resumed")

    if last.phase is JobPhase.FAILED:
        retry_at = _retry_at(state, last)
        if retry_at is not None and retry_at <= state.now:
            return Start(
                index=last.index,
                run=run,
                attempt=last.attempt + 1,
                reason=f"retrying after failure (attempt {last.attempt + 1})",
            )
        rerun_at = _rerun_after_failure_at(state, last) if retry_at is None else None
        if rerun_at is not None and rerun_at <= state.now:
            # A new run, from the first pipeline, as Kratix's manual-reconciliation label would
            # start: the Job name of (run + 1, 0, 1) is fixed, so two reconciles start it once.
            return Start(index=0, run=run + 1, attempt=1, reason="reconciling after failure", new_run=True)
        return Failed(index=last.index, job=last.name, message=last.message, retry_at=retry_at or rerun_at)

    # The last Job succeeded.
    if last.index + 1 < len(state.pipelines):
        return Start(index=last.index + 1, run=run, attempt=1, reason=f"pipeline {last.pipeline} succeeded")
    if last.index + 1 > len(state.pipelines) or state.pipelines[last.index] != last.pipeline:
        # The pipeline list changed under the same hash (cannot happen for Promise-driven hashes,
        # which cover the workflows) — treat it as a new specification to be safe.
        return Start(index=0, run=run + 1, attempt=1, reason="the pipelines changed", new_run=True)
    return _completed(state, run)


def _retry_at(state: WorkflowState, failed: JobRecord) -> datetime | None:
    if failed.attempt >= state.retry.max_attempts or failed.finished_at is None:
        return None
    return failed.finished_at + state.retry.delay(failed.attempt)


def _rerun_after_failure_at(state: WorkflowState, failed: JobRecord) -> datetime | None:
    if not state.reconcile_after_failure or state.interval is None or failed.finished_at is None:
        return None
    return failed.finished_at + state.interval


def _completed(state: WorkflowState, run: int) -> Decision:
    if state.interval is None or state.completed_at is None:
        return Completed(run=run, requeue_after=state.interval)
    due = state.completed_at + state.interval
    if due <= state.now:
        return Start(index=0, run=run + 1, attempt=1, reason="periodic reconciliation", new_run=True)
    return Completed(run=run, requeue_after=due - state.now)


def jobs_to_prune(jobs: Iterable[JobRecord], keep: int = 5) -> list[str]:
    """Names of Jobs beyond the newest ``keep`` per pipeline; running Jobs are never pruned."""
    by_pipeline: dict[str, list[JobRecord]] = {}
    for job in jobs:
        by_pipeline.setdefault(job.pipeline, []).append(job)
    doomed: list[str] = []
    for pipeline_jobs in by_pipeline.values():
        pipeline_jobs.sort(key=lambda job: job.order, reverse=True)
        doomed.extend(job.name for job in pipeline_jobs[keep:] if job.phase is not JobPhase.RUNNING)
    return sorted(doomed)


@dataclass(frozen=True)
class DeleteState:
    """Inputs for the delete workflow (only the first delete pipeline runs, as in Kratix)."""

    pipeline: str | None
    delete_jobs: Sequence[JobRecord]
    configure_running: bool
    now: datetime
    rerun_requested: bool = False
    retry: RetryPolicy = field(default_factory=RetryPolicy)


def decide_delete(state: DeleteState) -> Decision:
    """The next step of a delete workflow: wait for configure Jobs, run once, retry with backoff.

    A failed delete pipeline blocks deletion (the finalizer stays) until a retry succeeds, someone
    adds the manual-reconciliation label, or an administrator abandons it (documented way out).
    """
    if state.pipeline is None:
        return Completed(run=0, requeue_after=None)
    if state.configure_running:
        return Wait("waiting for the running configure pipeline to finish before deleting")
    if not state.delete_jobs:
        return Start(index=0, run=1, attempt=1, reason="the object is being deleted", new_run=True)
    last = max(state.delete_jobs, key=lambda job: job.order)
    if last.phase is JobPhase.RUNNING:
        return Wait(f"delete pipeline {last.pipeline} is running (Job {last.name})")
    if last.phase is JobPhase.SUCCEEDED:
        return Completed(run=last.run, requeue_after=None)
    if state.rerun_requested:
        return Start(
            index=0, run=last.run + 1, attempt=1, reason="manual reconciliation requested", new_run=True
        )
    retry_at = None
    if last.attempt < state.retry.max_attempts and last.finished_at is not None:
        retry_at = last.finished_at + state.retry.delay(last.attempt)
    if retry_at is not None and retry_at <= state.now:
        return Start(index=0, run=last.run, attempt=last.attempt + 1, reason="retrying the delete pipeline")
    return Failed(index=0, job=last.name, message=last.message, retry_at=retry_at)
