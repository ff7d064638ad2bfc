"""Goals of issue 12: the stdio transport picks messages out of ordinary output at framing speed.

The stream is what a script printing as it reports writes to stdout: 200k custom messages, each
after a line of ordinary output, cut into 16 KiB reads (``pipes_fast.benchmarks.throughput``'s
``interleaved_pieces``, which ``pipes-fast bench`` measures too). The candidate is the public
path: ``PipesStdioMessageReader.feed`` in an open session, the messages handled (payloads kept,
as ``get_custom_messages`` needs) and the output returned.

- Against the floor (``demux_floor``: split, ``orjson.loads`` and keep the message lines, join
  the rest back into output): within 1.3x.
- Against Dagster's own stdio handling (``dagster_stdio``: ``extract_message_or_forward_to_file``
  for each line, with Dagster's handler, output to ``/dev/null``; what dagster-ray does with each
  chunk of a Ray job's log): at least 5x. Measured 8.4-9.2x on this machine (about 1 us a
  message against Dagster's 8.5-9.5 us; about a quarter of ours is the collector walking the payloads kept
  for ``get_custom_messages``, which Dagster's side pays too).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from timing import Goal, best_of

import pipes_fast
from pipes_fast.benchmarks.throughput import dagster_stdio, demux_floor, interleaved_pieces

COUNT = 200_000
MAX_DAGSTER_ROUNDS = 3
"""Dagster's side takes seconds a round."""

CANDIDATE = "PipesStdioMessageReader.feed"


def stdio_reader(pieces: list[bytes], count: int) -> Callable[[], None]:
    """``PipesStdioMessageReader.feed`` over the pieces in a session of its own."""
    quiet = logging.getLogger("pipes_fast.bench.stdio")
    quiet.setLevel(logging.ERROR)

    def demux() -> None:
        reader = pipes_fast.PipesStdioMessageReader()
        context = pipes_fast.StepContext(log=quiet)
        with pipes_fast.open_pipes_session(context, pipes_fast.PipesEnvContextInjector(), reader) as session:
            for piece in pieces:
                reader.feed(piece)
        if len(session.get_custom_messages()) != count:
            raise RuntimeError("the stdio reader lost messages")

    return demux


def measure_stdio_vs_floor(rounds: int, count: int = COUNT) -> Goal:
    goal = Goal(
        f"stdio transport, {count // 1000}k custom messages among output",
        "bare split+orjson.loads+join loop",
        CANDIDATE,
        1 / 1.3,
    )
    pieces = interleaved_pieces(count)
    goal.baseline_seconds, goal.candidate_seconds = best_of(
        rounds, lambda: demux_floor(pieces), stdio_reader(pieces, count)
    )
    return goal


def measure_stdio_vs_dagster(rounds: int, count: int = COUNT) -> Goal:
    goal = Goal(
        f"stdio transport, {count // 1000}k custom messages among output",
        "Dagster's extract_message_or_forward_to_file per line",
        CANDIDATE,
        5.0,
    )
    pieces = interleaved_pieces(count)
    rounds = min(rounds, MAX_DAGSTER_ROUNDS)
    goal.baseline_seconds, goal.candidate_seconds = best_of(
        rounds, dagster_stdio(pieces, count), stdio_reader(pieces, count)
    )
    return goal
