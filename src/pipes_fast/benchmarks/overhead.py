"""What a session adds around a trivial process, and what a Pipes child adds to a bare interpreter.

- Session overhead: ``PipesSubprocessClient().run(...)`` around a process that does nothing
  (``true``, or an empty interpreter where there is none) minus that process alone, for
  pipes_fast's client and, in a live Dagster asset body, Dagster's.
- Child start-up: a whole Pipes child (interpreter, imports, bootstrap decoding, open, one
  materialization, close) with ``pipes_fast.external`` and with ``dagster_pipes``, minus a bare
  interpreter (``python -c pass``).

Each round times every side ``runs`` times, interleaved, and takes medians; a figure is the best
and worst round.
"""

from __future__ import annotations

import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from pipes_fast import PipesFileContextInjector, PipesSubprocessClient, StepContext, encode_param
from pipes_fast.benchmarks.figures import Figure, durations, rounds_of
from pipes_fast.context import build_context_data
from pipes_fast.protocol import DAGSTER_PIPES_CONTEXT_ENV_VAR, DAGSTER_PIPES_MESSAGES_ENV_VAR

ASSET = "orders"
CHILD_ALONE = "the process alone"
STARTUP_CHILD = """import sys
package = __import__(sys.argv[1], fromlist=["open_dagster_pipes"])
with package.open_dagster_pipes() as pipes:
    pipes.report_asset_materialization(metadata={"rows": 1})
"""
"""The child of the start-up figure: ``python -c STARTUP_CHILD PACKAGE``, the same for both packages."""


def session(runs: int, rounds: int) -> list[Figure]:
    """Each client's overhead over the trivial process, in ms (see the module's docstring)."""
    true = shutil.which("true")
    command = [true] if true else [sys.executable, "-S", "-c", ""]
    quiet = logging.getLogger("pipes_fast.benchmarks.session")
    quiet.setLevel(logging.ERROR)  # the process never opens the pipes: each session warns so
    step = StepContext([ASSET], log=quiet)
    ours = PipesSubprocessClient()
    sides: dict[str, Callable[[], object]] = {
        CHILD_ALONE: lambda: subprocess.run(command, check=True),
        "pipes_fast": lambda: ours.run(context=step, command=command),
    }
    with ExitStack() as stack:
        if find_spec("dagster") is not None:
            import dagster

            from pipes_fast.benchmarks._dagster import dagster_asset_context

            context = stack.enter_context(dagster_asset_context([ASSET], log_level="ERROR"))
            theirs = dagster.PipesSubprocessClient()
            sides["dagster"] = lambda: theirs.run(context=context, command=command)
        return durations(f"session overhead around `{Path(command[0]).name}`", _overheads(sides, runs, rounds))


def startup(runs: int, rounds: int) -> list[Figure]:
    """Each package's child start-up over a bare interpreter, in ms (see the module's docstring)."""
    packages = ["pipes_fast.external", *(["dagster_pipes"] if find_spec("dagster_pipes") is not None else [])]
    with tempfile.TemporaryDirectory(prefix="pipes_fast-bench-") as folder, ExitStack() as stack:
        context = build_context_data(StepContext([ASSET]))
        injected = stack.enter_context(
            PipesFileContextInjector(os.path.join(folder, "context.json")).inject_context(context)
        )
        params = {
            DAGSTER_PIPES_CONTEXT_ENV_VAR: injected,
            DAGSTER_PIPES_MESSAGES_ENV_VAR: {"path": os.path.join(folder, "messages")},
        }
        env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
        env.update({name: encode_param(value) for name, value in params.items()})
        sides: dict[str, Callable[[], object]] = {CHILD_ALONE: _command([sys.executable, "-c", "pass"], env)}
        for package in packages:
            sides[package] = _command([sys.executable, "-c", STARTUP_CHILD, package], env)
        for run in sides.values():
            run()  # the bytecode caches
        return durations("child start-up over a bare interpreter", _overheads(sides, runs, rounds))


def _command(command: list[str], env: dict[str, str]) -> Callable[[], Any]:
    return lambda: subprocess.run(command, env=env, check=True)


def _overheads(sides: dict[str, Callable[[], object]], runs: int, rounds: int) -> dict[str, list[float]]:
    """Per side but :data:`CHILD_ALONE`: its median over ``runs`` minus that of :data:`CHILD_ALONE`,
    in each of ``rounds`` rounds."""
    found: dict[str, list[float]] = {name: [] for name in sides if name != CHILD_ALONE}
    for _ in range(rounds):
        medians = {name: statistics.median(times) for name, times in rounds_of(sides, runs, collect=False).items()}
        for name in found:
            found[name].append(medians[name] - medians[CHILD_ALONE])
    return found
