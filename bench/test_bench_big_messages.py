"""pytest-benchmark suite for the peak memory of one big message inside ``dagster.materialize``
(see ``big_messages.py``): pipes_fast.dagster's client against Dagster's own.

Enabled, each implementation of pipes_fast takes the full sizes (a 64 MB log line, a 100 MB
custom payload), three runs a side, and the figures go into the benchmark's ``extra_info``; under
``--benchmark-disable`` (CI) one run a side of a 2 MB message checks that each side delivers it,
with the implementation in use. pytest-benchmark times the whole comparison.
"""

from __future__ import annotations

from typing import Any

import pytest
from dagster_baseline import DAGSTER_WARNINGS

from pipes_fast import EXTENSION
from pipes_fast.benchmarks.big_messages import compare, environment

pytestmark = DAGSTER_WARNINGS

SMOKE_MB = 2
RUNS = 3


@pytest.mark.parametrize("kind, full_mb", [("log", 64), ("custom", 100)], ids=["log", "custom"])
@pytest.mark.parametrize("pure", [False, True], ids=["compiled", "pure"])
def test_big_message_peak(benchmark: Any, kind: str, full_mb: int, pure: bool) -> None:
    if benchmark.disabled and pure == EXTENSION:
        pytest.skip("the smoke run measures the implementation in use only")
    mb, runs = (SMOKE_MB, 1) if benchmark.disabled else (full_mb, RUNS)
    benchmark.group = f"peak memory of one {kind} message of {mb} MB in dagster.materialize"
    comparison = benchmark.pedantic(compare, args=(kind, mb << 20, runs, environment(pure)), rounds=1, iterations=1)
    benchmark.extra_info.update(
        dagster_bytes=comparison.dagster, pipes_fast_bytes=comparison.pipes_fast, ratio=comparison.ratio
    )
    if not benchmark.disabled:
        print(comparison)
