"""operator.status: the Works summary names the Works that fail (issue 11, item 6)."""

from __future__ import annotations

from typing import Any

from kratix_py import contract as c
from kratix_py.core import conditions as cond
from kratix_py.operator.status import reconciled, works_summary


def work(name: str, message: str) -> dict[str, Any]:
    ready = {"type": c.CONDITION_READY, "status": "False", "reason": message, "message": message}
    return {"metadata": {"name": name}, "status": {"conditions": [ready]}}


def test_the_failing_work_is_named_whatever_order_the_works_come_in() -> None:
    # Listed in an order other than by name: "z-work" fails, "a-work" is fine.
    works = [work("z-work", "Failing"), work("m-work", "Ready"), work("a-work", "Ready")]
    summary = works_summary(works)
    assert summary.status == cond.FALSE and summary.message == "Works failing: z-work"
    both = works_summary([work("z-work", "Failing"), work("b-work", "Ready"), work("a-work", "Failing")])
    assert both.message == "Works failing: a-work, z-work"


def test_a_suspended_workflow_is_neither_written_nor_reconciled() -> None:
    summary = works_summary([work("a-work", "Ready")], workflow_completed=False, workflow_suspended=True)
    assert summary.status == cond.UNKNOWN and summary.message != "All Works have been written"
    result = reconciled(False, False, summary, suspended_message="pipeline p suspended the workflow")
    assert (result.status, result.reason) == (cond.UNKNOWN, "WorkflowSuspended")


def test_while_the_workflow_runs_pending_works_are_no_news_but_a_failing_one_is() -> None:
    running = works_summary([work("a-work", "Pending")], workflow_completed=False)
    assert (running.status, running.message) == (cond.UNKNOWN, "The workflow has not finished")
    assert works_summary([], workflow_completed=False) == running  # the same words: no status write
    early = works_summary([work("a-work", "Pending"), work("b-work", "Failing")], workflow_completed=False)
    assert (early.status, early.message) == (cond.FALSE, "Works failing: b-work")
    done = works_summary([work("a-work", "Pending")], workflow_completed=True)
    assert done.message == "Some Works are not written yet"
