"""The stdio demultiplexer (Pipes messages among ordinary output), on both implementations."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
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


def is_message(text):
    """Dagster's rule (``extract_message_or_forward_to_file``): a JSON object with the version key
    among its top-level keys."""
    try:
        value = json.loads(text.decode("utf-8"))
    except (ValueError, RecursionError):
        return False
    return isinstance(value, dict) and "__dagster_pipes_version" in value


def key_at_top_level(prefix):
    """``prefix``, the start of an object too long to parse, has the key among its own keys."""
    depth, i = 0, 0
    while i < len(prefix):
        char = prefix[i : i + 1]
        if char == b'"':
            end = i + 1
            while end < len(prefix) and prefix[end : end + 1] != b'"':
                end += 2 if prefix[end : end + 1] == b"\\" else 1
            if depth == 1 and prefix[i : end + 1] == KEY and prefix[end + 1 :].lstrip(b" \t\r").startswith(b":"):
                return True
            i = end
        elif char in (b"{", b"["):
            depth += 1
        elif char in (b"}", b"]"):
            depth -= 1
            if depth == 0:
                return False
        i += 1
    return False


def reference(data, max_line_bytes):
    """What the demultiplexer must make of ``data`` as a whole: the contract, line by line."""
    messages, output, truncated = [], [], 0
    lines = data.split(b"\n")
    for number, line in enumerate(lines):
        last = number == len(lines) - 1
        if last and not line:
            break
        text = line[:-1] if line.endswith(b"\r") else line
        if len(text) > max_line_bytes:
            blanks = len(text) - len(text.lstrip(b" \t\r"))
            message = key_at_top_level(text[blanks:max_line_bytes])
        else:
            message = is_message(text)
        if message:
            messages.append(text[:max_line_bytes])
            truncated += len(text) > max_line_bytes
        else:
            output.append(line if last else line + b"\n")
    return messages, b"".join(output), truncated


output_lines = st.binary(max_size=40).filter(lambda line: b"\n" not in line and KEY not in line) | st.sampled_from(
    [b"", b"\r", b"{", b"  {not a message}", b'\t{"__dagster_pipes_versio"', b"\xff\xfe{", b"plain text\r"]
)


@st.composite
def interleaved(draw):
    """(the stream, its message lines, its output bytes): messages and output lines mixed."""
    message_part = draw(
        st.lists(message_lines(), max_size=8)
        | message_streams(max_messages=6).map(lambda case: case.data.splitlines(keepends=True))
    )
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


@given(
    stream=st.lists(st.sampled_from([MESSAGE, b"{", b" ", b"x", b"\r", b"\n", b"\xff", KEY]), max_size=40).map(
        b"".join
    ),
    data=st.data(),
)
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
    stream = b"\xff\xfe\n{\xc3(\n" + MESSAGE[:-1] + b"\xed\xa0\x80}\n"  # not UTF-8, so not JSON
    assert demux.feed(stream + MESSAGE + b"\n") == ([MESSAGE], stream)


def test_a_huge_output_line_is_forwarded_whole(hotpath):
    demux = hotpath.StdioDemux(64)
    line = b"{" + b"y" * 10_000 + b"\n"
    messages, output = demux_all(demux, [line[i : i + 1000] for i in range(0, len(line), 1000)])
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


LOOKALIKES = [
    b'{"data": {"__dagster_pipes_version": "0.1", "method": "log", "params": {}}}',  # the key nested
    b'{"note": "__dagster_pipes_version"}',  # the key as a value
    b'{"__dagster_pipes_version": "0.1", "method": broken',  # invalid JSON
    b'{"__dagster_pipes_version": "0.1"} trailing',  # an object, then more
    b'{"__dagster_pipes_version"}',
    b'{"k": 1, "__dagster_pipes_version"',
    b' {"__dagster_pipes_version": "0.1", "method": "log", "params": null',
    b"{'__dagster_pipes_version': '0.1'}",  # Python's repr, not JSON
    b'{"__dagster_pipes_version": "0.1", "a": "\\ud800\\"}',
    b'{"__dagster_pipes_version": "0.1", "t": "caf\xe9"}',  # not UTF-8
]


@pytest.mark.reliability("stdio-lookalikes")
@pytest.mark.parametrize("line", LOOKALIKES)
def test_a_line_that_only_looks_like_a_message_is_output_byte_for_byte(hotpath, line):
    stream = b"before\n" + line + b"\r\n" + MESSAGE + b"\n" + line
    demux = hotpath.StdioDemux()
    assert demux_all(demux, [stream]) == ([MESSAGE], b"before\n" + line + b"\r\n" + line)
    assert demux_all(demux, [bytes([b]) for b in stream]) == ([MESSAGE], b"before\n" + line + b"\r\n" + line)


@pytest.mark.reliability("stdio-lookalikes")
@pytest.mark.parametrize(
    "line",
    [
        b'{"__dagster_pipes_version": "0.1", "method": "no_such_method", "params": {}}',  # unknown method
        b'{"__dagster_pipes_version": "0.1", "method": "report_custom_message", "params": null}',  # bad params
        b'{"__dagster_pipes_version": 7}',  # no method at all
        b'{"method": "log", "params": {"m": {"__dagster_pipes_version": 1}}, "__dagster_pipes_version": "0.1"}',
        b'\r\t {"\\u005f_dagster_pipes_version": "0.1", "method": "x"}',  # the key escaped, JSON blanks first
        b'{"__dagster_pipes_version": NaN, "n": 123456789012345678901234567890}',  # what only Python's json reads
    ],
)
def test_a_top_level_version_object_is_a_message_whatever_its_method_or_params(hotpath, line):
    demux = hotpath.StdioDemux()
    assert demux_all(demux, [b"x\n" + line + b"\r\ny"]) == ([line], b"x\ny")


def test_a_long_line_is_judged_by_where_the_key_stands_in_its_first_bytes(hotpath):
    pad = b', "pad": "' + b"z" * 500 + b'"}'
    nested = b'{"a": {"__dagster_pipes_version": "0.1"}' + pad
    as_value = b'{"a": "\\"__dagster_pipes_version\\": 1"' + pad
    top = b'{"a": ["}"], "b": "{", "__dagster_pipes_version" : "0.1"' + pad
    for pieces in (lambda data: [data], lambda data: [data[i : i + 7] for i in range(0, len(data), 7)]):
        demux = hotpath.StdioDemux(64)
        stream = nested + b"\n" + as_value + b"\n" + top + b"\nnext\n"
        assert demux_all(demux, pieces(stream)) == ([top[:64]], nested + b"\n" + as_value + b"\nnext\n")
        assert demux.truncated_lines == 1


def lookalike_lines():
    """Lines near a message: cut, grown, mutated, nested or wrapped; some are messages still."""
    message = message_lines().map(lambda line: line.rstrip(b"\n"))
    cut = st.tuples(message, st.integers(1, 400)).map(lambda pair: pair[0][: -pair[1]])
    grown = st.tuples(message, st.sampled_from([b" x", b",", b"}", b"]", b"\x00", b" {}"])).map(b"".join)
    nested = message.map(lambda line: b'{"inner": ' + line + b"}")
    wrapped = message.map(lambda line: b"[" + line + b"]")
    as_value = message.map(lambda line: b'{"__dagster_pipes_versio": ' + json.dumps(line.decode()).encode() + b"}")

    def mutate(pair):
        line, (at, byte) = pair
        at %= len(line)
        return line[:at] + bytes([byte]) + line[at + 1 :]

    mutated = st.tuples(message, st.tuples(st.integers(0, 10_000), st.integers(0, 255))).map(mutate)
    lines = st.one_of(cut, grown, nested, wrapped, as_value, mutated, message)
    return lines.filter(lambda line: b"\n" not in line)


@pytest.mark.reliability("stdio-lookalikes")
@settings(max_examples=150, suppress_health_check=[HealthCheck.filter_too_much])
@given(lines=st.lists(lookalike_lines(), min_size=1, max_size=6), data=st.data())
def test_any_line_that_is_not_a_top_level_version_object_comes_out_byte_for_byte(hotpath, lines, data):
    stream = b"".join(line + b"\n" for line in lines)
    messages = [line.rstrip(b"\r") for line in lines if is_message(line)]
    output = b"".join(line + b"\n" for line in lines if not is_message(line))
    assume(output)
    assert demux_all(hotpath.StdioDemux(), data.draw(split_writes(stream))) == (messages, output)


@given(lines=st.lists(lookalike_lines(), min_size=1, max_size=6))
def test_lines_go_where_dagster_sends_them(hotpath, lines):
    """Dagster's own ``extract_message_or_forward_to_file`` over the same lines (as text) agrees.

    Lines of valid UTF-8 only: Dagster sees text, decoded by whoever reads the stream; bytes that
    are not UTF-8 are not JSON to pipes_fast (RFC 8259), so such a line is output, byte for byte,
    where a reader decoding with ``errors="replace"`` would hand Dagster a message."""
    utils = pytest.importorskip("dagster._core.pipes.utils")
    try:
        text = [line.decode("utf-8") for line in lines]
    except UnicodeDecodeError:
        assume(False)

    class Handler:
        handled = []

        def handle_message(self, message):
            self.handled.append(message)

    dagster_messages, dagster_output = [], io.StringIO()
    for line, decoded in zip(lines, text):
        handler = Handler()
        handler.handled = []
        utils.extract_message_or_forward_to_file(handler, decoded, dagster_output)
        if handler.handled:
            dagster_messages.append(line)
    ours, output = demux_all(hotpath.StdioDemux(), [b"".join(line + b"\n" for line in lines)])
    assert ours == dagster_messages
    assert output.decode("utf-8") == dagster_output.getvalue()


JSON_TOKENS = [
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b'"',
    KEY,
    b"1",
    b"-",
    b"0",
    b".",
    b"e",
    b"E+",
    b"true",
    b"nul",
    b"NaN",
    b" ",
    b"\t",
    b"\r",
    b"\\",
    b'\\"',
    b"\\u00",
    b"\\ud800",
    b"a",
    b"\x01",
    b"\xc3\xa9",
    b"\xff",
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=4) | st.just(KEY[1:-1].decode()), inner, max_size=3)
    ),
    max_leaves=8,
)


def spliced(pair):
    (line, at, token, replace) = pair
    return line[:at] + token + line[at + int(replace) :]


@settings(max_examples=500)
@given(
    line=st.one_of(
        st.dictionaries(st.text(max_size=4) | st.just(KEY[1:-1].decode()), json_values, max_size=4).flatmap(
            lambda value: st.sampled_from(
                [
                    json.dumps(value).encode(),
                    json.dumps(value, ensure_ascii=False).encode(),
                    json.dumps(value, separators=(",", ":")).encode(),
                ]
            )
        ),
        st.tuples(
            st.dictionaries(st.just(KEY[1:-1].decode()), json_values, min_size=1).map(lambda v: json.dumps(v).encode()),
            st.integers(0, 200),
            st.sampled_from(JSON_TOKENS),
            st.booleans(),
        ).map(spliced),
        st.lists(st.sampled_from(JSON_TOKENS), max_size=30).map(lambda tokens: b"{" + b"".join(tokens)),
    ).filter(lambda line: b"\n" not in line)
)
def test_a_line_is_a_message_exactly_when_pythons_json_reads_a_top_level_version_object(hotpath, line):
    """The compiled demultiplexer tells the common message line without a parse: never wrongly."""
    message = line[:-1] if line.endswith(b"\r") else line
    assert hotpath.StdioDemux().feed(line + b"\n") == (([message], b"") if is_message(line) else ([], line + b"\n"))
