"""Goal of issue 10: a Pipes child's start-up overhead over a bare interpreter is at most a quarter
of dagster_pipes'.

A child's start-up is its whole process: interpreter start, imports, decoding the bootstrap params,
reading the context file, opening the message file, one report (a materialization with a metadata
entry), closing and exiting. The same script (``startup_child.py``) runs with ``dagster_pipes``
and with ``pipes_fast.external`` as ``python startup_child.py PACKAGE`` (what users run: no
interpreter flags), beside a bare interpreter (``python -c pass``). All three get the same
environment: this one's, with the bootstrap params of pipes_fast's file context injector and a
message file, and bytecode caching on (``PYTHONDONTWRITEBYTECODE`` removed, as an installed
package runs; a warm-up writes the caches).

Runs are interleaved (bare, dagster_pipes, pipes_fast, bare, ...), :data:`RUNS` of each per round,
each timed from the fork to the reaped exit. A side's overhead is its median time minus the bare
interpreter's median, over all rounds; the goal's ratio is dagster_pipes' overhead over
pipes_fast's (target 4). Every child's message file is checked: ``opened``, the materialization,
``closed``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from timing import Goal

from pipes_fast import PipesFileContextInjector, StepContext, encode_param
from pipes_fast.context import build_context_data
from pipes_fast.protocol import DAGSTER_PIPES_CONTEXT_ENV_VAR, DAGSTER_PIPES_MESSAGES_ENV_VAR

RUNS = 20
"""Runs of each side per round."""
ASSET = "orders"
CHILD = str(Path(__file__).with_name("startup_child.py"))
REPORTED = [
    ("opened", {"extras": {}}),
    (
        "report_asset_materialization",
        {"asset_key": ASSET, "data_version": None, "metadata": {"rows": {"raw_value": 1, "type": "__infer__"}}},
    ),
    ("closed", {}),
]
"""What a child writes to its message file: (method, params) of each message."""


@dataclass(frozen=True)
class Side:
    """A command to time; ``package`` is the Pipes package its child uses (None: a bare interpreter)."""

    name: str
    command: Sequence[str]
    package: str | None = None

    def run(self, env: dict[str, str], messages: Path) -> float:
        """Seconds from starting the command to its exit; raises unless a child delivered its messages."""
        messages.unlink(missing_ok=True)
        start = time.perf_counter()
        subprocess.run(self.command, env=env, check=True)
        seconds = time.perf_counter() - start
        if self.package is not None:
            written = [json.loads(line) for line in messages.read_text().splitlines()]
            if [(m["method"], m["params"]) for m in written] != REPORTED:
                raise RuntimeError(f"{self.name}'s child wrote {written!r:.500}, not {REPORTED!r}")
        return seconds


BARE = Side("bare interpreter", [sys.executable, "-c", "pass"])
DAGSTER_PIPES = Side("dagster_pipes", [sys.executable, CHILD, "dagster_pipes"], "dagster_pipes")
PIPES_FAST = Side("pipes_fast", [sys.executable, CHILD, "pipes_fast.external"], "pipes_fast.external")
SIDES = (BARE, DAGSTER_PIPES, PIPES_FAST)


@contextmanager
def child_environment(folder: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """The environment of every side (see the module's docstring) and the message file it names,
    while the context file exists."""
    context = build_context_data(StepContext([ASSET]))
    messages = folder / "messages.jsonl"
    with PipesFileContextInjector(str(folder / "context.json")).inject_context(context) as context_params:
        params = {
            DAGSTER_PIPES_CONTEXT_ENV_VAR: context_params,
            DAGSTER_PIPES_MESSAGES_ENV_VAR: {"path": str(messages), "include_stdio_in_messages": False},
        }
        env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
        yield {**env, **{name: encode_param(value) for name, value in params.items()}}, messages


def overhead_ratio(seconds: dict[str, list[float]]) -> float:
    """dagster_pipes' median overhead over pipes_fast's."""
    bare = statistics.median(seconds[BARE.name])
    return (statistics.median(seconds[DAGSTER_PIPES.name]) - bare) / (
        statistics.median(seconds[PIPES_FAST.name]) - bare
    )


def spread(seconds: list[float]) -> str:
    """Median and quartiles of ``seconds``, in ms."""
    first, median, third = statistics.quantiles(seconds, n=4)
    return f"median {median * 1e3:.1f} ms (quartiles {first * 1e3:.1f}-{third * 1e3:.1f})"


def measure_child_startup(rounds: int) -> Goal:
    """pipes_fast's start-up overhead at most a quarter of dagster_pipes', over ``rounds`` rounds."""
    seconds: dict[str, list[float]] = {side.name: [] for side in SIDES}
    round_ratios = []
    with tempfile.TemporaryDirectory() as folder, child_environment(Path(folder)) as (env, messages):
        for side in SIDES:  # warm-up: the bytecode caches
            side.run(env, messages)
        for _ in range(rounds):
            this_round: dict[str, list[float]] = {side.name: [] for side in SIDES}
            for _ in range(RUNS):
                for side in SIDES:
                    this_round[side.name].append(side.run(env, messages))
            round_ratios.append(overhead_ratio(this_round))
            for name, times in this_round.items():
                seconds[name] += times
    bare = statistics.median(seconds[BARE.name])
    goal = Goal(
        "child start-up overhead over a bare interpreter (open, one materialization, close)",
        "dagster_pipes",
        "pipes_fast.external",
        4.0,
        baseline_seconds=statistics.median(seconds[DAGSTER_PIPES.name]) - bare,
        candidate_seconds=statistics.median(seconds[PIPES_FAST.name]) - bare,
    )
    print(
        f"  start-up, {rounds} rounds of {RUNS} runs each: "
        + "; ".join(f"{name} {spread(times)}" for name, times in seconds.items())
        + f"; overheads: dagster_pipes {goal.baseline_seconds * 1e3:.1f} ms, pipes_fast {goal.candidate_seconds * 1e3:.1f} ms"
        + f"; ratio per round {min(round_ratios):.2f}-{max(round_ratios):.2f}",
        file=sys.stderr,
        flush=True,
    )
    return goal
