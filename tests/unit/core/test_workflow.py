"""The configure/delete workflow state machine, rule by rule (kratix-behaviour.md §2.8-§2.13)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kratix_py.core.workflow import (
    Completed,
    DeleteState,
    Failed,
    JobPhase,
    JobRecord,
    RetryPolicy,
    Start,
    Suspended,
    Wait,
    WorkflowState,
    decide,
    decide_delete,
    jobs_to_prune,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
PIPELINES = ["first", "second"]


def job(index: int, phase: JobPhase, *, run: int = 1, attempt: int = 1, spec_hash: str = "h1", ago: int = 60):
    return JobRecord(
        name=f"job-{run}-{index}-{attempt}",
        pipeline=PIPELINES[index],
        index=index,
        run=run,
        attempt=attempt,
        spec_hash=spec_hash,
        phase=phase,
        finished_at=None if phase is JobPhase.RUNNING else NOW - timedelta(seconds=ago),
        message="container failed" if phase is JobPhase.FAILED else "",
    )


def state(*jobs: JobRecord, **kwargs) -> WorkflowState:
    return WorkflowState(
        pipelines=PIPELINES, spec_hash=kwargs.pop("spec_hash", "h1"), jobs=jobs, now=NOW, **kwargs
    )


def test_no_jobs_starts_the_first_pipeline_of_run_1():
    assert decide(state()) == Start(index=0, run=1, attempt=1, reason="first run", new_run=True)


def test_no_pipelines_is_complete_at_once():
    decision = decide(WorkflowState(pipelines=[], spec_hash="h", jobs=[], now=NOW))
    assert isinstance(decision, Completed)


def test_the_next_pipeline_starts_only_after_the_previous_succeeded():
    assert decide(state(job(0, JobPhase.RUNNING))) == Wait("pipeline first is running (Job job-1-0-1)")
    decision = decide(state(job(0, JobPhase.SUCCEEDED)))
    assert isinstance(decision, Start) and (decision.index, decision.run, decision.new_run) == (1, 1, False)


def test_all_pipelines_succeeded_is_completed_with_the_periodic_interval():
    decision = decide(state(job(0, JobPhase.SUCCEEDED), job(1, JobPhase.SUCCEEDED), completed_at=NOW))
    assert decision == Completed(run=1, requeue_after=timedelta(hours=10))


def test_a_failure_stops_the_chain_and_is_retried_with_backoff():
    failed = job(0, JobPhase.FAILED, ago=5)
    decision = decide(state(failed))
    assert isinstance(decision, Failed)
    assert decision.index == 0 and decision.message == "container failed"
    assert decision.retry_at == failed.finished_at + timedelta(seconds=10)
    later = decide(state(job(0, JobPhase.FAILED, ago=11)))
    assert later == Start(index=0, run=1, attempt=2, reason="retrying after failure (attempt 2)")


def test_backoff_doubles_and_gives_up_after_max_attempts():
    policy = RetryPolicy(base=timedelta(seconds=10), maximum=timedelta(seconds=30), max_attempts=3)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [timedelta(seconds=s) for s in (10, 20, 30, 30)]
    exhausted = decide(
        state(job(0, JobPhase.FAILED, attempt=3, ago=3600), retry=policy, reconcile_after_failure=False)
    )
    assert isinstance(exhausted, Failed) and exhausted.retry_at is None


def test_with_reconcile_after_failure_a_spent_failure_reruns_from_the_start_each_interval():
    policy = RetryPolicy(max_attempts=3)
    interval = timedelta(minutes=1)
    failed_second = [job(0, JobPhase.SUCCEEDED, ago=200), job(1, JobPhase.FAILED, attempt=3, ago=30)]
    waiting = decide(state(*failed_second, retry=policy, interval=interval))
    assert isinstance(waiting, Failed) and waiting.retry_at == NOW + timedelta(seconds=30)
    failed_second[1] = job(1, JobPhase.FAILED, attempt=3, ago=61)
    rerun = decide(state(*failed_second, retry=policy, interval=interval))
    assert rerun == Start(index=0, run=2, attempt=1, reason="reconciling after failure", new_run=True)
    # The rerun is a new run whose Job name is fixed: once it runs, nothing else starts.
    running = decide(state(*failed_second, job(0, JobPhase.RUNNING, run=2), retry=policy, interval=interval))
    assert isinstance(running, Wait)


def test_backoff_retries_come_before_a_rerun_after_failure():
    retry = decide(state(job(0, JobPhase.FAILED, attempt=1, ago=3600), interval=timedelta(minutes=1)))
    assert isinstance(retry, Start) and (retry.run, retry.attempt) == (1, 2)


def test_a_spec_change_restarts_from_the_first_pipeline_but_never_interrupts_a_running_job():
    running = decide(state(job(0, JobPhase.SUCCEEDED), job(1, JobPhase.RUNNING), spec_hash="h2"))
    assert isinstance(running, Wait)
    decision = decide(state(job(0, JobPhase.SUCCEEDED), job(1, JobPhase.SUCCEEDED), spec_hash="h2"))
    assert decision == Start(index=0, run=2, attempt=1, reason="the specification changed", new_run=True)


def test_a_new_hash_is_announced_with_the_cause_the_caller_knows():
    jobs = (job(0, JobPhase.SUCCEEDED), job(1, JobPhase.SUCCEEDED))
    decision = decide(state(*jobs, spec_hash="h2", change_reason="the Promise changed"))
    assert isinstance(decision, Start) and decision.reason == "the Promise changed"


def test_a_spec_change_after_a_failure_starts_a_new_run():
    decision = decide(state(job(0, JobPhase.FAILED, ago=1), spec_hash="h2"))
    assert isinstance(decision, Start) and decision.run == 2 and decision.index == 0


def test_manual_reconciliation_reruns_from_the_start():
    done = (job(0, JobPhase.SUCCEEDED), job(1, JobPhase.SUCCEEDED))
    decision = decide(state(*done, rerun_requested=True, completed_at=NOW))
    assert decision == Start(
        index=0, run=2, attempt=1, reason="manual reconciliation requested", new_run=True
    )


def test_an_unchanged_object_starts_nothing():
    done = (job(0, JobPhase.SUCCEEDED), job(1, JobPhase.SUCCEEDED))
    assert isinstance(decide(state(*done, completed_at=NOW - timedelta(hours=1))), Completed)


def test_periodic_reconciliation_reruns_after_the_interval():
    done = (job(0, JobPhase.SUCCEEDED), job(1, JobPhase.SUCCEEDED))
    due = decide(state(*done, completed_at=NOW - timedelta(hours=11)))
    assert due == Start(index=0, run=2, attempt=1, reason="periodic reconciliation", new_run=True)
    not_due = decide(state(*done, completed_at=NOW - timedelta(hours=9)))
    assert not_due == Completed(run=1, requeue_after=timedelta(hours=1))
    disabled = decide(state(*done, completed_at=NOW - timedelta(days=9), interval=None))
    assert isinstance(disabled, Completed)


def test_the_newest_run_decides_older_runs_are_history():
    decision = decide(
        state(
            job(0, JobPhase.FAILED, run=1),
            job(0, JobPhase.SUCCEEDED, run=2),
            job(1, JobPhase.SUCCEEDED, run=2),
        )
    )
    assert isinstance(decision, Completed) and decision.run == 2


def test_a_suspended_pipeline_waits_and_reruns_when_resumed():
    resume_at = NOW + timedelta(minutes=5)
    waiting = decide(
        state(job(0, JobPhase.SUCCEEDED), suspended=True, suspended_index=0, resume_at=resume_at)
    )
    assert waiting == Suspended(index=0, resume_at=resume_at)
    resumed = decide(state(job(0, JobPhase.SUCCEEDED), suspended=False, suspended_index=0))
    assert resumed == Start(index=0, run=1, attempt=2, reason="workflow resumed")


def test_pruning_keeps_the_newest_jobs_per_pipeline_and_never_a_running_one():
    jobs = [job(0, JobPhase.SUCCEEDED, run=run) for run in range(1, 8)]
    jobs.append(job(1, JobPhase.RUNNING, run=1))
    assert jobs_to_prune(jobs, keep=5) == ["job-1-0-1", "job-2-0-1"]


def test_delete_waits_for_configure_then_runs_once():
    base = {"pipeline": "teardown", "now": NOW}
    assert isinstance(decide_delete(DeleteState(delete_jobs=[], configure_running=True, **base)), Wait)
    first = decide_delete(DeleteState(delete_jobs=[], configure_running=False, **base))
    assert isinstance(first, Start) and first.run == 1
    done = JobRecord("d", "teardown", 0, 1, 1, "", JobPhase.SUCCEEDED, NOW)
    assert isinstance(
        decide_delete(DeleteState(delete_jobs=[done], configure_running=False, **base)), Completed
    )


def test_a_failed_delete_pipeline_blocks_until_retried_or_rerun_by_hand():
    failed = JobRecord("d", "teardown", 0, 1, 1, "", JobPhase.FAILED, NOW - timedelta(seconds=1), "boom")
    blocked = decide_delete(DeleteState("teardown", [failed], False, NOW))
    assert isinstance(blocked, Failed) and blocked.message == "boom" and blocked.retry_at is not None
    manual = decide_delete(DeleteState("teardown", [failed], False, NOW, rerun_requested=True))
    assert isinstance(manual, Start) and manual.run == 2


def test_no_delete_pipeline_means_nothing_to_wait_for():
    assert isinstance(decide_delete(DeleteState(None, [], True, NOW)), Completed)
