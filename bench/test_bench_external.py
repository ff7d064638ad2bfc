"""pytest-benchmark suites for the external side, beside dagster_pipes:
``pytest bench/test_bench_external.py --benchmark-group-by=group``."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import dagster_pipes
import pytest

import pipes_fast.external
from goal_external import open_context, small_messages, writing

MESSAGES = small_messages(2_000)
PAYLOADS = [message["params"]["payload"] for message in MESSAGES]
SIDES = {"pipes_fast.external": pipes_fast.external, "dagster_pipes": dagster_pipes}


@pytest.mark.benchmark(group="file channel: write_message, 2k small messages")
@pytest.mark.parametrize("side", SIDES)
def test_file_channel(benchmark, tmp_path: Path, side: str) -> None:
    channel = SIDES[side].PipesFileMessageWriterChannel(str(tmp_path / "messages.jsonl"))
    benchmark(writing(channel, MESSAGES))


@pytest.mark.benchmark(group="context: report_custom_message, 2k small payloads")
@pytest.mark.parametrize("side", SIDES)
def test_report_custom_message(benchmark, tmp_path: Path, side: str) -> None:
    module: ModuleType = SIDES[side]
    with open_context(module, str(tmp_path / "messages.jsonl")) as context:
        report = context.report_custom_message
        benchmark(lambda: [report(payload) for payload in PAYLOADS])


@pytest.mark.benchmark(group="context: log.info, 2k records")
@pytest.mark.parametrize("side", SIDES)
def test_log(benchmark, tmp_path: Path, side: str) -> None:
    with open_context(SIDES[side], str(tmp_path / "messages.jsonl")) as context:
        info = context.log.info
        benchmark(lambda: [info("processed item %d", index) for index in range(2_000)])
