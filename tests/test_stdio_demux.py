"""The stdio demultiplexer (Pipes messages among ordinary output), on both implementations."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipes_fast.testing import adversarial_streams, message_lines, message_streams, split_writes

KEY = b'"__dagster_pipes_version"'
MESSAGE = b'{"__dagster_pipes_version": "0.1", "method": "log", "params": {"message": "m", "level": "INFO"}}'


def demux_all(demux, pieces):
    """Every message and the whole output, feeding ``pieces`` one by one, then flushing."""
    messages, output = [], []
    for piece in [*pieces, None]:
        got, out = demux.feed(piece) if piece is not None else demux.flush()
        messages.extend(got)
        output.append(out)
    return messages, b"".join(output)


def reference(data, max_line_bytes):
    """What the demultiplexer must make of ``data`` as a whole: the contract, line by line."""
    messages, output, truncated = [], [], 0
    lines = data.split(b"\n")
    for number, line in enumerate(lines):
        last = number == len(lines) - 1
        if last and not line:
            break
        text = line[:-1] if line.endswith(b"\r") else line
        if text.lstrip(b" \t").startswith(b"{") and KEY in text[:max_line_bytes]:
            messages.append(text[:max_line_bytes])
            truncated += len(text) > max_line_bytes
        else:
            output.append(line if last else line + b"\n")
    return messages, b"".join(output), truncated


output_lines = st.binary(max_size=40).filter(lambda line: b"\n" not in line and KEY not in line) | st.sampled_from(
    [b"", b"\r", b"{", b"  {not a message}", b"\t{\"__dagster_pipes_versio\"", b"\xff\xfe{", b"plain text\r"]
)


@st.composite
def interleaved(draw):
    """(the stream, its message lines, its output bytes): messages and output lines mixed."""
    message_part = draw(st.lists(message_lines(), max_size=8) | message_streams(max_messages=6).map(
        lambda case: case.data.splitlines(keepends=True)))
    parts = [("message", line) for line in message_part]
    parts += [("output", line + b"\n") for line in draw(st.lists(output_lines, max_size=12))]
    parts = draw(st.permutations(parts))
    crlf = draw(st.booleans())
    stream, messages, output = [], [], []
    for kind, line in parts:
        if kind == "message":
            messages.append(line[:-1])
            line = line[:-1] + b"\r\n" if crlf else line
        else:
            output.append(line)
        stream.append(line)
    if output and draw(st.booleans()) and parts[-1][0] == "output":  # the last line without its newline
        stream[-1], output[-1] = stream[-1][:-1], output[-1][:-1]
    return b"".join(stream), messages, b"".join(output)


@settings(max_examples=200)
@given(case=interleaved(), data=st.data())
def test_messages_and_output_come_apart_under_any_split(hotpath, case, data):
    stream, messages, output = case
    assert demux_all(hotpath.StdioDemux(), data.draw(split_writes(stream))) == (messages, output)


@settings(max_examples=200)
@given(case=adversarial_streams(), limit=st.sampled_from([30, 100, 1000, 50_000]), data=st.data())
def test_adversarial_streams_follow_the_contract_under_any_split(both, case, limit, data):
    pieces = data.draw(split_writes(case.data))
    messages, output, truncated = reference(case.data, limit)
    for module in both:
        demux = module.StdioDemux(limit)
        assert demux_all(demux, pieces) == (messages, output)
        assert demux.truncated_lines == truncated
        assert demux.pending == 0


@given(stream=st.lists(st.sampled_from([MESSAGE, b"{", b" ", b"x", b"\r", b"\n", b"\xff", KEY]), max_size=40).map(b"".join),
       data=st.data())
def test_both_implementations_return_the_same_for_every_write(both, stream, data):
    pieces = data.draw(split_writes(stream, max_writes=24))
    compiled, pure = (module.StdioDemux(48) for module in both)
    for piece in pieces:
        assert compiled.feed(piece) == pure.feed(piece)
        assert (compiled.pending, compiled.truncated_lines) == (pure.pending, pure.truncated_lines)
    assert compiled.flush() == pure.flush()


def test_plain_output_is_forwarded_at_once(hotpath):
    demux = hotpath.StdioDemux()
    assert demux.feed(b"progress: 10%") == ([], b"progress: 10%")
    assert demux.feed(b"\rprogress: 20%") == ([], b"\rprogress: 20%")
    assert demux.pending == 0


def test_a_line_that_may_be_a_message_waits_for_its_newline(hotpath):
    demux = hotpath.StdioDemux()
    assert demux.feed(b"out\n  ") == ([], b"out\n")
    assert demux.feed(MESSAGE[:10]) == ([], b"")
    assert demux.pending == 12
    assert demux.feed(MESSAGE[10:] + b"\r\nafter") == ([b"  " + MESSAGE], b"after")
    assert demux.feed(b"\n {json: 1}\n") == ([], b"\n {json: 1}\n")


def test_blanks_then_output_are_output(hotpath):
    demux = hotpath.StdioDemux()
    assert demux.feed(b" \t") == ([], b"")
    assert demux.feed(b" x") == ([], b" \t x")


def test_flush_ends_the_last_line(hotpath):
    demux = hotpath.StdioDemux()
    assert demux.feed(MESSAGE) == ([], b"")
    assert demux.flush() == ([MESSAGE], b"")
    assert demux.feed(b"{unfinished") == ([], b"")
    assert demux.flush() == ([], b"{unfinished")
    assert demux.flush() == ([], b"")


def test_invalid_utf8_passes_through_untouched(hotpath):
    demux = hotpath.StdioDemux()
    assert demux.feed(b"\xff\xfe\n{\xc3(\n" + MESSAGE[:-1] + b"\xed\xa0\x80}\n") == (
        [MESSAGE[:-1] + b"\xed\xa0\x80}"], b"\xff\xfe\n{\xc3(\n")


def test_a_huge_output_line_is_forwarded_whole(hotpath):
    demux = hotpath.StdioDemux(64)
    line = b"{" + b"y" * 10_000 + b"\n"
    messages, output = demux_all(demux, [line[i:i + 1000] for i in range(0, len(line), 1000)])
    assert (messages, output, demux.truncated_lines) == ([], line, 0)


def test_a_message_over_the_limit_is_cut_and_counted(hotpath):
    demux = hotpath.StdioDemux(64)
    huge = MESSAGE[:-1] + b', "pad": "' + b"z" * 5000 + b'"}'
    for pieces in ([huge + b"\nnext\n"], [huge[:100], huge[100:] + b"\nnext\n"]):
        assert demux_all(demux, pieces) == ([huge[:64]], b"next\n")
    assert demux.truncated_lines == 2


def test_bytes_like_input(hotpath):
    demux = hotpath.StdioDemux()
    assert demux.feed(bytearray(MESSAGE + b"\nx")) == ([MESSAGE], b"x")
    assert demux.feed(memoryview(b"y\n")) == ([], b"y\n")
