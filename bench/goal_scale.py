"""Goals of issue 22 at scale: many concurrent sessions in one orchestrator, and many orchestrators.

    python bench/goal_scale.py [--sessions 1 150 300 1000] [--sides ...] [--messages 3000]
                               [--latency-sessions 1000] [--processes 200 --per-process 5]
                               [--repeat K] [--json]

Each configuration runs in a fresh orchestrator process (``scale_worker.py``: N threads sharing
one ``PipesSubprocessClient``, each running ``scale_child.py``), so its peak RSS, its children's
CPU and its warnings are its own; ``--repeat K`` runs every configuration K times (interleaved)
and the table shows each figure's min-max. Sides (``--sides``):

- ``pipes_fast``: ``pipes_fast.PipesSubprocessClient``, children on ``pipes_fast.external``;
- ``pipes_fast/dagster_pipes``: the same client, children on ``dagster_pipes``;
- ``pipes_fast.dagster`` and ``dagster``: pipes_fast.dagster's client and Dagster's own, in the
  live context of one ``dagster.materialize`` run, children on ``pipes_fast.external``.

Every child streams ``--messages`` custom messages ``{"s": session, "i": i}`` once every session
is open and idle; a session must get exactly its own, in order (lost, misordered and foreign are
counted). Figures: wall time (threads started to all joined), the orchestrator's CPU (user+sys)
and the children's system CPU per message, peak RSS (``ru_maxrss``) and RSS per open idle session
beyond the process's before the sessions opened, and any warning of the ``pipes_fast`` loggers
("polled instead" is the fallback from inotify to polling). Then delivery latency: ``--latency-sessions``
sessions open and idle, then each child writes ``--latency-messages`` log lines stamped with
``time.monotonic_ns()`` at random gaps (``scale_child.GAPS``), each timed to its arrival at the
session's logger. Last, ``--processes`` orchestrator processes at once with ``--per-process``
sessions each (the shape of Dagster's multiprocess executor).

A bound the machine sets (open files, processes) shows as failed sessions with their error.
``goals.py`` runs the goals below (``measure_*``) at :data:`GOAL_SESSIONS` sessions.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from scale_worker import Config
from timing import Goal

WORKER = str(Path(__file__).with_name("scale_worker.py"))
SIDES = {
    "pipes_fast": ("pipes_fast", "pipes_fast"),
    "pipes_fast/dagster_pipes": ("pipes_fast", "dagster_pipes"),
    "pipes_fast.dagster": ("pipes_fast.dagster", "pipes_fast"),
    "dagster": ("dagster", "pipes_fast"),
    "dagster/dagster_pipes": ("dagster", "dagster_pipes"),
}
"""Side name -> (client, what the children report with)."""
MESSAGES = 3000
LATENCY_MESSAGES = 10
TIMEOUT = 1800.0
"""Longest run of one configuration (all processes of a multi-process one), seconds."""
GOAL_SESSIONS = 1000
FLAT = 1.5
"""Goal: the cost of a message at :data:`GOAL_SESSIONS` sessions within this factor of one session's."""
LATENCY_P99 = 0.002
FALLBACK = "instead"
"""A warning naming this is the fallback from being woken to polling."""


def start(config: Config, folder: Path, name: str) -> tuple[subprocess.Popen[bytes], Path]:
    out = folder / f"{name}.json"
    process = subprocess.Popen([sys.executable, WORKER, json.dumps(asdict(config)), str(out)], start_new_session=True)
    return process, out


