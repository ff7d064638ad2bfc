"""The buffered file writer (``PipesFileMessageWriterChannel(path, buffered=True)``) and the hot
path's buffered ``JsonLineAppender``: lines arrive whole and in order however the buffer is written
out (full, after the interval, on flush, on close, at exit, before a fork), a kill loses at most
what the buffer held, and nothing is left running or open (threads and forked processes writing
at once: ``test_external_writer.py``). Every test runs on both hot-path
implementations: in this process by putting the chosen appender in place, in child processes by
``PIPES_FAST_NO_EXTENSIONS``.
"""

from __future__ import annotations

import errno
import gc
import inspect
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import dagster_pipes
import orjson
import pytest
from support.files import payloads, read_messages

from pipes_fast import _hotpath
from pipes_fast.external import PipesDefaultMessageWriter, PipesFileMessageWriterChannel
from pipes_fast.external.serialize import ascii_line
from pipes_fast.external.writers import BUFFERED_ENV_VAR

NEVER = 3600.0
"""A flush interval no test waits for: what reaches the file got there another way."""
GENEROUS_SECONDS = 60.0
"""How long a test waits for the background flush before failing (it never asserts a duration)."""


def message(writer: str, index: int, pad: int = 0) -> dict[str, Any]:
    return {
        "__dagster_pipes_version": "0.1",
        "method": "report_custom_message",
        "params": {"payload": {"writer": writer, "index": index, "pad": "x" * pad}},
    }


def sent_by(messages: list[dict[str, Any]], writer: str) -> list[int]:
    return [p["index"] for p in payloads(messages, "report_custom_message", "payload") if p["writer"] == writer]


@pytest.fixture
def in_place(hotpath: ModuleType, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Channels made in this test append through ``hotpath``'s appender."""
    monkeypatch.setattr(_hotpath, "JsonLineAppender", hotpath.JsonLineAppender)
    return hotpath


def flush_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name == "pipes_fast message flush"}


def open_fds() -> set[int]:
    return {int(fd) for fd in os.listdir("/proc/self/fd")}


# ----- in this process -----


