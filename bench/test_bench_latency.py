"""Smoke and benchmark suite of the live-delivery goals (issue 10): each side (Dagster's file
reader, pipes_fast's polling, pipes_fast's woken by inotify) reads a child's messages written at
random gaps, as ``goal_latency`` runs them.

    pytest bench/test_bench_latency.py --benchmark-group-by=group

Under ``--benchmark-disable`` (CI) each side runs once with a few messages, each checked to arrive,
in order; the latencies and the idle reader's CPU are measured by ``python bench/goals.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dagster_baseline import DAGSTER_WARNINGS, dagster_asset_context
from streams import ASSET_KEYS
from timing import BENCH_ROUNDS

from pipes_fast.benchmarks.latency import DAGSTER, INOTIFY, POLL, Side, sides

pytestmark = DAGSTER_WARNINGS

SMOKE_MESSAGES = 20
"""Messages per run here (the goals' runs have ``pipes_fast.benchmarks.latency.MESSAGES``)."""


@pytest.fixture(scope="module")
def by_name() -> Iterator[dict[str, Side]]:
    with dagster_asset_context(ASSET_KEYS) as context:
        yield {side.name: side for side in sides(context)}


@pytest.mark.benchmark(group=f"live delivery: {SMOKE_MESSAGES} messages at random gaps, each to the handler")
@pytest.mark.parametrize("name", [DAGSTER, POLL, INOTIFY])
def test_live_delivery(benchmark: Any, by_name: dict[str, Side], tmp_path: Path, name: str) -> None:
    run = benchmark.pedantic(
        by_name[name].run, args=(tmp_path, 0), kwargs={"count": SMOKE_MESSAGES}, rounds=BENCH_ROUNDS, iterations=1
    )
    assert len(run.latencies) == SMOKE_MESSAGES  # every message arrived, in order (checked by run)
