"""pytest-benchmark suites for the clients inside Dagster: pipes_fast.dagster's against Dagster's own.

    pytest bench/test_bench_dagster.py --benchmark-group-by=group

Each client runs the same cheap child over a pre-written file, in a live asset body (see
``goal_dagster``). Enabled, the counts are a tenth of the goals'; under ``--benchmark-disable``
(CI) a few hundred messages check that every side delivers everything, and that pipes_fast.dagster
hands back Dagster's own result types. pytest-benchmark times the whole call.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dagster
import pytest
from dagster_baseline import DAGSTER_WARNINGS
from goal_dagster import BASELINE, CANDIDATE, CLIENT_CUSTOM_MESSAGES, CLIENT_MATERIALIZATIONS, clients, run_checked
from goal_orchestration import Workload
from timing import BENCH_ROUNDS, bench_count

pytestmark = DAGSTER_WARNINGS


@pytest.fixture(scope="module")
def by_side() -> Iterator[dict[str, tuple[Any, Any]]]:
    with clients() as sides:
        yield sides


@pytest.mark.parametrize(
    "workload", [CLIENT_CUSTOM_MESSAGES, CLIENT_MATERIALIZATIONS], ids=["custom", "materializations"]
)
@pytest.mark.parametrize("side", [BASELINE, CANDIDATE])
def test_client_run(benchmark: Any, by_side: dict[str, tuple[Any, Any]], side: str, workload: Workload) -> None:
    count = bench_count(benchmark, workload.count)
    benchmark.group = f"PipesSubprocessClient, {count:,} {workload.name}"
    client, context = by_side[side]
    replay = benchmark.pedantic(
        run_checked, args=(workload, count, side, client, context), rounds=BENCH_ROUNDS, iterations=1
    )
    assert all(isinstance(r, (dagster.MaterializeResult, dagster.AssetCheckResult)) for r in replay.results)
