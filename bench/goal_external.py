"""Goals of the external side, measured side by side with dagster_pipes in the same run.

- file writer: appending small messages through ``PipesFileMessageWriterChannel`` is at least
  10x as fast as dagster_pipes' (which opens and closes the file for every message);
- write floor: the unbuffered channel (once orjson has taken over) costs at most 1.5x a bare
  ``os.write`` loop over the same lines, to the same kind of file (ratio: the loop's time over
  ours, target 1/1.5);
- buffered file writer: ``PipesFileMessageWriterChannel(path, buffered=True)``, flushed at the
  end, is at least 25x as fast as dagster_pipes';
- import: ``import pipes_fast.external`` costs at most a quarter of ``import dagster_pipes``, as
  ``python -X importtime`` reports it (the self time of every module the import loads), in fresh
  interpreters with bytecode caches warm.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from functools import partial
from types import ModuleType
from typing import Any

import dagster_pipes
from timing import Goal, best_of

import pipes_fast.external
from pipes_fast._logic import codec as _codec
from pipes_fast.benchmarks.throughput import bare_writes, write_all
from pipes_fast.external import serialize, writers
from pipes_fast.protocol import make_message

WRITER_MESSAGES = 20_000


def small_messages(count: int) -> list[Any]:
    """``count`` custom messages of about 140 bytes, the shape of ``streams.custom_message_lines``."""
    return [
        make_message(
            "report_custom_message", {"payload": {"i": i, "name": f"item-{i:08d}", "tags": ["a", "b"], "ok": True}}
        )
        for i in range(count)
    ]


def materializations(count: int) -> list[Any]:
    """``count`` materializations with four metadata entries and no data version (about 330 bytes)."""
    return [
        make_message(
            "report_asset_materialization",
            {
                "asset_key": "warehouse/orders",
                "data_version": None,
                "metadata": {
                    "rows": {"raw_value": i, "type": "int"},
                    "path": {"raw_value": f"/data/{i}.parquet", "type": "path"},
                    "ok": {"raw_value": True, "type": "bool"},
                    "score": {"raw_value": i / 7, "type": "float"},
                },
            },
        )
        for i in range(count)
    ]


def open_context(module: ModuleType, path: str) -> Any:
    """A ``PipesContext`` of ``module`` (dagster_pipes or pipes_fast.external: same API) for a
    one-asset step, writing messages to the file at ``path``."""
    data = {"asset_keys": ["orders"], "run_id": "bench", "extras": {}}
    params = {
        "DAGSTER_PIPES_CONTEXT": _codec.encode_param({"data": data}),
        "DAGSTER_PIPES_MESSAGES": _codec.encode_param({"path": path}),
    }
    loader = module.PipesMappingParamsLoader(params)
    return module.PipesContext(loader, module.PipesDefaultContextLoader(), module.PipesDefaultMessageWriter())


def measure_file_writer(rounds: int) -> Goal:
    return against_dagster_pipes(rounds, "file writer", 10.0, buffered=False)


def measure_buffered_writer(rounds: int) -> Goal:
    return against_dagster_pipes(rounds, "buffered file writer", 25.0, buffered=True)


def against_dagster_pipes(rounds: int, name: str, target: float, *, buffered: bool) -> Goal:
    """pipes_fast's file channel against dagster_pipes' on small messages."""
    messages = small_messages(WRITER_MESSAGES)
    goal = Goal(
        f"{name}, {WRITER_MESSAGES // 1000}k small messages",
        "dagster_pipes.PipesFileMessageWriterChannel",
        f"pipes_fast.external.PipesFileMessageWriterChannel(buffered={buffered})",
        target,
    )
    with tempfile.TemporaryDirectory() as folder:
        theirs = dagster_pipes.PipesFileMessageWriterChannel(os.path.join(folder, "dagster_pipes.jsonl"))
        path = os.path.join(folder, "pipes_fast.jsonl")
        with pipes_fast.external.PipesFileMessageWriterChannel(path, buffered=buffered) as ours:
            goal.baseline_seconds, goal.candidate_seconds = best_of(
                rounds, partial(write_all, theirs, messages), partial(write_all, ours, messages)
            )
    return goal


def measure_write_floor(rounds: int) -> Goal:
    messages = small_messages(WRITER_MESSAGES)
    goal = Goal(
        f"unbuffered file writer vs the write floor, {WRITER_MESSAGES // 1000}k small messages",
        "a bare os.write loop of the same lines",
        "pipes_fast.external.PipesFileMessageWriterChannel",
        1 / 1.5,
    )
    with tempfile.TemporaryDirectory() as folder:
        ours_path, floor_path = os.path.join(folder, "ours.jsonl"), os.path.join(folder, "floor.jsonl")
        with pipes_fast.external.PipesFileMessageWriterChannel(ours_path) as ours:
            write_all(ours, small_messages(writers.ORJSON_AFTER))  # past the switch to orjson
            lines = written_lines(ours, ours_path, messages)
            fd = os.open(floor_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            try:
                goal.baseline_seconds, goal.candidate_seconds = best_of(
                    rounds, partial(bare_writes, fd, lines), partial(write_all, ours, messages)
                )
            finally:
                os.close(fd)
    return goal


def written_lines(channel: Any, path: str, messages: Sequence[Any]) -> list[bytes]:
    """Write ``messages`` through ``channel``, which appends to ``path``: the lines they became."""
    start = os.path.getsize(path)
    write_all(channel, messages)
    with open(path, "rb") as written:
        written.seek(start)
        return written.read().splitlines(keepends=True)


SWITCH_CODE = """
import os, sys, tempfile, time
from pipes_fast.external import serialize
fd = os.open(os.path.join(tempfile.mkdtemp(), "m"), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
start = time.perf_counter()
serialize.make_appender(fd)
print(time.perf_counter() - start)
"""


def orjson_crossover(rounds: int, messages: Sequence[Any]) -> dict[str, float]:
    """What the unbuffered channel's switch to orjson costs and saves: the seconds a fresh process
    takes to load orjson and the hot path (median of ``rounds``), the seconds per message before
    and after the switch (best of ``rounds``), and the number of messages whose saving pays for the
    load (where ``writers.ORJSON_AFTER`` should be)."""
    loads = sorted(
        float(subprocess.run([sys.executable, "-c", SWITCH_CODE], capture_output=True, text=True, check=True).stdout)
        for _ in range(rounds)
    )
    with tempfile.TemporaryDirectory() as folder:
        before, after = (
            os.open(os.path.join(folder, name), os.O_WRONLY | os.O_APPEND | os.O_CREAT) for name in ("before", "after")
        )
        append = serialize.make_appender(after).append

        def early() -> None:
            for message in messages:
                serialize.write_ascii_line(before, message)

        def hot() -> None:
            for message in messages:
                append(message)

        try:
            early_seconds, hot_seconds = (t / len(messages) for t in best_of(rounds, early, hot))
        finally:
            os.close(before)
            os.close(after)
    load = loads[len(loads) // 2]
    return {
        "load_seconds": load,
        "early_seconds": early_seconds,
        "hot_seconds": hot_seconds,
        "crossover_messages": load / (early_seconds - hot_seconds),
    }


def importtime(code: str) -> list[tuple[str, int]]:
    """(module, self microseconds) for every import ``python -X importtime -c code`` reports.

    Runs with bytecode caching on (``PYTHONDONTWRITEBYTECODE`` removed), as an installed package
    runs: without it, a source tree would pay compilation and an installed one would not.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    report = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], env=env, capture_output=True, text=True, check=True
    ).stderr
    rows = [line.removeprefix("import time:").split("|") for line in report.splitlines()]
    return [
        (name.strip(), int(us)) for us, _cumulative, name in (r for r in rows if len(r) == 3) if us.strip().isdigit()
    ]


