"""The hot path's ``JsonLineAppender`` writes each message as one JSON line whose value is what
``json.dumps`` makes of it, on both implementations (the compiled one with its own encoder, the
pure one with orjson), unbuffered and buffered, whatever the message holds; what neither writes
goes to the fallback (``serialize.ascii_line``), which also raises for what JSON cannot hold.
"""

from __future__ import annotations

import enum
import json
import math
import os
import struct
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from support.strategies import Number, Real, Text, builtin_subclasses

from pipes_fast._hotpath import MODULES
from pipes_fast.external.errors import DagsterPipesError
from pipes_fast.external.serialize import ascii_line, json_line
from pipes_fast.protocol import METHODS, PIPES_PROTOCOL_VERSION_FIELD, make_message

BUFFERINGS = (None, 64, 65536)  # unbuffered; a buffer smaller than many lines; the writer's default


class Colour(enum.Enum):
    RED = "red"
    DEEP = [1, {"x": 2}]


class Level(enum.IntEnum):
    HIGH = 3


def nested(depth: int) -> Any:
    """``depth`` lists and dicts inside each other, around a string."""
    value: Any = "bottom"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def cyclic_list() -> list[Any]:
    items: list[Any] = [1]
    items.append(items)
    return items


def cyclic_dict() -> dict[str, Any]:
    mapping: dict[str, Any] = {"a": 1}
    mapping["self"] = {"again": mapping}
    return mapping


characters = st.characters(codec=None)  # any code point, lone surrogates too
texts = (
    st.text(characters, max_size=20)
    | st.text(st.sampled_from('ab"\\/\x00\x01\x1f\x7f\n\r\t\b\f é€😀\u2028\x85'), max_size=40)
    | st.text(st.characters(max_codepoint=0x7F), min_size=6, max_size=70)  # the word-at-a-time copy
)
floats = (
    st.floats()  # NaN, infinities, subnormals, -0.0 too
    | st.floats(min_value=1e-4, max_value=1e16)
    | st.integers(0, 2**64 - 1).map(lambda bits: struct.unpack("<d", struct.pack("<Q", bits))[0])
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too
    | st.integers(-(2**63), 2**63 - 1)
    | floats
    | texts
    | builtin_subclasses
    | st.uuids()
    | st.sampled_from([Colour.RED, Colour.DEEP, Level.HIGH])
)
keys = texts | st.integers() | st.booleans() | st.none() | st.floats(allow_nan=False)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=4).map(tuple)
        | st.dictionaries(texts, children, max_size=4)
        | st.dictionaries(keys, children, max_size=3)
    ),
    max_leaves=12,
)
# the shapes the compiled encoder writes itself: their lines are compact json.dumps, byte for byte
plain_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8"), max_size=20)
    | texts.filter(lambda text: not any(0xD800 <= ord(c) < 0xE000 for c in text)),
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=4).map(tuple)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def meaning(line: bytes) -> str:
    """What a line means, as comparable text (NaN equals NaN, -0.0 differs from 0.0 and 1.0 from 1)."""
    return json.dumps(json.loads(line))


def expected(message: Any) -> str:
    """What ``json.dumps`` (with uuid and enum as the writers have them) makes of the message."""
    return meaning(json_line(message).encode())


def compact(message: Any) -> bytes:
    """The line compact ``json.dumps`` writes, non-ASCII as UTF-8."""
    return (json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


# appenders and their files are made once per test and reused across its examples
reusing = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


class Written:
    """An appender of ``hotpath``'s to a file of its own; :meth:`new_lines` are the lines it wrote
    since the last call (after a flush)."""

    def __init__(
        self, folder: Path, hotpath: ModuleType, buffer_bytes: int | None, fallback: Callable[[Any], bytes]
    ) -> None:
        self.path = folder / f"{hotpath.__name__}-{buffer_bytes}.jsonl"
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC)
        self.appender = hotpath.JsonLineAppender(self.fd, fallback, buffer_bytes)
        self.read = 0

    def new_lines(self) -> list[bytes]:
        self.appender.flush()
        data = self.path.read_bytes()[self.read :]
        self.read += len(data)
        return data.splitlines(keepends=True)

    def close(self) -> None:
        self.appender.close()
        os.close(self.fd)


