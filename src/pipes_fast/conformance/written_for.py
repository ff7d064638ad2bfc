"""A client written for one kind of step (one asset, a partition): the cases it fails only
because it reads what their context does not define, as dagster-pipes (and
``pipes_fast.external``) says when it raises: ``"`asset_key` is undefined. Current step targets
multiple assets."``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Optional

from pipes_fast.conformance.report import CaseReport

_CONTEXT_ERROR = re.compile(r"`\w+` is undefined\. Current step [^.\n]*\.")


def context_error(report: CaseReport) -> Optional[str]:
    """The error a client raised reading what the case's context does not define, as its stderr
    shows it; None if it shows none."""
    found = _CONTEXT_ERROR.findall(report.stderr_tail)
    return found[-1] if found else None


def cases_written_for(reports: Sequence[CaseReport]) -> Optional[list[str]]:
    """The cases passed when each case that failed raised a context error (the client is
    written for the steps of these); None when none passed or a case failed otherwise."""
    failed = [report for report in reports if not report.passed]
    if not failed or len(failed) == len(reports) or not all(context_error(report) for report in failed):
        return None
    return [report.case for report in reports if report.passed]
