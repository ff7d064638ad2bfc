"""pytest-benchmark suites for the hot path: ``pytest bench/ --benchmark-group-by=group``."""

from __future__ import annotations

import orjson
import pytest
from streams import as_pieces, custom_message_lines

from pipes_fast._logic import codec as _codec

LINES = custom_message_lines(100_000)
PIECES = as_pieces(LINES)
PARAMS = {"path": "/tmp/pipes/messages.jsonl", "include_stdio_in_messages": True, "extras": {"k": list(range(50))}}


def frame_and_decode(hotpath, pieces):
    framer = hotpath.LineFramer()
    router = hotpath.MessageRouter(None, list.append, print)
    count = 0
    for piece in pieces:
        router.route_lines(framer.feed(piece))
        count += len(router.custom_messages)
        router.custom_messages.clear()  # a consumer drains as messages come
    return count


@pytest.mark.benchmark(group="frame+route 100k custom messages")
def test_frame_and_decode(benchmark, hotpath):
    assert benchmark(frame_and_decode, hotpath, PIECES) == len(LINES)


@pytest.mark.benchmark(group="frame+route 100k custom messages")
def test_bare_orjson_loop_over_presplit_lines(benchmark):
    def bare():
        loads = orjson.loads
        for line in LINES:
            loads(line)

    benchmark(bare)


@pytest.mark.benchmark(group="bootstrap codec")
def test_codec_round_trip(benchmark):
    assert benchmark(lambda: _codec.decode_param(_codec.encode_param(PARAMS))) == PARAMS
