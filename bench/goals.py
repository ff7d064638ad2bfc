"""Measures the performance goals (``bench/goal_*.py``) of the project as ratios against a baseline in the same run.

    python bench/goals.py [--rounds N] [--json]

Each goal is timed in interleaved rounds (baseline, candidate, baseline, ...) and compared on the
best round of each, which is what shared, noisy machines allow. Each goal's measurement is named on
stderr as it starts (some take 30-40 s). Exit code 1 if a goal is missed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from timing import Goal  # noqa: E402


def discover() -> list[Callable[[int], Goal]]:
    """Every ``measure_*`` function defined in the ``goal_*.py`` modules beside this file (not
    the ones they import)."""
    measures = []
    for path in sorted(Path(__file__).parent.glob("goal_*.py")):
        module = importlib.import_module(path.stem)
        found = [getattr(module, n) for n in sorted(dir(module)) if n.startswith("measure_")]
        measures += [measure for measure in found if measure.__module__ == module.__name__]
    return measures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds per goal (default 9)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    results = []
    measures = discover()
    for number, measure in enumerate(measures, 1):
        print(f"[{number}/{len(measures)}] {measure.__module__}.{measure.__name__}", file=sys.stderr, flush=True)
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
