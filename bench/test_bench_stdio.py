"""pytest-benchmark suite for the stdio transport: messages picked out of ordinary output.

    pytest bench/test_bench_stdio.py --benchmark-group-by=group

The sides of ``goal_stdio``: the floor, ``PipesStdioMessageReader.feed`` in a session, and
Dagster's line-by-line extraction. Enabled, the count is a tenth of the goals'; under
``--benchmark-disable`` (CI) a few hundred messages check that each side delivers them.
"""

from __future__ import annotations

from typing import Any

import pytest
from goal_stdio import COUNT, stdio_reader
from timing import BENCH_ROUNDS, bench_count

from pipes_fast.benchmarks.throughput import dagster_stdio, demux_floor, interleaved_pieces


@pytest.mark.filterwarnings("ignore::dagster.PreviewWarning")
@pytest.mark.parametrize("side", ["floor", "pipes_fast", "dagster"])
def test_stdio(benchmark: Any, side: str) -> None:
    count = bench_count(benchmark, COUNT)
    benchmark.group = f"stdio transport, {count:,} custom messages among output"
    pieces = interleaved_pieces(count)
    sides = {
        "floor": lambda: demux_floor(pieces),
        "pipes_fast": stdio_reader(pieces, count),
        "dagster": dagster_stdio(pieces, count),
    }
    benchmark.pedantic(sides[side], rounds=BENCH_ROUNDS, iterations=1)
