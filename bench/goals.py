"""Measures the performance goals of the project as ratios against a baseline in the same run.

    python bench/goals.py [--rounds N] [--json]

Each goal is timed in interleaved rounds (baseline, candidate, baseline, ...) and compared on the
best round of each, which is what shared, noisy machines allow. Exit code 1 if a goal is missed.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import orjson  # noqa: E402

from streams import as_pieces, custom_message_lines  # noqa: E402


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


def hotpath_goal(rounds: int) -> Goal:
    from pipes_fast import _speedups

    lines = custom_message_lines(100_000)
    pieces = as_pieces(lines)

    def bare() -> None:
        loads = orjson.loads
        for line in lines:
            loads(line)

    def extension() -> None:
        framer = _speedups.LineFramer()
        decode = _speedups.decode_batch
        for piece in pieces:
            decode(framer.feed(piece))

    goal = Goal("frame+decode 100k messages", "bare orjson.loads loop over pre-split lines", "extension", 0.8)
    goal.baseline_seconds, goal.candidate_seconds = best_of(rounds, bare, extension)
    return goal


GOALS: list[Callable[[int], Goal]] = [hotpath_goal]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds per goal (default 9)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    results = []
    for measure in GOALS:
        goal = measure(args.rounds)
        results.append(goal)
        if not args.json:
            verdict = "met" if goal.met else "MISSED"
            print(
                f"{goal.name}: {goal.candidate} is {goal.ratio:.2f}x {goal.baseline} "
                f"(goal {goal.target}x, {verdict}; best {goal.candidate_seconds * 1e3:.1f} ms vs "
                f"{goal.baseline_seconds * 1e3:.1f} ms)",
                flush=True,
            )
    if args.json:
        print(json.dumps([{**asdict(g), "ratio": g.ratio, "met": g.met} for g in results], indent=2))
    return 0 if all(g.met for g in results) else 1


if __name__ == "__main__":
    sys.exit(main())