@pytest.fixture
def writers(both: tuple[ModuleType, ModuleType], tmp_path: Path) -> Iterator[list[Written]]:
    """An appender of each implementation and buffering."""
    made = [Written(tmp_path, hotpath, buffering, ascii_line) for hotpath in both for buffering in BUFFERINGS]
    yield made
    for written in made:
        written.close()


def only_line(written: Written) -> bytes:
    lines = written.new_lines()
    assert len(lines) == 1, lines
    return lines[0]


def check_line(line: bytes) -> None:
    """One line: one newline, at the end (a string's own newlines are escaped)."""
    assert line.endswith(b"\n") and b"\n" not in line[:-1] and b"\r" not in line


@reusing
@given(message=values)
@example(message=float("nan"))
@example(message=[float("inf"), -float("inf"), -0.0, 5e-324, 1.7976931348623157e308, 1e16, 1e-5, 0.0001])
@example(message=[2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 10**40])
@example(message={1: "int key", None: "none key", 2.5: "float key", False: "bool key"})
@example(message="lone \ud800 surrogate")
@example(message={"lone \udfff key": 1})
@example(message="astral 😀 and é, line separators \x85 \u2028, controls \x00\x1f\x7f")
@example(message=(Text("str subclass"), Number(5), Real(1.5), Colour.DEEP, Level.HIGH))
@example(message=nested(254))
@example(message=nested(255))
def test_every_line_means_what_json_dumps_writes_on_both_implementations(writers: list[Written], message: Any) -> None:
    for written in writers:
        written.appender.append(message)
    lines = [only_line(written) for written in writers]
    for line in lines:
        check_line(line)
        assert meaning(line) == expected(message)


@reusing
@given(message=plain_values)
@example(message={"controls": '\x00\x01\x08\t\n\x0b\x0c\r\x1f"\\', "unicode": "é€😀\u2028"})
@example(message=[0.1, 1 / 7, 1e15, 9999999999999998.0, 2.0**53, -1.5, 123.0, 0.0001, 1e-5, 1e16, 5e-324])
def test_the_compiled_encoder_writes_compact_json_dumps_byte_for_byte(
    both: tuple[ModuleType, ModuleType], tmp_path: Path, message: Any
) -> None:
    """For what it writes itself: strings escaped as json.dumps escapes them (non-ASCII as UTF-8),
    floats as float.__repr__, no spaces."""
    written = Written(tmp_path, both[0], None, ascii_line)
    try:
        written.appender.append(message)
        assert only_line(written) == compact(message)
    finally:
        written.close()


def test_every_character_that_needs_escaping_is_escaped_wherever_it_is(
    both: tuple[ModuleType, ModuleType], tmp_path: Path
) -> None:
    """Strings of each length up to 40 with one special character at each place, as values and as
    keys: the compiled encoder checks and copies them a word at a time, then the rest."""
    strings = [
        "a" * place + special + "b" * (length - place - 1)
        for special in ['"', "\\", "\x00", "\x01", "\x1f", "\n", "\t", "\x7f", "é", "😀"]
        for length in range(1, 41)
        for place in range(length)
    ]
    written = Written(tmp_path, both[0], None, ascii_line)
    try:
        for text in strings:
            written.appender.append({text: text})
        assert written.new_lines() == [compact({text: text}) for text in strings]
    finally:
        written.close()


@reusing
@given(number=floats.filter(math.isfinite))
def test_the_compiled_encoder_writes_floats_as_repr(
    both: tuple[ModuleType, ModuleType], tmp_path: Path, number: float
) -> None:
    written = Written(tmp_path, both[0], None, ascii_line)
    try:
        written.appender.append(number)
        written.appender.append(-number)
        assert written.new_lines() == [f"{number!r}\n".encode(), f"{-number!r}\n".encode()]
    finally:
        written.close()


