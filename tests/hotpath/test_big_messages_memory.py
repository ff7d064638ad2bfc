"""One big message costs the orchestrator no more memory with pipes_fast.dagster's client than with
Dagster's own (issue 20, item 6), and a huge line is decoded like any other.

Each side runs a real ``dagster.materialize`` in a fresh process whose child (dagster-pipes) sends
one 32 MB message; the figure is that process's peak resident set over its size just before the
message (``pipes_fast.benchmarks.big_messages``). Runs on the hot-path implementation in use;
the router's handling of huge lines (``pipes_fast._logic.huge``) is tested on both.
"""

from __future__ import annotations

import json

import pytest

from pipes_fast import EXTENSION, AssetKey
from pipes_fast._logic.huge import HUGE_LINE_BYTES
from pipes_fast.benchmarks.big_messages import environment, measure
from pipes_fast.protocol import make_message

SIZE = 32 << 20
TOLERANCE = 2 << 20
"""What the measurement itself varies by: repeated runs of one side differ by under 1 MB (pages
the allocator keeps or returns); at 32 MB, the pipes_fast side was 14 MB (payload) and 32 MB (log
line) under Dagster's when this was written, and one more copy of the message would be 32 MB over."""

pytestmark = [pytest.mark.reliability("big-message-memory"), pytest.mark.timeout(600)]


@pytest.mark.parametrize("kind", ["log", "custom"])
def test_peak_memory_of_one_big_message_is_no_more_than_dagsters(kind: str) -> None:
    env = environment(pure=not EXTENSION)
    dagster, ours = measure("dagster", kind, SIZE, env), measure("pipes_fast", kind, SIZE, env)
    assert ours <= dagster + TOLERANCE, f"peak growth: pipes_fast {ours >> 20} MB, Dagster {dagster >> 20} MB"


BIG_TEXT = "é" * (HUGE_LINE_BYTES // 2)  # two bytes a character: the line is over the limit


def huge_line(method: str, params: dict) -> bytes:
    line = json.dumps(make_message(method, params)).encode()
    assert len(line) >= HUGE_LINE_BYTES
    return line


def test_huge_lines_are_routed_like_any_other_and_let_go_of(hotpath):
    others: list = []
    router = hotpath.MessageRouter({"a": AssetKey(["a"])}, others.append, print)
    log = make_message("log", {"message": BIG_TEXT, "level": "INFO"})
    lines = [
        huge_line("report_custom_message", {"payload": {"text": BIG_TEXT, "big": 10**30, "nan": float("nan")}}),
        b'{"__dagster_pipes_version": "0.1", "method": "report_custom_message", "params": {"payload": 1}}',
        huge_line("log", log["params"]),
        huge_line(
            "report_asset_materialization",
            {"asset_key": "a", "metadata": {"t": {"raw_value": BIG_TEXT, "type": "text"}}},
        ),
    ]
    assert router.route_lines(lines, 5) == []
    big, small = router.custom_messages
    assert (big["text"], big["big"], small) == (BIG_TEXT, 10**30, 1) and big["nan"] != big["nan"]
    assert others == [log]
    (materialization,) = router.results
    assert materialization.asset_key == AssetKey(["a"]) and materialization.metadata["t"].value == BIG_TEXT
    assert [line is None for line in lines] == [True, False, True, True]  # not held while decoded


@pytest.mark.parametrize(
    "line, reason",
    [
        (b'{"a": "' + b"x" * HUGE_LINE_BYTES, "invalid JSON (Unterminated string"),
        (b'["' + b"x" * HUGE_LINE_BYTES + b'"]', "not a JSON object (got list)"),
        (b'{"method": "log", "x": "' + b"x" * HUGE_LINE_BYTES + b'"}', "JSON object without a"),
        (b'"\xff' + b"x" * HUGE_LINE_BYTES + b'"', "invalid JSON ('utf-8' codec can't decode byte 0xff"),
    ],
    ids=["torn", "list", "no version", "not utf-8"],
)
def test_a_huge_line_that_is_not_a_message_is_reported_and_the_stream_goes_on(hotpath, line, reason):
    others: list = []
    good = json.dumps(make_message("log", {"message": "after"})).encode()
    bad = hotpath.MessageRouter(None, others.append, print).route_lines([line, good], 3)
    assert [(b.line, b.reason[: len(reason)], b.excerpt[-3:]) for b in bad] == [(3, reason, "...")]
    assert others == [json.loads(good)]