def test_lines_wait_in_the_buffer_until_flush_and_close(in_place: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    channel = PipesFileMessageWriterChannel(str(path), buffered=True, flush_interval=NEVER)
    for index in range(3):
        channel.write_message(message("main", index))  # type: ignore[arg-type]
    assert path.read_bytes() == b""
    channel.flush()
    assert sent_by(read_messages(in_place, path), "main") == [0, 1, 2]
    channel.write_message(message("main", 3))  # type: ignore[arg-type]
    channel.close()
    assert sent_by(read_messages(in_place, path), "main") == [0, 1, 2, 3]
    with pytest.raises(OSError):
        channel.write_message(message("main", 4))  # type: ignore[arg-type]


def test_the_flusher_writes_after_the_interval_without_more_writes(in_place: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    with PipesFileMessageWriterChannel(str(path), buffered=True, flush_interval=0.01) as channel:
        for round_ in range(2):  # the flusher goes back to sleep, and wakes again for the next message
            channel.write_message(message("main", round_))  # type: ignore[arg-type]
            deadline = time.monotonic() + GENEROUS_SECONDS
            while len(sent_by(read_messages(in_place, path), "main")) <= round_ and time.monotonic() < deadline:
                time.sleep(0.005)
            assert sent_by(read_messages(in_place, path), "main") == list(range(round_ + 1))


def test_a_full_buffer_is_written_at_once_and_a_longer_line_whole(in_place: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    with PipesFileMessageWriterChannel(str(path), buffered=True, flush_interval=NEVER, buffer_bytes=1024) as channel:
        sizes = [100, 100, 5000, 100, 900, 900, 100]
        for index, pad in enumerate(sizes):
            channel.write_message(message("main", index, pad))  # type: ignore[arg-type]
        written = sent_by(read_messages(in_place, path), "main")
        assert written == list(range(len(written))) and 5 <= len(written) < len(sizes)
    assert sent_by(read_messages(in_place, path), "main") == list(range(len(sizes)))


def test_closing_ends_the_thread_and_closes_the_file(in_place: ModuleType, tmp_path: Path) -> None:
    fds, threads = open_fds(), flush_threads()
    channel = PipesFileMessageWriterChannel(str(tmp_path / "m.jsonl"), buffered=True)
    (thread,) = flush_threads() - threads
    channel.write_message(message("main", 0))  # type: ignore[arg-type]
    channel.close()
    channel.close()
    assert not thread.is_alive()
    assert open_fds() == fds


def test_a_dropped_channel_writes_out_and_lets_go(in_place: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    fds, threads = open_fds(), flush_threads()
    channel = PipesFileMessageWriterChannel(str(path), buffered=True, flush_interval=NEVER)
    (thread,) = flush_threads() - threads
    channel.write_message(message("main", 0))  # type: ignore[arg-type]
    del channel
    gc.collect()
    assert sent_by(read_messages(in_place, path), "main") == [0]
    assert not thread.is_alive()
    assert open_fds() == fds


@pytest.mark.parametrize(
    ("flush_interval", "buffer_bytes", "error"),
    [
        (0, 65536, ValueError),
        (-1.0, 65536, ValueError),
        (float("nan"), 65536, ValueError),
        ("5", 65536, TypeError),
        (0.01, 0, ValueError),
        (0.01, "65536", TypeError),
    ],
)
def test_bad_buffering_arguments_are_refused_and_leave_nothing_open(
    in_place: ModuleType, tmp_path: Path, flush_interval: Any, buffer_bytes: Any, error: type[Exception]
) -> None:
    fds, threads = open_fds(), flush_threads()
    with pytest.raises(error, match="flush_interval|buffer_bytes"):
        PipesFileMessageWriterChannel(
            str(tmp_path / "m.jsonl"), buffered=True, flush_interval=flush_interval, buffer_bytes=buffer_bytes
        )
    assert open_fds() == fds and flush_threads() == threads


@pytest.mark.parametrize(("value", "buffered"), [("1", True), ("0", False), ("", False)])
def test_the_environment_variable_lets_an_unchanged_script_buffer(
    in_place: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, buffered: bool
) -> None:
    monkeypatch.setenv(BUFFERED_ENV_VAR, value)
    threads = flush_threads()
    with PipesDefaultMessageWriter().open({"path": str(tmp_path / "m.jsonl")}) as channel:
        assert bool(flush_threads() - threads) == buffered
        channel.write_message(message("main", 0))  # type: ignore[arg-type]
    assert sent_by(read_messages(in_place, tmp_path / "m.jsonl"), "main") == [0]
    with PipesDefaultMessageWriter(buffered=False).open({"path": str(tmp_path / "n.jsonl")}):
        assert flush_threads() == threads


def test_dagster_pipes_parameters_come_first_the_buffering_ones_by_keyword() -> None:
    theirs = list(inspect.signature(dagster_pipes.PipesFileMessageWriterChannel).parameters.values())
    ours = list(inspect.signature(PipesFileMessageWriterChannel).parameters.values())
    assert [(p.name, p.kind) for p in ours[: len(theirs)]] == [(p.name, p.kind) for p in theirs]
    assert {p.name: p.kind for p in ours[len(theirs) :]} == dict.fromkeys(
        ["buffered", "flush_interval", "buffer_bytes"], inspect.Parameter.KEYWORD_ONLY
    )
    assert all(
        p.kind is inspect.Parameter.KEYWORD_ONLY
        for p in inspect.signature(PipesDefaultMessageWriter).parameters.values()
    )


# ----- the appender itself -----


def appender(hotpath: ModuleType, fd: int, buffer_bytes: int, wake: Any = None) -> Any:
    return hotpath.JsonLineAppender(fd, ascii_line, buffer_bytes, wake)


@pytest.fixture
def appended(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    path = tmp_path / "appended"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    yield fd, path
    os.close(fd)


def test_wake_is_called_when_the_buffer_becomes_non_empty(hotpath: ModuleType, appended: tuple[int, Path]) -> None:
    fd, path = appended
    wakes: list[None] = []
    buffered = appender(hotpath, fd, 24, lambda: wakes.append(None))
    buffered.append([1])
    buffered.append([2])
    assert len(wakes) == 1 and path.read_bytes() == b""
    buffered.append(["more than the rest"])  # writes [1] and [2], then buffers it: non-empty again
    assert len(wakes) == 2 and path.read_bytes() == b"[1]\n[2]\n"
    buffered.flush()
    buffered.flush()
    buffered.append("x" * 40)  # longer than the buffer: written whole, the buffer stays empty
    assert len(wakes) == 2 and path.read_bytes() == b'[1]\n[2]\n["more than the rest"]\n"' + b"x" * 40 + b'"\n'
    buffered.close()
    buffered.close()
    buffered.flush()


def test_values_written_through_the_buffer_are_json_dumps_values(
    hotpath: ModuleType, appended: tuple[int, Path]
) -> None:
    fd, path = appended
    buffered = appender(hotpath, fd, 4096)
    values = [float("nan"), {"k": [float("-inf"), None]}, 2**70, {1: "int key", None: 2}, "é \ud800", None, [1.5]]
    for value in values:
        buffered.append(value)
    buffered.close()
    lines = path.read_bytes().split(b"\n")[:-1]
    # compared as JSON text, so that NaN equals NaN
    assert [json.dumps(json.loads(line)) for line in lines] == [json.dumps(json.loads(json.dumps(v))) for v in values]


def test_a_failed_write_keeps_what_it_did_not_write(hotpath: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "appended"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    spare = os.dup(fd)
    buffered = appender(hotpath, fd, 64)
    buffered.append({"first": 1})
    os.close(fd)  # the descriptor goes away under the appender
    with pytest.raises(OSError) as raised:
        buffered.flush()
    assert raised.value.errno == errno.EBADF
    os.dup2(spare, fd)  # and comes back
    os.close(spare)
    buffered.append({"second": 2})
    buffered.close()
    os.close(fd)
    assert path.read_bytes() == b'{"first":1}\n{"second":2}\n'


def test_after_a_fork_the_child_drops_the_parents_lines_and_writes_through(
    hotpath: ModuleType, appended: tuple[int, Path]
) -> None:
    fd, path = appended
    buffered = appender(hotpath, fd, 4096)
    buffered.append({"parent's": 1})
    buffered.after_fork_in_child()  # as the at-fork hook calls it in a child
    assert path.read_bytes() == b""
    buffered.append({"child's": 1})
    assert path.read_bytes() == b'{"child\'s":1}\n'
    buffered.flush()
    assert path.read_bytes() == b'{"child\'s":1}\n'


# ----- in child processes: exit, fork, kill -----


def run_child(hotpath: ModuleType, tmp_path: Path, body: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run ``body`` in a fresh interpreter on ``hotpath``'s implementation, with ``channel`` a
    buffered channel (never flushed by its thread) on ``path``, and ``message`` this module's."""
    path = tmp_path / "m.jsonl"
    code = (
        textwrap.dedent("""
        from __future__ import annotations
        import os, signal, sys
        from pipes_fast.external import PipesFileMessageWriterChannel
        path = sys.argv[1]
        channel = PipesFileMessageWriterChannel(path, buffered=True, flush_interval=float(sys.argv[2]),
                                                buffer_bytes=int(sys.argv[3]))
    """)
        + inspect.getsource(message)
        + textwrap.dedent(body)
    )
    env = {**os.environ, "PIPES_FAST_NO_EXTENSIONS": "1" if hotpath.__name__ == _hotpath.MODULES["pure"] else "0"}
    process = subprocess.run(
        [sys.executable, "-c", code, str(path), str(NEVER), str(SMALL_BUFFER)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return process, path


SMALL_BUFFER = 4096


@pytest.mark.parametrize(
    ("ending", "status"),
    [
        ("channel.close()", 0),
        ("channel.flush(); os._exit(0)", 0),  # flush alone: os._exit runs no exit handlers
        ("sys.exit(3)", 3),  # neither: the interpreter's exit writes them out
    ],
)
def test_buffered_lines_are_written_on_close_flush_and_exit(
    hotpath: ModuleType, tmp_path: Path, ending: str, status: int
) -> None:
    process, path = run_child(
        hotpath,
        tmp_path,
        f"""
        for index in range(20):
            channel.write_message(message("main", index))
        assert os.path.getsize(path) == 0
        {ending}
    """,
    )
    assert process.returncode == status, process.stderr
    assert sent_by(read_messages(hotpath, path), "main") == list(range(20))


def test_a_forked_child_and_its_parent_both_get_everything_through(hotpath: ModuleType, tmp_path: Path) -> None:
    process, path = run_child(
        hotpath,
        tmp_path,
        """
        for index in range(50):
            channel.write_message(message("before fork", index))
        pid = os.fork()
        if pid == 0:  # multiprocessing's children leave this way: no exit handlers
            for index in range(50):
                channel.write_message(message("child", index))
            os._exit(0)
        for index in range(50):
            channel.write_message(message("parent", index))
        assert os.waitpid(pid, 0)[1] == 0
        channel.close()
    """,
    )
    assert process.returncode == 0, process.stderr
    messages = read_messages(hotpath, path)
    for writer in ("before fork", "child", "parent"):
        assert sent_by(messages, writer) == list(range(50))
    writers = [p["writer"] for p in payloads(messages, "report_custom_message", "payload")]
    assert writers[:50] == ["before fork"] * 50  # written out before the fork, once
    assert len(writers) == 150


@pytest.mark.reliability("sigkill-writer")
def test_a_killed_writer_loses_at_most_the_buffer_and_never_part_of_a_line(hotpath: ModuleType, tmp_path: Path) -> None:
    process, path = run_child(
        hotpath,
        tmp_path,
        """
        for index in range(400):
            channel.write_message(message("main", index, index * 53 % 700 if index % 50 else 6000))
        os.kill(os.getpid(), signal.SIGKILL)
    """,
    )
    assert process.returncode == -signal.SIGKILL
    assert path.read_bytes().endswith(b"\n")
    written = sent_by(read_messages(hotpath, path), "main")  # every line whole: json.loads takes each
    assert written == list(range(len(written))) and written
    lost = sum(
        len(orjson.dumps(message("main", i, i * 53 % 700 if i % 50 else 6000))) + 1 for i in range(len(written), 400)
    )
    assert lost <= SMALL_BUFFER