def test_floats_next_to_powers_of_two_and_ten_are_written_as_repr(
    both: tuple[ModuleType, ModuleType], tmp_path: Path
) -> None:
    """Where the double below is closer than the one above, and where the digits change length."""
    numbers = [
        struct.unpack("<d", struct.pack("<q", struct.unpack("<q", struct.pack("<d", base))[0] + step))[0]
        for base in [2.0**k for k in range(-15, 55)] + [10.0**k for k in range(-5, 17)]
        for step in (-2, -1, 0, 1, 2)
    ]
    written = Written(tmp_path, both[0], None, ascii_line)
    try:
        for number in numbers:
            written.appender.append(number)
        assert written.new_lines() == [f"{number!r}\n".encode() for number in numbers]
    finally:
        written.close()


@pytest.mark.parametrize("buffer_bytes", BUFFERINGS)
def test_what_the_encoder_leaves_goes_to_the_fallback(
    both: tuple[ModuleType, ModuleType], tmp_path: Path, buffer_bytes: int | None
) -> None:
    """Nesting deeper than 254, NaN and infinities, big integers, keys that are not str, lone
    surrogates, subclasses: the fallback writes them (on both implementations); the rest it never sees."""
    left = [
        nested(255),
        nested(400),
        [1, float("nan")],
        {"x": [float("-inf")]},
        2**64,
        {1: 2},
        ["\ud800"],
        {"k": Text("v")},
        [Number(1)],
    ]
    kept = [nested(254), {"a": [1, 2.5, None, True, "é"]}, (1, (2, ["x"])), {}, [], "", 0]
    for hotpath in both:
        fell_back: list[Any] = []

        def fallback(message: Any) -> bytes:
            fell_back.append(message)  # noqa: B023 - called within this iteration
            return ascii_line(message)

        written = Written(tmp_path, hotpath, buffer_bytes, fallback)
        try:
            for message in kept + left:
                written.appender.append(message)
            lines = written.new_lines()
        finally:
            written.close()
        assert [meaning(line) for line in lines] == [expected(message) for message in kept + left]
        assert fell_back == left, hotpath.__name__


@pytest.mark.parametrize("buffer_bytes", BUFFERINGS)
@pytest.mark.parametrize(
    "bad",
    [{"a": object()}, [1, {2, 3}], cyclic_list(), cyclic_dict(), {"b": b"bytes"}],
    ids=["object", "set", "cyclic list", "cyclic dict", "bytes"],
)
def test_unwritable_messages_raise_alike_and_leave_nothing_behind(
    both: tuple[ModuleType, ModuleType], tmp_path: Path, buffer_bytes: int | None, bad: Any
) -> None:
    for hotpath in both:
        written = Written(tmp_path, hotpath, buffer_bytes, ascii_line)
        try:
            written.appender.append({"before": 1})
            with pytest.raises(DagsterPipesError):
                written.appender.append({"method": "report_custom_message", "params": {"payload": [1, "x", bad]}})
            written.appender.append({"after": 2})
            assert written.new_lines() == [b'{"before":1}\n', b'{"after":2}\n']
        finally:
            written.close()


def test_lines_longer_than_the_buffer_are_written_whole(writers: list[Written]) -> None:
    """The buffer grows for a long line (beyond its first 256 bytes, beyond buffer_bytes, beyond
    the 1 MiB kept between messages) and the lines after it are whole too."""
    messages = [
        {"s": "x" * 300},
        {"i": 1},
        {"s": "é" * (2 * 1024 * 1024), "t": ["\n" * 50_000]},
        [2.5] * 50,
        {"j": 2},
        "y" * 70_000,
        {"k": 3},
    ]
    for written in writers:
        for message in messages:
            written.appender.append(message)
        lines = written.new_lines()
        for line in lines:
            check_line(line)
        assert [meaning(line) for line in lines] == [expected(message) for message in messages]


