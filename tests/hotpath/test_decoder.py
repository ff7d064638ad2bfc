"""Decoding message lines (``MessageRouter.route_lines``), on both implementations."""

from __future__ import annotations

import json
import math

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipes_fast.protocol import EXCERPT_CHARS, BadLine, make_message

GOOD = orjson.dumps(make_message("log", {"message": "hi", "level": "INFO"}))


def decode(module, lines, first=1):
    """The messages the router passes on (every line here is a method it does not handle itself)
    and the lines it reported as not messages."""
    seen, warnings = [], []
    bad = module.MessageRouter(None, seen.append, warnings.append).route_lines(lines, first)
    return seen, bad


def test_messages_come_out_in_order(hotpath):
    lines = [orjson.dumps(make_message("log", {"message": i})) for i in range(5)]
    messages, bad = decode(hotpath, lines)
    assert [m["params"]["message"] for m in messages] == [0, 1, 2, 3, 4]
    assert bad == []


def test_garbage_is_reported_with_its_line_and_the_rest_still_decodes(hotpath):
    lines = [GOOD, b"not json", b"[1, 2]", b'{"method": "log"}', b"\xff\xfe{}", GOOD, b'{"a": ', GOOD]
    messages, bad = decode(hotpath, lines, 10)
    assert messages == [orjson.loads(GOOD)] * 3
    assert [b.line for b in bad] == [11, 12, 13, 14, 16]
    reasons = [b.reason for b in bad]
    assert reasons[0].startswith("invalid JSON")
    assert reasons[1] == "not a JSON object (got list)"
    assert "__dagster_pipes_version" in reasons[2]
    assert reasons[3].startswith("invalid JSON")  # invalid UTF-8
    assert bad[0].excerpt == "not json"
    assert bad[3].excerpt == "\\xff\\xfe{}"
    assert all(isinstance(b, BadLine) for b in bad)
    assert str(bad[0]).startswith("line 11: invalid JSON")


def test_excerpts_stay_short(hotpath):
    messages, bad = decode(hotpath, [b"x" * 100_000])
    assert messages == []
    assert len(bad[0].excerpt) == EXCERPT_CHARS + 3
    assert bad[0].excerpt.endswith("...")


def test_an_empty_batch(hotpath):
    assert decode(hotpath, []) == ([], [])


def test_version_field_with_any_method_passes_the_decoder(hotpath):
    # decoding checks framing-level shape only; methods are the handler's business
    line = b'{"__dagster_pipes_version": "0.1", "method": "nope", "params": null}'
    messages, bad = decode(hotpath, [line])
    assert messages == [{"__dagster_pipes_version": "0.1", "method": "nope", "params": None}]


@settings(max_examples=300)
@given(
    lines=st.lists(st.binary(max_size=60) | st.just(GOOD) | st.just(b"{}"), max_size=10), first=st.integers(1, 10**9)
)
def test_implementations_agree_on_garbage(both, lines, first):
    compiled, pure = both
    assert decode(compiled, lines, first) == decode(pure, lines, first)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b'{"__dagster_pipes_version": "0.1", "n": NaN, "i": Infinity, "m": -Infinity}', None),
        (b'{"__dagster_pipes_version": "0.1", "big": 1180591620717411303424}', 1180591620717411303424),
        (b'{"__dagster_pipes_version": "0.1", "big": -9223372036854775809}', -9223372036854775809),
        (b'{"__dagster_pipes_version": "0.1", "big": 18446744073709551616}', 18446744073709551616),
        (b'{"__dagster_pipes_version": "0.1", "s": "\\ud800"}', "\ud800"),
        (b'{"__dagster_pipes_version": "0.1", "s": "12345678901234567890123"}', "12345678901234567890123"),
    ],
)
def test_values_orjson_cannot_hold_exactly_are_parsed_as_dagster_does(hotpath, text, expected):
    (message,), bad = decode(hotpath, [text])
    assert bad == []
    assert message == json.loads(text)
    if isinstance(expected, int):
        assert message["big"] == expected and type(message["big"]) is int
    if text.find(b"NaN") > 0:
        assert math.isnan(message["n"]) and message["i"] == math.inf and message["m"] == -math.inf


@settings(max_examples=500)
@given(parts=st.lists(st.sampled_from(["0", "7", "-", " ", ",", "[", "]", "1234567890", "9" * 19]), max_size=30))
def test_integers_of_any_size_in_any_position(both, parts):
    # whatever digit runs a line holds, both implementations parse it as Python's json does
    text = "".join(parts)
    line = b'{"__dagster_pipes_version": "0.1", "v": [' + text.encode() + b'], "s": "' + text.encode() + b'"}'
    compiled, pure = both
    assert decode(compiled, [line]) == decode(pure, [line])
    try:
        expected = json.loads(line)
    except ValueError:
        return
    assert decode(compiled, [line]) == ([expected], [])


@settings(max_examples=200)
@given(number=st.integers(min_value=-(10**30), max_value=10**30))
def test_any_integer_survives_exactly(hotpath, number):
    line = b'{"__dagster_pipes_version": "0.1", "n": %d}' % number
    (message,), _ = decode(hotpath, [line])
    assert message["n"] == number and type(message["n"]) is int
