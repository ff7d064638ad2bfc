"""One benchmark run: every measurement in turn, a report at the end."""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec

from pipes_fast.benchmarks import latency, overhead, throughput
from pipes_fast.benchmarks.figures import Figure, Report


@dataclass(frozen=True)
class Scale:
    """How much each measurement does."""

    messages: int
    """Messages per reader and writer run."""
    rounds: int
    """Rounds of each measurement."""
    process_runs: int
    """Runs of each side per round of the session and start-up measurements."""
    latency_messages: int
    """Messages per delivery-latency run."""
    idle_seconds: float
    """How long the reader's idle CPU is measured after each delivery-latency run."""


FULL = Scale(messages=200_000, rounds=5, process_runs=20, latency_messages=600, idle_seconds=2.0)
QUICK = Scale(messages=20_000, rounds=2, process_runs=5, latency_messages=100, idle_seconds=0.5)


def run(scale: Scale = FULL, progress: Callable[[str], None] = lambda step: None) -> Report:
    """Measure everything at ``scale``; ``progress`` is told what starts (``"[2/5] writer throughput"``)."""
    started = time.perf_counter()
    report = Report(machine())
    steps: list[tuple[str, Callable[[], list[Figure]]]] = [
        ("reader throughput", lambda: throughput.reader(scale.messages, scale.rounds)),
        ("stdio throughput", lambda: throughput.stdio(scale.messages, scale.rounds)),
        ("writer throughput", lambda: throughput.writer(scale.messages // 10, scale.rounds)),
        ("delivery latency", lambda: _latency(scale)),
        ("session overhead", lambda: overhead.session(scale.process_runs, scale.rounds)),
        ("child start-up", lambda: overhead.startup(scale.process_runs, scale.rounds)),
    ]
    for number, (name, measure) in enumerate(steps, 1):
        progress(f"[{number}/{len(steps)}] {name}")
        report.figures += measure()
    report.seconds = time.perf_counter() - started
    return report


def _latency(scale: Scale) -> list[Figure]:
    rounds = min(scale.rounds, latency.ROUNDS)
    with ExitStack() as stack:
        context = None
        if find_spec("dagster") is not None:
            from pipes_fast.benchmarks._dagster import dagster_asset_context

            context = stack.enter_context(dagster_asset_context([overhead.ASSET], log_level="ERROR"))
        measured = latency.measure(
            rounds, count=scale.latency_messages, dagster_context=context, idle=scale.idle_seconds
        )
    section = f"delivery latency, write to handler ({scale.latency_messages} messages, gaps of 0.5-5 ms)"
    figures = []
    for side, runs in measured.items():
        for p in (50, 99):
            per_round = [latency.percentiles(run.latencies)[p] * 1e3 for run in runs.runs]
            figures.append(Figure(f"{section}, p{p}", side, min(per_round), max(per_round), "ms"))
    idle = [
        Figure(
            f"idle reader, CPU in its first {scale.idle_seconds:g} idle seconds",
            side,
            min(runs.idle_cpus) * 100,
            max(runs.idle_cpus) * 100,
            "% of a core",
        )
        for side, runs in measured.items()
    ]
    return figures + idle


def machine() -> dict[str, str]:
    """What the run ran on."""
    import pipes_fast

    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "cpus": str(os.cpu_count()),
        "pipes_fast": f"{pipes_fast.__version__} ({'compiled extension' if pipes_fast.EXTENSION else 'pure Python'})",
        "dagster": _version("dagster"),
        "dagster-pipes": _version("dagster-pipes"),
        "executable": sys.executable,
    }


def _version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"
