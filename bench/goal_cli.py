"""Goal of issue 21: ``pipes-fast run -- true`` starts within 40 ms of a bare interpreter running
``pass`` plus ``true`` itself.

Three sides, interleaved (bare, ``true``, ``pipes-fast run -- true``, bare, ...), :data:`RUNS` of
each per round, each timed from the fork to the reaped exit: ``python -c pass``, ``true``, and the
``pipes-fast`` console script beside this interpreter (``python -m pipes_fast`` where it is not
installed), which runs ``true`` in a session with the default injector and reader and exits 3
(``true`` never opens the pipes). All get this environment with bytecode caching on, as an
installed package runs. The goal compares best runs: ``pipes-fast run -- true`` against the
bare interpreter's plus ``true``'s plus :data:`BUDGET` (the baseline), target ratio 1; the
spread of each side is printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from goal_startup import spread
from timing import Goal

BUDGET = 0.040
"""Seconds ``pipes-fast run -- true`` may take beyond ``python -c pass`` and ``true``."""
RUNS = 10
"""Runs of each side per round."""
EXIT_NEVER_OPENED = 3
"""``pipes-fast run``'s exit status when the command exits 0 without opening the pipes."""

_SCRIPT = Path(sys.executable).with_name("pipes-fast")
PIPES_FAST = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "pipes_fast"]
SIDES = {
    "python -c pass": ([sys.executable, "-c", "pass"], 0),
    "true": (["true"], 0),
    "pipes-fast run -- true": ([*PIPES_FAST, "run", "--", "true"], EXIT_NEVER_OPENED),
}
"""Each side's command and the exit status it must give."""


def run_side(name: str, env: dict[str, str]) -> float:
    """Seconds from starting side ``name`` to its exit; raises unless it exits as it should."""
    command, expected = SIDES[name]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - start
    if done.returncode != expected:
        raise RuntimeError(f"{name} exited {done.returncode}, not {expected}: {done.stderr[-500:]!r}")
    return seconds


def environment() -> dict[str, str]:
    """This environment, with bytecode caching on."""
    return {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def measure_cli_startup(rounds: int) -> Goal:
    """``pipes-fast run -- true`` within :data:`BUDGET` of ``python -c pass`` plus ``true``."""
    env = environment()
    seconds: dict[str, list[float]] = {name: [] for name in SIDES}
    for name in SIDES:  # warm-up: the bytecode caches
        run_side(name, env)
    for _ in range(rounds * RUNS):
        for name in SIDES:
            seconds[name].append(run_side(name, env))
    best = {name: min(times) for name, times in seconds.items()}
    goal = Goal(
        f"pipes-fast run -- true start-up, against python -c pass + true + {BUDGET * 1e3:.0f} ms",
        f"python -c pass + true + {BUDGET * 1e3:.0f} ms",
        "pipes-fast run -- true",
        1.0,
        baseline_seconds=best["python -c pass"] + best["true"] + BUDGET,
        candidate_seconds=best["pipes-fast run -- true"],
    )
    overhead = best["pipes-fast run -- true"] - best["python -c pass"] - best["true"]
    print(
        f"  CLI start-up, {rounds} rounds of {RUNS} runs each: "
        + "; ".join(f"{name} best {best[name] * 1e3:.1f} ms, {spread(times)}" for name, times in seconds.items())
        + f"; best over the bare interpreter and true: {overhead * 1e3:.1f} ms (budget {BUDGET * 1e3:.0f} ms)",
        file=sys.stderr,
        flush=True,
    )
    return goal
