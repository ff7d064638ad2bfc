"""Goal of issue 22: an external process's log lines inside Dagster, on a real on-disk instance.

    python bench/goal_dagster_logs.py [--sizes 100,1000,10000,100000] [--rounds 3]
        [--max-event-lines 10000] [--child pipes_fast.external|dagster_pipes]

Every run is a real ``dagster.materialize`` of one asset on a fresh ``dagster.instance_for_test()``
(sqlite storage in a temporary directory, Dagster's local compute log manager, Dagster's default
console logger), timed two ways: the whole ``materialize`` call (what the user waits for) and the
asset body alone. The sides, each for every size:

- ``pipes_fast.dagster``: ``pipes_fast.dagster.PipesSubprocessClient()`` running
  ``log_lines_child.py``, which logs the lines through ``context.log.info``: one Dagster event each.
- ``pipes_fast.dagster stderr``: the same with ``log_to_stderr_below="WARNING"``: the INFO lines
  go to the step's stderr, which Dagster captures (compute logs).
- ``dagster``: Dagster's own ``PipesSubprocessClient`` on the same child.
- ``context.log``: the asset calls ``context.log.info`` itself, no external process.
- ``none``: ``pipes_fast.dagster.PipesSubprocessClient()`` on the same child logging 0 lines
  (one figure, whatever the size).

Each run checks that every line reached Dagster: as an event in the run's event log, or as a line
of the captured stderr (read back through the instance's compute log manager). Sides that make
one event per line cost milliseconds a line (a sqlite transaction each): they run only up to
``--max-event-lines`` (default 10,000, about 30 s a run); beyond, their time is extrapolated from
the per-line slope between the two largest sizes measured, and marked so. Rounds interleave the
sides; each figure is the median with the range (min-max) of the rounds.

:func:`measure_stderr_logs` is the goal for ``goals.py``: 100,000 INFO lines with the opt-in
within 2x of the same child sending none, on the whole ``materialize`` call.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import dagster
from timing import Goal

import pipes_fast.dagster

CHILD_SCRIPT = str(Path(__file__).with_name("log_lines_child.py"))
CANDIDATE, STDERR, BASELINE, PLAIN, NONE = (
    "pipes_fast.dagster",
    "pipes_fast.dagster stderr",
    "dagster",
    "context.log",
    "none",
)
SIDES = (STDERR, CANDIDATE, BASELINE, PLAIN)
EVENT_SIDES = (CANDIDATE, BASELINE, PLAIN)
"""The sides that make one Dagster event per line."""
GOAL_LINES = 100_000
GOAL_RATIO = 2.0
"""The opt-in's ``materialize`` time with :data:`GOAL_LINES` lines, at most this many times the
same child's sending none."""


@dataclass
class Run:
    """One ``materialize`` call: its seconds, the asset body's, and how many lines reached Dagster."""

    seconds: float
    asset_seconds: float
    delivered: int


def line(i: int, count: int) -> str:
    """The text of line ``i`` of ``count`` (as ``log_lines_child.py`` writes it)."""
    return f"line {i} of {count}"


def chatty_asset(side: str, count: int, child: str, timing: dict[str, float]) -> dagster.AssetsDefinition:
    """The asset of one run: ``side`` sends ``count`` lines; the body's seconds go in ``timing``."""

    @dagster.asset(name="chatty")
    def chatty(context) -> Any:  # type: ignore[no-untyped-def]  # Dagster reads the annotation: none
        start = time.perf_counter()
        if side == PLAIN:
            for i in range(count):
                context.log.info(line(i, count))
            results: Any = None
        else:
            if side == BASELINE:
                client: Any = dagster.PipesSubprocessClient()
            else:
                client = pipes_fast.dagster.PipesSubprocessClient(
                    log_to_stderr_below="WARNING" if side == STDERR else None
                )
            command = [sys.executable, CHILD_SCRIPT, child, str(0 if side == NONE else count)]
            results = client.run(context=context, command=command).get_results()
        timing["asset"] = time.perf_counter() - start
        return results

    return chatty


def recorded_lines(instance: dagster.DagsterInstance, run_id: str, count: int) -> set[str]:
    """The lines ``line(i, count)`` Dagster recorded for the run: as events or captured stderr."""
    wanted = f" of {count}"
    found = {record.user_message for record in instance.all_logs(run_id) if record.user_message.endswith(wanted)}
    manager = instance.compute_log_manager
    for record in instance.all_logs(run_id, of_type=dagster.DagsterEventType.LOGS_CAPTURED):
        file_key = record.dagster_event.logs_captured_data.file_key  # type: ignore[union-attr]
        data = manager.get_log_data(manager.build_log_key_for_run(run_id, file_key))
        for text in (data.stderr or b"").decode().splitlines():
            if text.endswith(wanted) and " - pipes - INFO - " in text:
                found.add(text.rsplit(" - ", 1)[1])
    return found


