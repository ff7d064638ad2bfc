"""Goals of issue 10, live delivery: a message the external process writes reaches the
orchestrator's handler within 1 ms (p99) and 0.3 ms (p50), a tenth of Dagster's file reader's
p99, and an idle reader costs next to no CPU (0.1% of a core at most, in the best round).

The measurement is ``pipes_fast.benchmarks.latency`` (shared with ``pipes-fast bench``; its
docstring says how it stamps deliveries and measures idle CPU), here over
``pipes_fast.benchmarks.latency.ROUNDS`` interleaved rounds of Dagster's reader in a live asset
body, pipes_fast polling and pipes_fast woken by inotify. It is made once and shared by the goals
(``measure_*``), so ``bench/goals.py`` runs it once (about 40 s).
"""

from __future__ import annotations

import functools
import sys

from dagster_baseline import dagster_asset_context
from streams import ASSET_KEYS
from timing import Goal

from pipes_fast.benchmarks.latency import DAGSTER, GAPS, IDLE_SECONDS, INOTIFY, MESSAGES, ROUNDS, Measured
from pipes_fast.benchmarks.latency import measure as measure_sides


@functools.lru_cache(maxsize=None)
def measure(rounds: int) -> dict[str, Measured]:
    """Every side over ``min(rounds, ROUNDS)`` interleaved rounds; the details to stderr."""
    rounds = min(rounds, ROUNDS)
    with dagster_asset_context(ASSET_KEYS) as context:
        measured = measure_sides(rounds, dagster_context=context)
    print(
        f"  live delivery, {MESSAGES} messages per run at gaps of {GAPS[0] * 1e3:g}-{GAPS[1] * 1e3:g} ms,"
        f" {rounds} rounds (pooled; each round's range in brackets); idle CPU over {IDLE_SECONDS:g} s:",
        file=sys.stderr,
        flush=True,
    )
    for name, runs in measured.items():
        print(f"    {name}: {runs.report()}", file=sys.stderr, flush=True)
    return measured


def measure_latency_p99(rounds: int) -> Goal:
    """pipes_fast's p99 (inotify) within 1 ms."""
    return Goal(
        "live delivery p99, write to handler (inotify)",
        "1 ms",
        INOTIFY,
        1.0,
        baseline_seconds=0.001,
        candidate_seconds=measure(rounds)[INOTIFY].pooled[99],
    )


def measure_latency_p50(rounds: int) -> Goal:
    """pipes_fast's p50 (inotify) within 0.3 ms."""
    return Goal(
        "live delivery p50, write to handler (inotify)",
        "0.3 ms",
        INOTIFY,
        1.0,
        baseline_seconds=0.0003,
        candidate_seconds=measure(rounds)[INOTIFY].pooled[50],
    )


def measure_latency_vs_dagster(rounds: int) -> Goal:
    """pipes_fast's p99 (inotify) a tenth of Dagster's file reader's at most."""
    measured = measure(rounds)
    return Goal(
        "live delivery p99 against Dagster's file reader",
        "dagster.PipesFileMessageReader",
        INOTIFY,
        10.0,
        baseline_seconds=measured[DAGSTER].pooled[99],
        candidate_seconds=measured[INOTIFY].pooled[99],
    )


def measure_idle_cpu(rounds: int) -> Goal:
    """An idle pipes_fast reader thread (inotify) uses 0.1% of a core at most."""
    return Goal(
        "idle reader thread, CPU seconds per second (inotify)",
        "0.1% of a core",
        INOTIFY,
        1.0,
        baseline_seconds=0.001,
        candidate_seconds=min(measure(rounds)[INOTIFY].idle_cpus),
    )
