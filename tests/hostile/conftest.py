"""The bad-input suite's tally: how many hostile inputs were tried, and what became of them.

Each case records its expected outcome in ``user_properties`` (``hostile_case``,
``hostile_expected``); the terminal summary counts them, so a run ends with a line such as
``hostile input: 44 cases - 35 refused with a named reason, 9 accepted``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

_OUTCOMES: dict[str, tuple[str, str]] = {}
"""case -> (expected outcome, what happened: passed / failed / xfailed / xpassed / skipped)."""


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    properties = dict(report.user_properties)
    case = properties.get("hostile_case")
    if case is None:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        if hasattr(report, "wasxfail"):
            result = "xfailed" if report.outcome == "skipped" else "xpassed"
        else:
            result = report.outcome
        _OUTCOMES[str(case)] = (str(properties.get("hostile_expected", "")), result)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _OUTCOMES:
        return
    held = Counter(expected for expected, result in _OUTCOMES.values() if result == "passed")
    results = Counter(result for _, result in _OUTCOMES.values())
    parts = [f"{held[outcome]} {outcome}" for outcome in sorted(held)]
    if results["xfailed"]:
        parts.append(f"{results['xfailed']} expected failures")
    for bad in ("failed", "xpassed", "skipped"):
        if results[bad]:
            parts.append(f"{results[bad]} {bad}")
    terminalreporter.write_sep("-", "bad-input suite")
    terminalreporter.write_line(f"hostile input: {len(_OUTCOMES)} cases - " + ", ".join(parts))
