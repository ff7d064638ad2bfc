"""Timing helpers for the goals: interleaved rounds, best of each, ratio against a baseline."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass


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
