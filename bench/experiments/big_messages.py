"""Peak memory of one big message inside a real ``dagster.materialize``: pipes_fast.dagster's
``PipesSubprocessClient`` against Dagster's own, on both implementations.

    python bench/experiments/big_messages.py [--runs N] [--log-mb 64] [--custom-mb 100]

Each run is a fresh orchestrator process (see ``pipes_fast.benchmarks.big_messages``); the two
clients alternate. Prints, for a log line and a custom payload, each side's peak growth over the
orchestrator's resident set before the message (median and range of the runs) and the ratio of
the medians, pipes_fast's over Dagster's (at most 1 is the goal). Exit code 1 if a ratio is over 1.
"""

from __future__ import annotations

import argparse

from pipes_fast.benchmarks.big_messages import Comparison, compare, environment

IMPLEMENTATIONS = {"compiled": False, "pure": True}
"""pipes_fast's implementation in the orchestrator: name, and whether it is the pure implementation."""


def comparisons(log_mb: int, custom_mb: int, runs: int) -> list[tuple[str, Comparison]]:
    """Each message measured with each implementation of pipes_fast (Dagster's side each time too)."""
    return [
        (name, compare(kind, mb << 20, runs, environment(pure)))
        for kind, mb in (("log", log_mb), ("custom", custom_mb))
        for name, pure in IMPLEMENTATIONS.items()
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per side and message (default 5)")
    parser.add_argument("--log-mb", type=int, default=64, help="size of the log line (default 64 MB)")
    parser.add_argument("--custom-mb", type=int, default=100, help="size of the custom payload (default 100 MB)")
    args = parser.parse_args()
    results = comparisons(args.log_mb, args.custom_mb, args.runs)
    for name, comparison in results:
        print(f"{name}: {comparison}", flush=True)
    return 0 if all(comparison.ratio <= 1 for _, comparison in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
