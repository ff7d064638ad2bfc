"""Goals of issue 8: ``pipes_fast.dagster.PipesSubprocessClient`` against ``dagster.PipesSubprocessClient``.

Both clients run inside a live ``dagster.materialize`` asset body (:func:`dagster_asset_context`,
a multi-asset selecting ``streams.ASSET_KEYS``) and are timed from ``client.run(context=context,
command=...)`` to ``get_results()`` and ``get_custom_messages()`` of the invocation. The external
process is the same cheap child for both: ``python -I -S bench/external_copy.py FILE`` appends a pre-written
message file (``goal_orchestration.prewritten``) to the path in its ``DAGSTER_PIPES_MESSAGES``
params and exits, so what is measured is the orchestration side.

Each round also runs pipes_fast's core client with a ``StepContext`` for the same asset keys (the
same hot path without Dagster), then times ``pipes_fast.dagster``'s converter (``ToDagster``) on
that run's results: the split of the candidate's time between converting into Dagster's types and
the rest. Every round checks that each side delivered all the messages; the goals compare the best
round of each side.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import dagster
import orjson
from dagster_baseline import Replay, dagster_asset_context
from goal_orchestration import CUSTOM_MESSAGES, MATERIALIZATIONS, Workload, delivered_by, prewritten, workdir
from streams import ASSET_KEYS
from timing import Goal

import pipes_fast
import pipes_fast.dagster
from pipes_fast._logic.codec import encode_param
from pipes_fast._system.gc import relaxed_gc
from pipes_fast.dagster._convert import ToDagster

MAX_ROUNDS = 5
"""Rounds per goal at most: a Dagster round takes about 0.7 s (custom messages) to 1.5 s (materializations)."""

CLIENT_CUSTOM_MESSAGES = replace(CUSTOM_MESSAGES, count=200_000, target=5.0)
CLIENT_MATERIALIZATIONS = replace(MATERIALIZATIONS, count=50_000, target=1.5)

BASELINE, CANDIDATE, CORE = "dagster", "pipes_fast.dagster", "pipes_fast"
"""The sides of a round: the baseline and candidate clients in the asset body, and pipes_fast's core client."""
CHILD = [sys.executable, "-I", "-S", str(Path(__file__).with_name("external_copy.py"))]
"""The external process, to be given the message file to write (``external_copy.py``)."""
CONVERSION = "conversion"
"""The candidate's converter over the core client's results, timed apart."""
FLOOR = "floor"
"""The child alone plus a bare loop decoding its lines (:func:`floor_seconds`)."""


@contextmanager
def clients(asset_keys: tuple[str, ...] = ASSET_KEYS) -> Iterator[dict[str, tuple[Any, Any]]]:
    """``{side: (client, context)}`` for :data:`BASELINE`, :data:`CANDIDATE` and :data:`CORE`."""
    with dagster_asset_context(asset_keys) as context:
        yield {
            BASELINE: (dagster.PipesSubprocessClient(), context),
            CANDIDATE: (pipes_fast.dagster.PipesSubprocessClient(), context),
            CORE: (pipes_fast.PipesSubprocessClient(), pipes_fast.StepContext(asset_keys=list(asset_keys))),
        }


def run_client(client: Any, context: Any, source: Path) -> Replay:
    """Run the child writing ``source`` through ``client``; time ``run`` to results and custom messages."""
    gc.collect()
    start = time.perf_counter()
    invocation = client.run(context=context, command=[*CHILD, str(source)])
    results = tuple(invocation.get_results())
    custom_messages = tuple(invocation.get_custom_messages())
    return Replay(time.perf_counter() - start, results, custom_messages)


