"""Smoke and benchmark suites of issue 10's orchestration-side figures: a session around a
trivial child (``goal_session``), the file reader's work against the bare loop (``goal_reader``),
and the garbage collector's cost to consumers (``gc_remedy``).

    pytest bench/test_bench_session.py --benchmark-group-by=group

Under ``--benchmark-disable`` (CI) each runs once, checking that every side works and every
message arrives; the figures themselves come from ``python bench/goals.py`` and
``python bench/experiments/gc_remedy.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gc_remedy import MODES, list_payloads, session_seconds
from goal_reader import COUNT, bare_loop, reader_loop
from goal_session import CHILD
from streams import materialization_messages, pipes_session_stream, small_custom_messages, write_message_file
from timing import BENCH_ROUNDS, SCALE_DOWN, bench_count

import pipes_fast

GC_STREAM = 1_000_000
"""Messages of the garbage-collector workload (as ``gc_remedy.py``), before ``bench_count``."""


def test_session_around_a_trivial_child(benchmark: Any) -> None:
    benchmark.group = "session around `true`"
    client, step = pipes_fast.PipesSubprocessClient(), pipes_fast.StepContext()
    benchmark.pedantic(client.run, kwargs={"context": step, "command": CHILD}, rounds=BENCH_ROUNDS * 10, iterations=1)


@pytest.mark.parametrize(
    "messages", [small_custom_messages, materialization_messages], ids=["custom", "materializations"]
)
@pytest.mark.parametrize("loop", [bare_loop, reader_loop], ids=["bare loop", "reader"])
def test_file_reader_against_the_bare_loop(benchmark: Any, tmp_path: Path, messages: Any, loop: Any) -> None:
    count = bench_count(benchmark, COUNT * SCALE_DOWN)
    benchmark.group = f"file reader, {count:,} {messages.__name__}"
    path = tmp_path / "messages.jsonl"
    write_message_file(path, pipes_session_stream(messages(count)))
    benchmark.pedantic(loop(path), rounds=BENCH_ROUNDS, iterations=1)


@pytest.mark.parametrize("mode", list(MODES))
def test_consumers_and_the_garbage_collector(benchmark: Any, tmp_path: Path, mode: str) -> None:
    count = bench_count(benchmark, GC_STREAM)
    benchmark.group = f"{count:,} custom messages with list payloads, by consumer"
    source = tmp_path / "stream.jsonl"
    write_message_file(source, pipes_session_stream(list_payloads(count)))
    consume, paused = MODES[mode]
    benchmark.pedantic(
        session_seconds, args=(source, tmp_path / "messages", count, consume, paused), rounds=BENCH_ROUNDS, iterations=1
    )