def import_seconds(module: str, startup: frozenset[str]) -> float:
    """What ``import module`` costs in a fresh interpreter: the self time of every module it loads
    beyond those the interpreter loads at startup."""
    return sum(us for name, us in importtime(f"import {module}") if name not in startup) / 1e6


def measure_import(rounds: int) -> Goal:
    goal = Goal("import cost (-X importtime)", "import dagster_pipes", "import pipes_fast.external", 4.0)
    startup = frozenset(name for name, _us in importtime("pass"))
    for module in ("dagster_pipes", "pipes_fast.external"):
        import_seconds(module, startup)  # writes the bytecode caches
    best = [float("inf"), float("inf")]
    for _ in range(rounds):
        for index, module in enumerate(("dagster_pipes", "pipes_fast.external")):
            best[index] = min(best[index], import_seconds(module, startup))
    goal.baseline_seconds, goal.candidate_seconds = best
    return goal


if __name__ == "__main__":
    for name, sample in (
        ("small custom messages", small_messages(WRITER_MESSAGES)),
        ("materializations", materializations(WRITER_MESSAGES)),
    ):
        found = orjson_crossover(9, sample)
        print(
            f"{name}: loading orjson and the hot path {found['load_seconds'] * 1e3:.1f} ms; per message"
            f" {found['early_seconds'] * 1e6:.2f} us before, {found['hot_seconds'] * 1e6:.2f} us after;"
            f" crossover at {found['crossover_messages']:.0f} messages (ORJSON_AFTER = {writers.ORJSON_AFTER})"
        )