def finish(process: subprocess.Popen[bytes], out: Path, deadline: float) -> dict[str, Any]:
    """The figures of a started worker, or ``{"failed": why}``; killed (its group) past ``deadline``."""
    try:
        code = process.wait(max(deadline - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return {"failed": "timed out"}
    if code != 0 or not out.exists():
        return {"failed": f"worker exited with {code}"}
    figures: dict[str, Any] = json.loads(out.read_text())
    return figures


def run_workers(configs: Sequence[Config], timeout: float = TIMEOUT) -> list[dict[str, Any]]:
    """Each of ``configs`` in its own orchestrator process, all at once; their figures."""
    with tempfile.TemporaryDirectory(prefix="pipes-scale-out-") as folder:
        started = [start(config, Path(folder), str(n)) for n, config in enumerate(configs)]
        deadline = time.monotonic() + timeout
        return [finish(process, out, deadline) for process, out in started]


def run_one(config: Config, timeout: float = TIMEOUT) -> dict[str, Any]:
    return run_workers([config], timeout)[0]


def fallbacks(run: dict[str, Any]) -> int:
    """How many fallback warnings a run gave."""
    warnings = {**run.get("warnings", {}), **run.get("session_warnings", {})}
    return sum(count for text, count in warnings.items() if FALLBACK in text)


def per_message(run: dict[str, Any], key: str) -> float:
    c = run["config"]
    return float(run[key]) / (c["sessions"] * c["messages"])


def idle_kb_per_session(run: dict[str, Any]) -> float:
    return float(run["rss_idle_kb"] - run["rss_base_kb"]) / run["config"]["sessions"]


def percentile(values: Sequence[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] if len(values) > 1 else values[0]


def spread(values: Iterable[float], scale: float = 1.0, digits: int = 1) -> str:
    """``min-max`` (one figure if they are equal) of ``values`` times ``scale``."""
    shown = sorted({f"{v * scale:.{digits}f}" for v in values}, key=float)
    return shown[0] if len(shown) == 1 else f"{shown[0]}-{shown[-1]}"


def summary(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Min and max of each figure over the repeats of one configuration (failed runs named)."""
    good = [r for r in runs if "failed" not in r]
    figures: dict[str, Any] = {"runs": len(runs), "failed": [r["failed"] for r in runs if "failed" in r]}
    if not good:
        return figures
    values = {
        "seconds": [r["seconds"] for r in good],
        "stream_seconds": [r["stream_seconds"] for r in good],
        "cpu_us_per_message": [per_message(r, "cpu_seconds") * 1e6 for r in good],
        "children_sys_us_per_message": [per_message(r, "children_sys_seconds") * 1e6 for r in good],
        "maxrss_mb": [r["maxrss_kb"] / 1024 for r in good],
        "idle_kb_per_session": [idle_kb_per_session(r) for r in good],
    }
    latencies = [r["latencies"] for r in good if r["latencies"]]
    if latencies:
        values |= {f"p{p}_ms": [percentile(one, p) * 1e3 for one in latencies] for p in (50, 99)}
        values["max_ms"] = [max(one) * 1e3 for one in latencies]
    figures |= {name: [min(v), max(v)] for name, v in values.items()}
    figures |= {name: max(r[name] for r in good) for name in ("lost", "misordered", "foreign")}
    figures["failed_sessions"] = max(len(r["errors"]) for r in good)
    figures["errors"] = sorted({e for r in good for e in r["errors"]})[:5]
    figures["not_ready"] = max(r["config"]["sessions"] - r["ready"] for r in good)
    figures["fallback_warnings"] = [min(map(fallbacks, good)), max(map(fallbacks, good))]
    figures |= {name: max(r.get(name, 0) for r in good) for name in ("inotify_instances", "pipes_fast_threads")}
    figures["warnings"] = dict(sum((Counter({**r["warnings"], **r["session_warnings"]}) for r in good), Counter()))
    return figures


def sessions_figures(
    sides: Sequence[str], sessions: Sequence[int], messages: int, repeat: int, mode: str = "stream"
) -> dict[tuple[str, int], dict[str, Any]]:
    """Every side at every session count, ``repeat`` interleaved times; summaries by (side, sessions)."""
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for _ in range(repeat):
        for count in sessions:
            for side in sides:
                client, children = SIDES[side]
                print(f"  {side}: {count} sessions x {messages} ({mode})", file=sys.stderr, flush=True)
                runs.setdefault((side, count), []).append(run_one(Config(client, children, count, messages, mode)))
    return {key: summary(found) for key, found in runs.items()}


def processes_figures(processes: int, per_process: int, messages: int, repeat: int) -> list[dict[str, Any]]:
    """``processes`` orchestrators at once with ``per_process`` sessions each, ``repeat`` times."""
    results = []
    for _ in range(repeat):
        print(f"  {processes} processes x {per_process} sessions x {messages}", file=sys.stderr, flush=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        runs = run_workers([Config("pipes_fast", "pipes_fast", per_process, messages)] * processes)
        seconds = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        good = [r for r in runs if "failed" not in r]
        results.append(
            {
                "processes": processes,
                "per_process": per_process,
                "messages": messages,
                "seconds": seconds,
                "cpu_seconds": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
                "failed_processes": [r["failed"] for r in runs if "failed" in r],
                "failed_sessions": sum(len(r["errors"]) for r in good),
                "lost": sum(r["lost"] for r in good) + (processes - len(good)) * per_process * messages,
                "misordered": sum(r["misordered"] for r in good),
                "foreign": sum(r["foreign"] for r in good),
                "processes_with_fallback": sum(1 for r in good if fallbacks(r)),
                "most_fallback_warnings_in_a_process": max(map(fallbacks, good), default=0),
                "warnings": dict(sum((Counter(r["warnings"]) for r in good), Counter())),
            }
        )
    return results


def ratio(by: dict[tuple[str, int], dict[str, Any]], side: str, figure: str, big: int) -> list[float] | None:
    """``figure`` at ``big`` sessions over its value at one session, as [best, worst] over the
    repeats (None where not measured, or too small to divide by)."""
    one, many = by.get((side, 1), {}).get(figure), by.get((side, big), {}).get(figure)
    return None if one is None or many is None or not one[0] else [many[0] / one[1], many[1] / one[0]]


def table(by: dict[tuple[str, int], dict[str, Any]]) -> str:
    head = (
        f"{'side':<26}{'N':>6}{'wall s':>13}{'lost/mis/for':>14}{'failed':>8}{'CPU us/msg':>15}"
        f"{'kids sys us/msg':>17}{'maxRSS MB':>12}{'idle KB/sess':>14}{'inotify':>8}{'threads':>8}{'fallback':>10}"
        f"{'p99 ms':>13}"
    )
    lines = [head]
    for (side, count), f in by.items():
        if "seconds" not in f:
            lines.append(f"{side:<26}{count:>6}  all runs failed: {f['failed']}")
            continue
        delivery = f"{f['lost']}/{f['misordered']}/{f['foreign']}"
        p99 = spread(f["p99_ms"], digits=2) if "p99_ms" in f else "-"
        lines.append(
            f"{side:<26}{count:>6}{spread(f['seconds'], digits=2):>13}{delivery:>14}{f['failed_sessions'] + f['not_ready']:>8}"
            f"{spread(f['cpu_us_per_message'], digits=2):>15}{spread(f['children_sys_us_per_message'], digits=2):>17}"
            f"{spread(f['maxrss_mb'], digits=0):>12}{spread(f['idle_kb_per_session'], digits=0):>14}"
            f"{f['inotify_instances']:>8}{f['pipes_fast_threads']:>8}{spread(f['fallback_warnings'], digits=0):>10}{p99:>13}"
        )
        lines += [f"{'':<32}error: {e}" for e in f["errors"]]
        lines += [f"{'':<32}warning x{n}: {text[:140]}" for text, n in f["warnings"].items()]
    return "\n".join(lines)


@functools.lru_cache(maxsize=None)
def goal_figures(rounds: int) -> dict[tuple[str, int], dict[str, Any]]:
    """pipes_fast at 1 and :data:`GOAL_SESSIONS` sessions, Dagster's client at the latter, and the
    latency run, ``min(rounds, 2)`` times each; raises if anything was lost."""
    repeat = min(rounds, 2)
    by = sessions_figures(["pipes_fast"], [1, GOAL_SESSIONS], MESSAGES, repeat)
    by |= sessions_figures(["dagster"], [GOAL_SESSIONS], MESSAGES, repeat)
    latency = sessions_figures(["pipes_fast"], [GOAL_SESSIONS], LATENCY_MESSAGES, repeat, "latency")
    by[("latency", GOAL_SESSIONS)] = latency[("pipes_fast", GOAL_SESSIONS)]
    print(table(by), file=sys.stderr, flush=True)
    for (side, _), f in by.items():
        if side != "dagster" and (f["failed"] or f["lost"] or f["misordered"] or f["foreign"] or f["failed_sessions"]):
            raise AssertionError(f"{side} did not deliver exactly: {f}")
    return by


def measure_scale_wall_against_dagster(rounds: int) -> Goal:
    """Wall time of 1,000 concurrent sessions below Dagster's ``PipesSubprocessClient``'s (best rounds)."""
    by = goal_figures(rounds)
    return Goal(
        f"{GOAL_SESSIONS} concurrent sessions x {MESSAGES} messages, wall time",
        "dagster.PipesSubprocessClient",
        "pipes_fast.PipesSubprocessClient",
        1.0,
        baseline_seconds=by[("dagster", GOAL_SESSIONS)]["seconds"][0],
        candidate_seconds=by[("pipes_fast", GOAL_SESSIONS)]["seconds"][0],
    )


def flat(rounds: int, figure: str, what: str) -> Goal:
    by = goal_figures(rounds)
    return Goal(
        f"{what} per message at {GOAL_SESSIONS} sessions (seconds here: us)",
        f"{FLAT}x one session's",
        f"{GOAL_SESSIONS} sessions",
        1.0,
        baseline_seconds=FLAT * by[("pipes_fast", 1)][figure][0],
        candidate_seconds=by[("pipes_fast", GOAL_SESSIONS)][figure][0],
    )


def measure_scale_orchestrator_cpu(rounds: int) -> Goal:
    """The orchestrator's CPU per message at 1,000 sessions within 1.5x of one session's."""
    return flat(rounds, "cpu_us_per_message", "orchestrator CPU")


def measure_scale_children_sys_cpu(rounds: int) -> Goal:
    """The children's system CPU per message at 1,000 sessions within 1.5x of one session's."""
    return flat(rounds, "children_sys_us_per_message", "children's system CPU")


def measure_scale_latency_p99(rounds: int) -> Goal:
    """Delivery p99 at 1,000 idle-then-active sessions within 2 ms."""
    return Goal(
        f"delivery p99 at {GOAL_SESSIONS} idle-then-active sessions",
        "2 ms",
        "pipes_fast",
        1.0,
        baseline_seconds=LATENCY_P99,
        candidate_seconds=goal_figures(rounds)[("latency", GOAL_SESSIONS)]["p99_ms"][0] / 1e3,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, nargs="*", default=[1, 150, 300, 1000])
    parser.add_argument("--sides", nargs="*", choices=list(SIDES), default=list(SIDES))
    parser.add_argument("--messages", type=int, default=MESSAGES, help="custom messages per child")
    parser.add_argument("--latency-sessions", type=int, default=GOAL_SESSIONS, help="0: no latency run")
    parser.add_argument("--latency-messages", type=int, default=LATENCY_MESSAGES, help="log lines per child")
    parser.add_argument("--processes", type=int, default=200, help="orchestrator processes at once (0: none)")
    parser.add_argument("--per-process", type=int, default=5, help="sessions per orchestrator process")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each configuration (table: min-max)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    by = sessions_figures(args.sides, args.sessions, args.messages, args.repeat)
    if args.latency_sessions:
        latency = sessions_figures(
            ["pipes_fast"], [args.latency_sessions], args.latency_messages, args.repeat, "latency"
        )
        by[("pipes_fast latency", args.latency_sessions)] = latency[("pipes_fast", args.latency_sessions)]
    processes = (
        processes_figures(args.processes, args.per_process, args.messages, args.repeat) if args.processes else []
    )
    big = max(args.sessions, default=1)
    ratios = {
        f"{side} {figure} {big} vs 1": ratio(by, side, figure, big)
        for side in args.sides
        for figure in ("cpu_us_per_message", "children_sys_us_per_message")
        if ratio(by, side, figure, big) is not None
    }
    if args.json:
        rows = [{"side": side, "sessions": count, **f} for (side, count), f in by.items()]
        print(json.dumps({"sessions": rows, "ratios": ratios, "processes": processes}, indent=2))
        return 0
    print(table(by))
    for name, (low, high) in ratios.items():
        print(f"ratio {name}: {low:.2f}-{high:.2f} (goal <= {FLAT})")
    for p in processes:
        print(
            f"{p['processes']} processes x {p['per_process']} sessions x {p['messages']}: {p['seconds']:.1f} s,"
            f" CPU {p['cpu_seconds']:.1f} s, lost {p['lost']}, misordered {p['misordered']}, foreign {p['foreign']},"
            f" failed processes {len(p['failed_processes'])}, failed sessions {p['failed_sessions']},"
            f" processes with a fallback warning {p['processes_with_fallback']}"
            f" (at most {p['most_fallback_warnings_in_a_process']} in one)"
        )
        for text, n in p["warnings"].items():
            print(f"  warning x{n}: {text[:140]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