def test_threads_appending_at_once_never_mix_their_lines(writers: list[Written]) -> None:
    """Unbuffered, the compiled appender encodes in a buffer of its own while another thread writes
    from the shared one (its GIL released): every line stays whole."""
    threads, per_thread = 6, 500
    sent = [
        [{"thread": t, "index": i, "pad": "p" * (i * 37 % 3000), "f": i / 7} for i in range(per_thread)]
        for t in range(threads)
    ]

    def send(append: Callable[[Any], None], messages: list[dict[str, Any]]) -> None:
        for message in messages:
            append(message)

    for written in writers:
        running = [threading.Thread(target=send, args=(written.appender.append, messages)) for messages in sent]
        for thread in running:
            thread.start()
        for thread in running:
            thread.join()
        lines = written.new_lines()
        for line in lines:
            check_line(line)
        got = [json.loads(line) for line in lines]
        assert [[m for m in got if m["thread"] == t] for t in range(threads)] == sent  # whole, each thread's in order


BLOCKED_WRITE = """if True:
    import os, threading, time
    from pipes_fast import _hotpath

    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    try:
        while True:  # fill the pipe: the next write waits for a reader
            os.write(write_fd, b"x" * 4096)
    except BlockingIOError:
        pass
    os.set_blocking(write_fd, True)
    appender = _hotpath.JsonLineAppender(write_fd, bytes)
    writer = threading.Thread(target=appender.append, args=({"line": "y" * 1000},))
    writer.start()

    def writing():
        with open(f"/proc/self/task/{writer.native_id}/syscall") as state:
            return state.read().split()[0] == "1"  # in write(2) (its number on x86-64)

    # this thread runs Python code while the writer waits in write(2): the GIL is not held there
    for _ in range(100_000):
        if writing():
            break
        time.sleep(0.001)
    else:
        raise SystemExit("the writer never reached its write")
    data = b""
    while not data.endswith(b"\\n"):
        data += os.read(read_fd, 65536)
    writer.join()
    print(data[-8:].decode())
"""