@contextmanager
def quiet_stderr() -> Iterator[None]:
    """This process's stderr (fd 2) to /dev/null for the block: Dagster's console logger and its
    mirror of the captured stderr print every line there."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def run_once(side: str, count: int, child: str = "pipes_fast.external") -> Run:
    """One ``materialize`` of ``side`` with ``count`` lines, on a fresh sqlite instance; checked."""
    timing: dict[str, float] = {}
    asset = chatty_asset(side, count, child, timing)
    with dagster.instance_for_test() as instance:
        with quiet_stderr():
            start = time.perf_counter()
            result = dagster.materialize([asset], instance=instance)
            seconds = time.perf_counter() - start
        if not result.success:
            raise RuntimeError(f"{side} with {count:,} lines: the run failed")
        delivered = len(recorded_lines(instance, result.run_id, count))
    expected = 0 if side == NONE else count
    if delivered != expected:
        raise RuntimeError(f"{side} with {count:,} lines: Dagster recorded {delivered:,} of them")
    return Run(seconds, timing["asset"], delivered)


def spread(values: Sequence[float]) -> str:
    """Median (min-max), in seconds."""
    return f"{statistics.median(values):.3f} s ({min(values):.3f}-{max(values):.3f})"


def measure_stderr_logs(rounds: int) -> Goal:
    """The opt-in with :data:`GOAL_LINES` lines against the same child sending none, on the whole
    ``materialize`` call, best round of each (interleaved)."""
    none, opt_in = [], []
    for _ in range(max(1, min(rounds, 5))):
        none.append(run_once(NONE, GOAL_LINES).seconds)
        opt_in.append(run_once(STDERR, GOAL_LINES).seconds)
    goal = Goal(
        f"{GOAL_LINES:,} INFO lines inside Dagster with log_to_stderr_below",
        "child sending none",
        STDERR,
        1 / GOAL_RATIO,
    )
    goal.baseline_seconds, goal.candidate_seconds = min(none), min(opt_in)
    return goal


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000,100000", help="lines per run (comma-separated)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each side and size (default 3)")
    parser.add_argument("--max-event-lines", type=int, default=10_000, help="largest size for event sides")
    parser.add_argument("--child", default="pipes_fast.external", choices=("pipes_fast.external", "dagster_pipes"))
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    runs: dict[tuple[str, int], list[Run]] = {}
    for number in range(args.rounds):
        print(f"round {number + 1} of {args.rounds}", flush=True)
        runs.setdefault((NONE, 0), []).append(run_once(NONE, 0, args.child))
        for count in sizes:
            for side in SIDES:
                if side in EVENT_SIDES and count > args.max_event_lines:
                    continue
                runs.setdefault((side, count), []).append(run_once(side, count, args.child))
    report(runs, sizes, args.child)
    return 0


def report(runs: dict[tuple[str, int], list[Run]], sizes: Sequence[int], child: str) -> None:
    """Median (min-max) of each side and size; event sides past the largest size measured are
    extrapolated from the slope between their two largest sizes."""
    none = runs[(NONE, 0)]
    print(f"\nchild: {child}; each figure: median (min-max) of {len(none)} runs, materialize / asset body")
    print(f"{NONE}: {spread([r.seconds for r in none])} / {spread([r.asset_seconds for r in none])}")
    for side in SIDES:
        for count in sizes:
            measured = runs.get((side, count))
            if measured:
                total = spread([r.seconds for r in measured])
                body = spread([r.asset_seconds for r in measured])
                print(f"{side}, {count:,} lines: {total} / {body}")
            else:
                print(f"{side}, {count:,} lines: {extrapolated(runs, side, count)}")


def extrapolated(runs: dict[tuple[str, int], list[Run]], side: str, count: int) -> str:
    """The side's ``materialize`` time at ``count`` lines from its per-line slope between its two
    largest sizes measured (medians), marked as extrapolated."""
    measured = sorted(size for kind, size in runs if kind == side)
    if len(measured) < 2:
        return "not measured"
    small, large = measured[-2:]
    at = {size: statistics.median(r.seconds for r in runs[(side, size)]) for size in (small, large)}
    per_line = (at[large] - at[small]) / (large - small)
    estimate = at[large] + per_line * (count - large)
    return f"about {estimate:.0f} s, extrapolated ({per_line * 1e3:.2f} ms a line from {small:,} to {large:,} lines)"


if __name__ == "__main__":
    sys.exit(main())
