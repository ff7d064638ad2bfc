"""The incremental line framer, on both implementations."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from support.strategies import encode_stream, messages, split_points


def feed_all(framer, pieces):
    lines = []
    for piece in pieces:
        lines.extend(framer.feed(piece))
    return lines + framer.flush()


def test_complete_lines_come_out_and_the_tail_waits(hotpath):
    framer = hotpath.LineFramer()
    assert framer.feed(b"one\ntwo\nthr") == [b"one", b"two"]
    assert framer.pending == 3
    assert framer.feed(b"ee") == []
    assert framer.feed(b"\nfour") == [b"three"]
    assert framer.flush() == [b"four"]
    assert framer.pending == 0


def test_crlf_and_blank_lines(hotpath):
    framer = hotpath.LineFramer()
    assert framer.feed(b"a\r\n\r\n\n\nb\r") == [b"a"]
    assert framer.feed(b"\n\n") == [b"b"]


def test_carriage_return_split_from_its_newline(hotpath):
    framer = hotpath.LineFramer()
    assert framer.feed(b"x\r") == []
    assert framer.feed(b"\ny") == [b"x"]


def test_split_inside_a_multibyte_character(hotpath):
    text = "héllo → wörld 🎉\n".encode()
    for cut in range(1, len(text)):
        framer = hotpath.LineFramer()
        assert framer.feed(text[:cut]) + framer.feed(text[cut:]) == [text[:-1]]


def test_accepts_bytearray_and_memoryview(hotpath):
    framer = hotpath.LineFramer()
    assert framer.feed(bytearray(b"a\nb")) == [b"a"]
    assert framer.feed(memoryview(b"c\n")) == [b"bc"]


def test_a_line_past_the_limit_is_cut_and_the_stream_goes_on(hotpath):
    framer = hotpath.LineFramer(max_line_bytes=10)
    lines = framer.feed(b"short\n" + b"x" * 25 + b"\nafter\n")
    assert lines == [b"short", b"x" * 10, b"after"]
    assert framer.truncated_lines == 1


def test_a_long_line_arriving_in_pieces_is_cut_without_holding_it_all(hotpath):
    framer = hotpath.LineFramer(max_line_bytes=100)
    out = []
    for _ in range(50):
        out += framer.feed(b"y" * 7)
        assert framer.pending <= 100
    out += framer.feed(b"y\nnext\n")
    assert out == [b"y" * 100, b"next"]
    assert framer.truncated_lines == 1


def test_many_small_pieces_of_one_big_line(hotpath):
    framer = hotpath.LineFramer()
    piece = b"z" * 1024
    for _ in range(4096):
        assert framer.feed(piece) == []
    assert framer.feed(b"\n") == [piece * 4096]


def test_rejects_a_nonpositive_limit(hotpath):
    import pytest

    with pytest.raises(ValueError):
        hotpath.LineFramer(max_line_bytes=0)


@settings(max_examples=200)
@given(data=st.data(), msgs=st.lists(messages(), max_size=20), crlf=st.booleans())
def test_any_split_of_any_message_stream_decodes_to_the_same_messages(hotpath, data, msgs, crlf):
    stream = encode_stream(msgs, crlf)
    pieces = data.draw(split_points(stream))
    framer = hotpath.LineFramer()
    assert feed_all(framer, pieces) == [orjson.dumps(m) for m in msgs]


@settings(max_examples=300)
@given(data=st.data(), stream=st.binary(max_size=300), limit=st.integers(1, 40))
def test_implementations_agree_on_arbitrary_bytes(both, data, stream, limit):
    compiled, pure = both
    pieces = data.draw(split_points(stream))
    framers = [compiled.LineFramer(limit), pure.LineFramer(limit)]
    outputs = [feed_all(f, pieces) for f in framers]
    assert outputs[0] == outputs[1]
    assert framers[0].truncated_lines == framers[1].truncated_lines
    assert outputs[0] == outputs[1]
