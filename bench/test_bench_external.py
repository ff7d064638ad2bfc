"""pytest-benchmark suites for the external side, beside dagster_pipes:
``pytest bench/test_bench_external.py --benchmark-group-by=group``."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import dagster_pipes
import goal_writer_floor
import pytest
from goal_external import open_context, small_messages, written_lines

import pipes_fast.external
from pipes_fast.benchmarks.throughput import bare_writes, write_all
from pipes_fast.external import writers

MESSAGES = small_messages(2_000)
PAYLOADS = [message["params"]["payload"] for message in MESSAGES]
SIDES = {"pipes_fast.external": pipes_fast.external, "dagster_pipes": dagster_pipes}


@pytest.mark.benchmark(group="file channel: write_message, 2k small messages")
@pytest.mark.parametrize("side", SIDES)
def test_file_channel(benchmark: Any, tmp_path: Path, side: str) -> None:
    channel = SIDES[side].PipesFileMessageWriterChannel(str(tmp_path / "messages.jsonl"))
    benchmark(partial(write_all, channel, MESSAGES))


@pytest.mark.benchmark(group="file channel vs the write floor: 2k small messages after the switch to orjson")
@pytest.mark.parametrize("side", ["pipes_fast.external", "os.write loop"])
def test_write_floor(benchmark: Any, tmp_path: Path, side: str) -> None:
    path = str(tmp_path / "messages.jsonl")
    with pipes_fast.external.PipesFileMessageWriterChannel(path) as channel:
        write_all(channel, small_messages(writers.ORJSON_AFTER))  # past the switch to orjson
        if side == "pipes_fast.external":
            benchmark(partial(write_all, channel, MESSAGES))
            return
        lines = written_lines(channel, path, MESSAGES)
    fd = os.open(tmp_path / "floor.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        benchmark(partial(bare_writes, fd, lines))
    finally:
        os.close(fd)


@pytest.mark.benchmark(group="file channel, buffered: write_message, 2k small messages, then flush")
def test_buffered_file_channel(benchmark: Any, tmp_path: Path) -> None:
    with pipes_fast.external.PipesFileMessageWriterChannel(str(tmp_path / "messages.jsonl"), buffered=True) as channel:
        benchmark(partial(write_all, channel, MESSAGES))


@pytest.mark.benchmark(group="context: report_custom_message, 2k small payloads")
@pytest.mark.parametrize("side", SIDES)
def test_report_custom_message(benchmark: Any, tmp_path: Path, side: str) -> None:
    module: ModuleType = SIDES[side]
    with open_context(module, str(tmp_path / "messages.jsonl")) as context:
        report = context.report_custom_message
        benchmark(lambda: [report(payload) for payload in PAYLOADS])


@pytest.mark.benchmark(group="context: log.info, 2k records")
@pytest.mark.parametrize("side", SIDES)
def test_log(benchmark: Any, tmp_path: Path, side: str) -> None:
    with open_context(SIDES[side], str(tmp_path / "messages.jsonl")) as context:
        info = context.log.info
        benchmark(lambda: [info("processed item %d", index) for index in range(2_000)])


@pytest.mark.parametrize("shape", goal_writer_floor.SHAPES)
def test_report_loop_beside_the_write_floor(shape: str) -> None:
    """``goal_writer_floor``'s measurement, small: each side writes every row of every round, and
    the ratios are figures (their size is the goal's, measured by ``python bench/goals.py``)."""
    found = goal_writer_floor.timed_rounds(shape, 300, 2)
    assert found.lines_written == {side: [300, 300] for side in goal_writer_floor.SIDES}
    assert found.line_bytes > (1000 if shape == "1 KB" else 100)
    assert all(0 < found.ratio_to_floor(side) < float("inf") for side in ("pipes_fast", "dagster_pipes"))
    assert "pipes_fast" in found.summary()
