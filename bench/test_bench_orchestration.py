"""pytest-benchmark suites for the orchestration side: pipes_fast's session against Dagster's own.

    pytest bench/test_bench_orchestration.py --benchmark-group-by=group

Both sides replay the same pre-written file (see ``goal_orchestration``). Enabled, the counts are a
tenth of the goals' (Dagster needs about a second a round for them); under ``--benchmark-disable``
(CI) a few hundred messages check that both sides still deliver everything. pytest-benchmark times
the whole replay call; ``bench/goals.py`` times the session alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from dagster_baseline import DAGSTER_WARNINGS
from goal_orchestration import CUSTOM_MESSAGES, MATERIALIZATIONS, Workload, replay_checked, sides, workdir
from timing import BENCH_ROUNDS, bench_count

pytestmark = DAGSTER_WARNINGS


@pytest.fixture(scope="module")
def by_side() -> Iterator[dict[str, tuple[ModuleType, Any]]]:
    with sides() as contexts:
        yield contexts


@pytest.mark.parametrize("workload", [CUSTOM_MESSAGES, MATERIALIZATIONS], ids=["custom", "materializations"])
@pytest.mark.parametrize("side", ["dagster", "pipes_fast"])
def test_session_over_prewritten_file(
    benchmark: Any, by_side: dict[str, tuple[ModuleType, Any]], side: str, workload: Workload
) -> None:
    count = bench_count(benchmark, workload.count)
    benchmark.group = f"session over {count:,} {workload.name}"
    api, context = by_side[side]
    benchmark.pedantic(
        replay_checked,
        args=(workload, count, api, context, workdir() / f"{side}.jsonl"),
        rounds=BENCH_ROUNDS,
        iterations=1,
    )
