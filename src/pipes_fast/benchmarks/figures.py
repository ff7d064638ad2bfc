"""What a benchmark run reports: figures, each the best of its rounds with their spread."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Figure:
    """One side of one measurement: its best round and its worst (``unit`` per message or per run)."""

    section: str
    """What is measured, e.g. ``"reader throughput, 200,000 custom messages"``."""
    side: str
    """Whose figure, e.g. ``"pipes_fast (compiled)"``, ``"dagster"``, ``"floor: bare os.write"``."""
    best: float
    worst: float
    unit: str
    """``"msg/s"`` (higher is better), ``"ms"`` or ``"% of a core"`` (lower is better)."""

    @property
    def higher_is_better(self) -> bool:
        return self.unit.endswith("/s")


@dataclass
class Report:
    """Every figure of a run, and what it ran on."""

    machine: dict[str, str]
    figures: list[Figure] = field(default_factory=list)
    seconds: float = 0.0
    """How long the run took."""

    def sections(self) -> dict[str, list[Figure]]:
        """The figures by section, in the order they were measured."""
        grouped: dict[str, list[Figure]] = {}
        for figure in self.figures:
            grouped.setdefault(figure.section, []).append(figure)
        return grouped


def rounds_of(sides: dict[str, Callable[[], object]], rounds: int, *, collect: bool = True) -> dict[str, list[float]]:
    """Seconds of each side's call in each of ``rounds`` interleaved rounds; with ``collect``, a
    full collection before each call (not timed: what a long call leaves is not the next one's)."""
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, run in sides.items():
            if collect:
                gc.collect()
            start = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - start)
    return seconds


def rates(section: str, seconds: dict[str, list[float]], count: int) -> list[Figure]:
    """``count`` messages per call: messages per second, best and worst round."""
    return [Figure(section, side, count / min(times), count / max(times), "msg/s") for side, times in seconds.items()]


def durations(section: str, seconds: dict[str, list[float]]) -> list[Figure]:
    """Milliseconds, best and worst round."""
    return [Figure(section, side, min(times) * 1e3, max(times) * 1e3, "ms") for side, times in seconds.items()]
