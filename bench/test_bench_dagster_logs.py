"""Smoke and benchmark suite of the chatty-logs goal (issue 22): an external process's log lines
inside a real ``dagster.materialize`` on a sqlite instance, as ``goal_dagster_logs`` runs them.

    pytest bench/test_bench_dagster_logs.py --benchmark-group-by=group

Each run checks that Dagster recorded every line (as events, or in the captured stderr with
``log_to_stderr_below``): under ``--benchmark-disable`` (CI) that is what is tested, with a few
thousand lines for the opt-in, a hundred for the default (one event per line), none for the child
sending none. The figures and the goal come from ``python bench/goal_dagster_logs.py`` and
``python bench/goals.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from goal_dagster_logs import CANDIDATE, NONE, STDERR, run_once
from timing import BENCH_ROUNDS

pytestmark = [
    pytest.mark.filterwarnings("ignore::dagster.PreviewWarning"),
    pytest.mark.filterwarnings("ignore:AssetExecutionContext.run_id is deprecated:DeprecationWarning"),
]


@pytest.mark.parametrize("side", [NONE, STDERR, CANDIDATE])
def test_dagster_logs(benchmark: Any, side: str) -> None:
    count = 3_000 if side == STDERR else 100
    benchmark.group = f"inside dagster.materialize (sqlite instance), {count:,} log lines"
    run = benchmark.pedantic(run_once, args=(side, count), rounds=BENCH_ROUNDS, iterations=1)
    assert run.delivered == (0 if side == NONE else count)