def conversion_seconds(results: Sequence[Any]) -> float:
    """How long ``pipes_fast.dagster`` takes to convert pipes_fast's ``results`` into Dagster's types.

    Under the collector threshold the candidate converts with (its reader's ``relaxed_gc``): with
    CPython's default the collector re-traverses the live results and the time nearly triples.
    """
    convert = ToDagster().result
    gc.collect()
    with relaxed_gc():
        start = time.perf_counter()
        converted = [convert(result) for result in results]
        seconds = time.perf_counter() - start
    del converted  # released outside the timing, as the candidate keeps its results
    return seconds


def floor_seconds(source: Path) -> float:
    """The physical floor of a run: the child alone (writing to a plain file) plus a bare loop doing
    only the unavoidable reading work — read the file, split its lines, ``orjson.loads`` each (and
    keep nothing: what a consumer keeps is its own cost)."""
    target = workdir() / "floor.jsonl"
    target.write_bytes(b"")
    env = {**os.environ, "DAGSTER_PIPES_MESSAGES": encode_param({"path": str(target)})}
    gc.collect()
    start = time.perf_counter()
    subprocess.run([*CHILD, str(source)], env=env, check=True)
    for line in target.read_bytes().splitlines():
        orjson.loads(line)
    return time.perf_counter() - start


def run_checked(workload: Workload, count: int, side: str, client: Any, context: Any) -> Replay:
    """:func:`run_client` over ``count`` messages of ``workload``; raise unless all were delivered."""
    return delivered_by(side, workload, count, lambda: run_client(client, context, prewritten(workload, count)))


def compare(workload: Workload, rounds: int) -> Goal:
    """Best ``run`` to results of each side over ``rounds`` interleaved rounds (Dagster first)."""
    count = workload.count
    prewritten(workload, count)
    best: dict[str, float] = {}
    with clients() as by_side:
        for _ in range(rounds):
            for side, (client, context) in by_side.items():
                replay = run_checked(workload, count, side, client, context)
                best[side] = min(best.get(side, float("inf")), replay.seconds)
                if side == CORE:
                    best[CONVERSION] = min(best.get(CONVERSION, float("inf")), conversion_seconds(replay.results))
                    best[FLOOR] = min(best.get(FLOOR, float("inf")), floor_seconds(prewritten(workload, count)))
                del replay  # freed before the next run, outside its timing
    goal = Goal(
        f"PipesSubprocessClient, {count:,} {workload.name}",
        "dagster.PipesSubprocessClient",
        "pipes_fast.dagster.PipesSubprocessClient",
        workload.target,
    )
    goal.baseline_seconds, goal.candidate_seconds = best[BASELINE], best[CANDIDATE]
    per_message = ", ".join(f"{side} {best[side] / count * 1e6:.2f} us" for side in (BASELINE, CANDIDATE, CORE))
    print(
        f"  {count:,} {workload.name}, best of {rounds} rounds, per message: {per_message}; {CANDIDATE} "
        f"{best[CANDIDATE] * 1e3:.1f} ms = converting into Dagster's types {best[CONVERSION] * 1e3:.1f} ms "
        f"(timed apart on the core client's results) + the rest {(best[CANDIDATE] - best[CONVERSION]) * 1e3:.1f} ms; "
        f"{best[CANDIDATE] / best[FLOOR]:.2f}x the floor (the child alone + a bare read/split/orjson.loads loop, "
        f"{best[FLOOR] * 1e3:.1f} ms)",
        file=sys.stderr,
        flush=True,
    )
    return goal


def measure_client_custom_messages(rounds: int) -> Goal:
    """200k small custom messages, at least 5x Dagster's client; ``min(rounds, MAX_ROUNDS)`` rounds."""
    return compare(CLIENT_CUSTOM_MESSAGES, min(rounds, MAX_ROUNDS))


def measure_client_materializations(rounds: int) -> Goal:
    """50k materializations with two metadata entries, at least 1.5x Dagster's client;
    ``min(rounds, MAX_ROUNDS)`` rounds."""
    return compare(CLIENT_MATERIALIZATIONS, min(rounds, MAX_ROUNDS))
