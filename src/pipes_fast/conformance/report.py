"""The outcome of a checked run, as text for a terminal and as JSON-ready data."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Optional

from pipes_fast.conformance.violations import Violation


@dataclasses.dataclass(frozen=True)
class CaseReport:
    """One case's run: how many message lines it wrote, what it broke (``violations`` fail the
    case, ``warnings`` do not), how the process exited (None if it was killed at the timeout) and
    the last lines it wrote to stderr."""

    case: str
    lines: int
    violations: tuple[Violation, ...]
    exit_status: Optional[int]
    stderr_tail: str
    warnings: tuple[Violation, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.violations


def format_report(reports: Sequence[CaseReport]) -> str:
    """A report per case naming each violation and warning with its offending line, then a
    summary line."""
    out: list[str] = []
    for report in reports:
        warned = f", {_count(report.warnings, 'warning')}" if report.warnings else ""
        if report.passed:
            out.append(f"PASS {report.case} ({report.lines} message lines{warned})")
        else:
            failed = _count(report.violations, "violation")
            out.append(f"FAIL {report.case} ({report.lines} message lines): {failed}{warned}")
        for found in report.violations + report.warnings:
            out.append(f"  {'warning: ' * found.warning}{found}")
            if found.text:
                out.append(f"      {found.text}")
        if report.stderr_tail and (report.violations or report.warnings):
            out.append("  stderr (last lines):")
            out.extend(f"      {line}" for line in report.stderr_tail.splitlines())
    passed = sum(report.passed for report in reports)
    out.append(f"{passed} of {len(reports)} cases passed")
    return "\n".join(out)


def _count(items: Sequence[object], noun: str) -> str:
    return f"{len(items)} {noun}{'s' * (len(items) != 1)}"


def reports_as_json(reports: Sequence[CaseReport]) -> list[dict[str, Any]]:
    """The reports as JSON-serialisable dicts (one per case, with a ``passed`` flag)."""
    return [
        {
            **dataclasses.asdict(report),
            "violations": [dataclasses.asdict(found) for found in report.violations],
            "warnings": [dataclasses.asdict(found) for found in report.warnings],
            "passed": report.passed,
        }
        for report in reports
    ]
