"""Goals of the external side, measured side by side with dagster_pipes in the same run.

- file writer: appending small messages through ``PipesFileMessageWriterChannel`` is at least
  10x as fast as dagster_pipes' (which opens and closes the file for every message);
- import: ``import pipes_fast.external`` costs at most a quarter of ``import dagster_pipes``, as
  ``python -X importtime`` reports it (the self time of every module the import loads), in fresh
  interpreters with bytecode caches warm.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import dagster_pipes

import pipes_fast.external
from pipes_fast.protocol import make_message
from timing import Goal, best_of
from pipes_fast import _codec

WRITER_MESSAGES = 20_000


def small_messages(count: int) -> list[Any]:
    """``count`` custom messages of about 140 bytes, the shape of ``streams.custom_message_lines``."""
    return [
        make_message("report_custom_message", {"payload": {"i": i, "name": f"item-{i:08d}", "tags": ["a", "b"], "ok": True}})
        for i in range(count)
    ]


def open_context(module: ModuleType, path: str) -> Any:
    """A ``PipesContext`` of ``module`` (dagster_pipes or pipes_fast.external: same API) for a
    one-asset step, writing messages to the file at ``path``."""
    data = {"asset_keys": ["orders"], "run_id": "bench", "extras": {}}
    params = {"DAGSTER_PIPES_CONTEXT": _codec.encode_param({"data": data}),
              "DAGSTER_PIPES_MESSAGES": _codec.encode_param({"path": path})}
    loader = module.PipesMappingParamsLoader(params)
    return module.PipesContext(loader, module.PipesDefaultContextLoader(), module.PipesDefaultMessageWriter())


def writing(channel: Any, messages: Sequence[Any]) -> Callable[[], None]:
    def write_all() -> None:
        write = channel.write_message
        for message in messages:
            write(message)

    return write_all


def measure_file_writer(rounds: int) -> Goal:
    messages = small_messages(WRITER_MESSAGES)
    goal = Goal(
        f"file writer, {WRITER_MESSAGES // 1000}k small messages",
        "dagster_pipes.PipesFileMessageWriterChannel",
        "pipes_fast.external.PipesFileMessageWriterChannel",
        10.0,
    )
    with tempfile.TemporaryDirectory() as folder:
        theirs = dagster_pipes.PipesFileMessageWriterChannel(os.path.join(folder, "dagster_pipes.jsonl"))
        with pipes_fast.external.PipesFileMessageWriterChannel(os.path.join(folder, "pipes_fast.jsonl")) as ours:
            goal.baseline_seconds, goal.candidate_seconds = best_of(rounds, writing(theirs, messages), writing(ours, messages))
    return goal


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
    return [(name.strip(), int(us)) for us, _cumulative, name in (r for r in rows if len(r) == 3) if us.strip().isdigit()]


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
