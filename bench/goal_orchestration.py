"""Goals of issue 3: pipes_fast's session against Dagster's own, reading the same pre-written file.

Each goal writes a complete message file once per bench run (``opened``, the messages, ``closed``,
one ``json.dumps`` line each, as dagster-pipes' file writer does) and replays it through a session
of each side (:func:`dagster_baseline.replay_session`): Dagster's ``PipesFileMessageReader`` and
``PipesMessageHandler`` inside a live ``dagster.materialize`` asset body, and pipes_fast's with a
``StepContext`` for the same asset keys. Only the session (open to results) is timed, and every
round checks that the side delivered all the messages.

Dagster takes about 9 s a round on these workloads, so these goals run ``min(rounds, 3)``
interleaved rounds and compare the best round of each side.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from dagster_baseline import Replay, dagster_asset_context, replay_session
from streams import (
    ASSET_KEYS,
    materialization_messages,
    pipes_session_stream,
    small_custom_messages,
    write_message_file,
)
from timing import Goal

MAX_ROUNDS = 3
"""Rounds per goal at most: a Dagster round of either workload takes about 9 s."""


@dataclass(frozen=True)
class Workload:
    """A message stream to replay, how many messages it has, and how to count what a side delivered."""

    name: str
    count: int
    target: float
    messages: Callable[[int], Iterator[Any]]
    delivered: Callable[[Replay], int]


def _custom_messages_delivered(replay: Replay) -> int:
    return len(replay.custom_messages)


def _materializations_delivered(replay: Replay) -> int:
    """Results carrying both metadata entries and a data version: what the handler built from the stream."""
    return sum(1 for r in replay.results if r.data_version is not None and len(r.metadata or {}) == 2)


CUSTOM_MESSAGES = Workload("small custom messages", 1_000_000, 5.0, small_custom_messages, _custom_messages_delivered)
MATERIALIZATIONS = Workload(
    "materializations with 2 metadata entries",
    200_000,
    15.0,
    materialization_messages,
    _materializations_delivered,
)

_workdir: tempfile.TemporaryDirectory[str] | None = None
_prewritten: dict[tuple[str, int], Path] = {}


def workdir() -> Path:
    """This bench run's temporary folder (removed at exit)."""
    global _workdir
    if _workdir is None:
        _workdir = tempfile.TemporaryDirectory(prefix="pipes-bench-")
    return Path(_workdir.name)


def prewritten(workload: Workload, count: int) -> Path:
    """The complete message file of ``count`` messages of ``workload``, written once per bench run."""
    key = (workload.name, count)
    if key not in _prewritten:
        path = workdir() / f"prewritten-{len(_prewritten)}.jsonl"
        write_message_file(path, pipes_session_stream(workload.messages(count)))
        _prewritten[key] = path
    return _prewritten[key]


@contextmanager
def sides(asset_keys: tuple[str, ...] = ASSET_KEYS) -> Iterator[dict[str, tuple[ModuleType, Any]]]:
    """``{"dagster": (dagster, live asset context), "pipes_fast": (pipes_fast, StepContext)}`` for ``asset_keys``."""
    import dagster

    import pipes_fast

    with dagster_asset_context(asset_keys) as context:
        yield {
            "dagster": (dagster, context),
            "pipes_fast": (pipes_fast, pipes_fast.StepContext(asset_keys=list(asset_keys))),
        }


def all_delivered(replay: Replay, workload: Workload, count: int, side: str) -> Replay:
    """``replay``, unless ``side`` delivered fewer than the ``count`` messages of ``workload`` sent."""
    delivered = workload.delivered(replay)
    if delivered != count:
        raise AssertionError(f"{side} delivered {delivered} of {count} {workload.name}")
    return replay


DAGSTER_ATTEMPTS = 3
"""Replays of Dagster's side at most: its reader (1.13's ``tail_file``: ``readline`` with no check for
the newline) stops for good at a line it reads while the copy is still writing it, a page at a
time, and delivers nothing after. Such a run is Dagster's failure, not a figure: it is replayed."""


def delivered_by(side: str, workload: Workload, count: int, run: Callable[[], Replay]) -> Replay:
    """What ``run`` gave back; raise unless it delivered the ``count`` messages of ``workload``
    (Dagster's side runs up to :data:`DAGSTER_ATTEMPTS` times first)."""
    replay = run()
    for _ in range(DAGSTER_ATTEMPTS - 1 if side == "dagster" else 0):
        if workload.delivered(replay) == count:
            break
        replay = run()
    return all_delivered(replay, workload, count, side)


def replay_checked(workload: Workload, count: int, api: ModuleType, context: Any, target: Path) -> Replay:
    """Replay ``count`` messages of ``workload`` through ``api``'s session; raise unless all were delivered."""
    return delivered_by(
        api.__name__, workload, count, lambda: replay_session(api, context, prewritten(workload, count), target)
    )


def compare(workload: Workload, rounds: int) -> Goal:
    """Best session time of each side over ``rounds`` interleaved rounds (Dagster first)."""
    count = workload.count
    prewritten(workload, count)
    best = {"dagster": float("inf"), "pipes_fast": float("inf")}
    with sides() as by_name:
        for _ in range(rounds):
            for name, (api, context) in by_name.items():
                replay = replay_checked(workload, count, api, context, workdir() / f"{name}.jsonl")
                best[name] = min(best[name], replay.seconds)
                del replay  # freed before the next round, outside its timing
    goal = Goal(
        f"session over {count:,} {workload.name}",
        "Dagster PipesFileMessageReader + PipesMessageHandler",
        "pipes_fast",
        workload.target,
    )
    goal.baseline_seconds, goal.candidate_seconds = best["dagster"], best["pipes_fast"]
    rates = ", ".join(f"{name} {count / seconds:,.0f} msg/s" for name, seconds in best.items())
    print(f"  {count:,} {workload.name}, best of {rounds} rounds: {rates}", file=sys.stderr, flush=True)
    return goal


def measure_custom_messages(rounds: int) -> Goal:
    """1M small custom messages, at least 5x Dagster's throughput; ``min(rounds, 3)`` rounds."""
    return compare(CUSTOM_MESSAGES, min(rounds, MAX_ROUNDS))


def measure_materializations(rounds: int) -> Goal:
    """200k materializations with two metadata entries, at least 15x Dagster's; ``min(rounds, 3)`` rounds."""
    return compare(MATERIALIZATIONS, min(rounds, MAX_ROUNDS))
