"""Goal of issue 22: the unbuffered file writer at its floor, through the whole external API.

A dagster-pipes-style loop, ``context.report_custom_message(row)`` for row after row in a process
whose messages go to a file (the bootstrap's ``{"path": ...}``), is timed against a bare
``os.write`` loop of the very lines it wrote (read back) to the same kind of file, and beside
dagster-pipes' own context running the same loop, in interleaved rounds of one run:

- small rows, ``{"i": i, "name": "row", "value": i * 1.5}`` (about 120 bytes a line);
- 1 KB rows, the same with a 900-character ``"text"`` (about 1,040 bytes a line).

Goal: pipes_fast within 1.5x the floor on both (ratio: the floor's best round over pipes_fast's,
target 1/1.5). pipes_fast's context is timed once its channel has switched to the hot path's
appender (``writers.ORJSON_AFTER`` messages in), as in any long loop; the files are emptied after
every round; the garbage collector runs as in a script.

Most of the distance to the floor is the caller's: a bare loop that builds each small row's dict
and writes its already-encoded line took 1.30x the floor when this goal was set (1.21 against
0.93 us; interleaved with the writes, building the dicts costs some 150 ns more than alone).

    python bench/goal_writer_floor.py [--rounds N] [--rows N]

prints each side's microseconds per message (best and worst round) and the ratios.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dagster_pipes
from goal_external import open_context
from timing import Goal

import pipes_fast.external
from pipes_fast import _hotpath
from pipes_fast.external import writers

ROWS = 100_000
TEXT = ("lorem ipsum dolor sit amet, consectetur adipiscing elit " * 20)[:900]
SIDES = ("floor", "pipes_fast", "dagster_pipes")
"""In the order each round runs them."""


def small_rows(context: Any, count: int) -> None:
    for i in range(count):
        context.report_custom_message({"i": i, "name": "row", "value": i * 1.5})


def kilobyte_rows(context: Any, count: int) -> None:
    for i in range(count):
        context.report_custom_message({"i": i, "name": "row", "value": i * 1.5, "text": TEXT})


SHAPES: dict[str, Callable[[Any, int], None]] = {"small": small_rows, "1 KB": kilobyte_rows}


@dataclass
class Rounds:
    """Seconds per message of every round, by side, for ``rows`` messages of one shape."""

    shape: str
    rows: int
    line_bytes: float = 0.0
    seconds: dict[str, list[float]] = field(default_factory=lambda: {side: [] for side in SIDES})
    lines_written: dict[str, list[int]] = field(default_factory=lambda: {side: [] for side in SIDES})

    def best(self, side: str) -> float:
        return min(self.seconds[side])

    def ratio_to_floor(self, side: str) -> float:
        """``side``'s best round over the floor's."""
        return self.best(side) / self.best("floor")

    def summary(self) -> str:
        spread = ", ".join(f"{side} {min(s) * 1e6:.2f}-{max(s) * 1e6:.2f} us" for side, s in self.seconds.items() if s)
        return (
            f"{self.rows:,} {self.shape} rows ({self.line_bytes:.0f} bytes a line): {spread} per message; best"
            f" rounds: pipes_fast {self.ratio_to_floor('pipes_fast'):.2f}x the floor, dagster_pipes"
            f" {self.ratio_to_floor('dagster_pipes'):.2f}x (pipes_fast"
            f" {self.best('dagster_pipes') / self.best('pipes_fast'):.1f}x as fast as dagster_pipes)"
        )


def timed_rounds(shape: str, rows: int, rounds: int) -> Rounds:
    """Time the three sides on ``rows`` messages of ``shape``, in ``rounds`` interleaved rounds."""
    loop = SHAPES[shape]
    found = Rounds(shape, rows)
    with tempfile.TemporaryDirectory() as folder:
        paths = {side: os.path.join(folder, f"{side}.jsonl") for side in SIDES}
        ours = open_context(pipes_fast.external, paths["pipes_fast"])
        theirs = open_context(dagster_pipes, paths["dagster_pipes"])
        try:
            loop(ours, writers.ORJSON_AFTER)  # past the switch to the hot path's appender
            lines = _lines_of(paths["pipes_fast"], lambda: loop(ours, rows))
            found.line_bytes = sum(map(len, lines)) / len(lines)
            os.truncate(paths["dagster_pipes"], 0)  # (its opened message)
            floor_fd = os.open(paths["floor"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            runs: dict[str, Callable[[], None]] = {
                "floor": lambda: _bare_writes(floor_fd, lines),
                "pipes_fast": lambda: loop(ours, rows),
                "dagster_pipes": lambda: loop(theirs, rows),
            }
            try:
                for _ in range(rounds):
                    for side in SIDES:
                        start = time.perf_counter()
                        runs[side]()
                        found.seconds[side].append((time.perf_counter() - start) / rows)
                        found.lines_written[side].append(_count_lines_and_empty(paths[side]))
            finally:
                os.close(floor_fd)
        finally:
            ours.close()
            theirs.close()
    return found


def _bare_writes(fd: int, lines: list[bytes]) -> None:
    write = os.write
    for line in lines:
        write(fd, line)


def _lines_of(path: str, run: Callable[[], None]) -> list[bytes]:
    """The lines ``run`` appended to the file at ``path``, which is emptied after."""
    start = os.path.getsize(path)
    run()
    with open(path, "rb") as written:
        written.seek(start)
        lines = written.read().splitlines(keepends=True)
    os.truncate(path, 0)
    return lines


def _count_lines_and_empty(path: str) -> int:
    """How many lines the file holds; then empty it (its writers append: they go on at its new end)."""
    with open(path, "rb") as written:
        count = sum(chunk.count(b"\n") for chunk in iter(lambda: written.read(1 << 20), b""))
    os.truncate(path, 0)
    return count


def _floor_goal(shape: str, rounds: int) -> Goal:
    found = timed_rounds(shape, ROWS, rounds)
    print(found.summary(), file=sys.stderr)
    goal = Goal(
        f"report_custom_message loop vs the write floor, {ROWS // 1000}k {shape} rows",
        "a bare os.write loop of the same lines",
        "pipes_fast.external PipesContext.report_custom_message",
        1 / 1.5,
    )
    goal.baseline_seconds, goal.candidate_seconds = found.best("floor") * ROWS, found.best("pipes_fast") * ROWS
    return goal


def measure_small_rows_floor(rounds: int) -> Goal:
    return _floor_goal("small", rounds)


def measure_kilobyte_rows_floor(rounds: int) -> Goal:
    return _floor_goal("1 KB", rounds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--rows", type=int, default=ROWS, help=f"messages a round (default {ROWS:,})")
    args = parser.parse_args()
    print(f"hot path: {_hotpath.IMPLEMENTATION}")
    for name in SHAPES:
        print(timed_rounds(name, args.rows, args.rounds).summary(), flush=True)
