"""Timing helpers for the goals: interleaved rounds, best of each, ratio against a baseline."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Goal:
    name: str
    baseline: str
    candidate: str
    target: float
    baseline_seconds: float = 0.0
    candidate_seconds: float = 0.0

    @property
    def ratio(self) -> float:
        return self.baseline_seconds / self.candidate_seconds

    @property
    def met(self) -> bool:
        return self.ratio >= self.target


def best_of(rounds: int, baseline: Callable[[], object], candidate: Callable[[], object]) -> tuple[float, float]:
    best = [float("inf"), float("inf")]
    for _ in range(rounds):
        for i, fn in enumerate((baseline, candidate)):
            gc.collect()
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best[0], best[1]


SMOKE_COUNT = 300
"""Messages per run of a pytest-benchmark suite under ``--benchmark-disable`` (CI's smoke run)."""
SCALE_DOWN = 10
"""Enabled, a pytest-benchmark suite runs each goal's workload with ``count // SCALE_DOWN`` messages."""
BENCH_ROUNDS = 3
"""Rounds per pytest-benchmark test."""


def bench_count(benchmark: Any, count: int) -> int:
    """How many messages a pytest-benchmark test runs for a goal of ``count``."""
    return SMOKE_COUNT if benchmark.disabled else count // SCALE_DOWN