@pytest.mark.skipif(
    not os.path.exists("/proc/self/syscall") or os.uname().machine != "x86_64", reason="reads x86-64 Linux's /proc"
)
def test_a_write_that_waits_lets_other_threads_run(hotpath: ModuleType) -> None:
    """While one thread's append waits in ``write`` (a full pipe), another runs Python code (which
    would hang, the pipe never drained, if the GIL were held there) and drains the pipe."""
    env = {**os.environ, "PIPES_FAST_NO_EXTENSIONS": "1" if hotpath.__name__ == MODULES["pure"] else "0"}
    process = subprocess.run(
        [sys.executable, "-c", BLOCKED_WRITE], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert process.returncode == 0, process.stderr
    assert process.stdout == 'yyyyy"}\n\n'


@given(message=values)
@example(message={"id": uuid.UUID(int=7), "colour": Colour.RED, "level": Level.HIGH, "text": "é"})
@example(message=[2**63 - 1, 2**63, 2**64 - 1, -(2**63), -(2**63) - 1])
@example(message=[1e-5, -1.5e-7, 1e-10, 1e-4, 1e16, 0.0, -0.0, float("nan")])
def test_both_implementations_call_the_fallback_for_the_same_messages_and_write_the_same_bytes(
    both: tuple[ModuleType, ModuleType], tmp_path_factory: pytest.TempPathFactory, message: Any
) -> None:
    folder = tmp_path_factory.mktemp("lines")
    outcomes = []
    for hotpath in both:
        handed: list[Any] = []

        def fallback(message: Any, handed: list[Any] = handed) -> bytes:
            handed.append(message)
            return b'"written by the fallback"\n'

        written = Written(folder, hotpath, None, fallback)
        try:
            written.appender.append(message)
            outcomes.append((written.new_lines(), len(handed)))
        finally:
            written.close()
    assert outcomes[0] == outcomes[1]


def test_uuid_and_enum_are_written_as_the_writers_write_them(writers: list[Written]) -> None:
    message = {"id": uuid.UUID(int=7), "colour": Colour.RED, "level": Level.HIGH}
    for written in writers:
        written.appender.append(message)
        assert json.loads(only_line(written)) == {"id": str(uuid.UUID(int=7)), "colour": "red", "level": 3}


def lookalikes(method: Any, params: Any) -> list[Any]:
    """Dicts like ``make_message``'s that the envelope's copied start must not be used for."""
    version = "".join(["0.", "1"])  # equal to the version, not the same object
    return [
        {"method": method, PIPES_PROTOCOL_VERSION_FIELD: "0.1", "params": params},
        {PIPES_PROTOCOL_VERSION_FIELD: version, "method": method, "params": params},
        {**make_message(method, params), "extra": 1},
        {PIPES_PROTOCOL_VERSION_FIELD: "0.1", "method": method},
    ]


@reusing
@given(
    calls=st.lists(st.tuples(st.sampled_from(sorted(METHODS)) | texts | st.integers(), values), min_size=1, max_size=6)
)
@example(calls=[("log", {"message": "x"}), ("log", {"bad": {1, 2}}), ("log\ud800", 1), ("log", [float("nan")])])
def test_messages_in_make_message_s_envelope_are_written_as_any_other(writers: list[Written], calls: list[Any]) -> None:
    """The compiled encoder starts a message built by ``make_message`` from the last method's copied
    envelope: lines mean the same, alternating methods, unwritable params and lookalikes included."""
    messages = [
        message for method, params in calls for message in (make_message(method, params), *lookalikes(method, params))
    ]
    for written in writers:
        for message in messages:
            try:
                written.appender.append(message)
            except DagsterPipesError:
                pass
    writable = [expected(message) for message in messages if _writable(message)]
    for written in writers:
        assert [meaning(line) for line in written.new_lines()] == writable


@reusing
@given(
    calls=st.lists(st.tuples(st.sampled_from(sorted(METHODS)) | texts | st.integers(), values), min_size=1, max_size=6)
)
@example(
    calls=[("log", {"message": "x"}), ("log", {"bad": {1, 2}}), ("log\ud800", 1), (7, None), ("log", [float("nan")])]
)
def test_append_message_writes_what_append_writes_of_make_message(writers: list[Written], calls: list[Any]) -> None:
    """``append_message(method, params)`` and ``append_custom_message(payload)`` (the message never
    built) write the same line as ``append`` of the message ``make_message`` builds, or raise the
    same error and write nothing."""
    for written in writers:
        append = written.appender.append
        for method, params in calls:
            assert error_of(append, make_message(method, params)) == error_of(
                written.appender.append_message, method, params
            )
            custom = make_message("report_custom_message", {"payload": params})
            assert error_of(append, custom) == error_of(written.appender.append_custom_message, params)
        lines = written.new_lines()
        assert lines[0::2] == lines[1::2]


def error_of(call: Callable[..., None], *arguments: Any) -> str | None:
    """What ``call(*arguments)`` raised, as text (None if nothing)."""
    try:
        call(*arguments)
    except DagsterPipesError as exc:
        return str(exc)
    return None


@reusing
@given(calls=st.lists(st.tuples(st.sampled_from(sorted(METHODS)), plain_values), min_size=1, max_size=6))
def test_make_message_s_envelope_is_written_as_compact_json_dumps(
    both: tuple[ModuleType, ModuleType], tmp_path: Path, calls: list[Any]
) -> None:
    written = Written(tmp_path, both[0], None, ascii_line)
    try:
        for method, params in calls:
            written.appender.append(make_message(method, params))
        assert written.new_lines() == [compact(make_message(method, params)) for method, params in calls]
    finally:
        written.close()


def _writable(message: Any) -> bool:
    try:
        json_line(message)
    except DagsterPipesError:
        return False
    return True
