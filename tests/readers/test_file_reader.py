"""The file reader against real writer processes: torn writes, garbage, huge lines, no losses.

Also shows, on the same input, where Dagster 1.13's own file reader loses messages.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time

import dagster
import pytest
from support.helpers import capturing_logger, closed, custom, line, opened, script

from pipes_fast import (
    PipesEnvContextInjector,
    PipesFileMessageReader,
    PipesTempFileMessageReader,
    StepContext,
    open_pipes_session,
)
from pipes_fast._system.tailer import FileTailer


def read_stream(tmp_path, steps, logger=None):
    """Run a scripted writer inside a session; return (custom payloads, session)."""
    context = StepContext(log=logger)
    with open_pipes_session(context, PipesEnvContextInjector(), PipesTempFileMessageReader()) as session:
        subprocess.run(script(tmp_path, steps), env={**os.environ, **session.get_bootstrap_env_vars()}, check=True)
    return list(session.get_custom_messages()), session


@pytest.mark.reliability("torn-writes")
def test_a_torn_write_waits_for_its_newline(tmp_path):
    whole = custom({"text": "héllo wörld"})
    cut = len(whole.encode()) // 2
    raw = whole.encode()
    steps = [
        {"write": opened()},
        {"write": raw[:cut].decode("latin-1")},
        {"sleep": 0.2},
        {"write": raw[cut:].decode("latin-1")},
        {"write": closed()},
    ]
    payloads, _ = read_stream(tmp_path, steps)
    assert payloads == [{"text": "héllo wörld"}]


@pytest.mark.reliability("garbage-lines")
def test_garbage_lines_are_reported_and_everything_after_them_is_delivered(tmp_path):
    logger, logs = capturing_logger("garbage")
    garbage = ["not json at all\n", "[1, 2]\n", '{"no": "version"}\n', "\xff\xfe\n", '{"torn": \n']
    stream = opened() + custom(0) + "".join(g + custom(i + 1) for i, g in enumerate(garbage)) + closed()
    payloads, session = read_stream(tmp_path, [{"write": stream}], logger)
    assert payloads == [0, 1, 2, 3, 4, 5]
    warnings = logs.messages(logging.WARNING)
    assert [w.split(": ")[0] for w in warnings] == [
        f"[pipes] skipped line of file {session.message_reader_params['path']} line {n}" for n in (3, 5, 7, 9, 11)
    ]
    assert "not json at all" in warnings[0] and "invalid JSON" in warnings[0]
    assert session.message_handler.bad_line_count == 5


def test_a_last_line_without_newline_is_delivered(tmp_path):
    payloads, session = read_stream(tmp_path, [{"write": opened() + custom("a") + closed().rstrip("\n")}])
    assert payloads == ["a"]
    assert session.message_handler.received_closed_message


def test_crlf_and_blank_lines(tmp_path):
    stream = opened().replace("\n", "\r\n") + "\n\n" + custom("x").replace("\n", "\r\n") + closed()
    assert read_stream(tmp_path, [{"write": stream}])[0] == ["x"]


@pytest.mark.reliability("huge-lines")
def test_a_huge_message_arrives_whole(tmp_path):
    big = "x" * (20 * 1024 * 1024)
    payloads, _ = read_stream(tmp_path, [{"write": opened() + custom(big) + custom("after") + closed()}])
    assert payloads == [big, "after"]


def test_many_messages_in_many_writes_arrive_in_order(tmp_path):
    steps = [{"write": opened()}] + [{"write": "".join(custom(i * 100 + j) for j in range(100))} for i in range(200)]
    payloads, _ = read_stream(tmp_path, steps + [{"write": closed()}])
    assert payloads == list(range(20_000))


@pytest.mark.reliability("sigkill-writer")
def test_a_killed_writer_loses_nothing_it_wrote(tmp_path):
    path = tmp_path / "messages"
    writer = (
        "import os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)\n"
        f"os.write(fd, {opened().encode()!r})\n"
        "for i in range(500):\n"
        '    os.write(fd, b\'{"__dagster_pipes_version": "0.1", "method": "report_custom_message", "params": {"payload": %d}}\\n\' % i)\n'
        'os.write(fd, b\'{"__dagster_pipes_version": "0.1", "meth\')\n'
        "os.kill(os.getpid(), 9)\n"
    )
    logger, logs = capturing_logger("killed")
    with open_pipes_session(
        StepContext(log=logger), PipesEnvContextInjector(), PipesFileMessageReader(str(path))
    ) as session:
        proc = subprocess.run([sys.executable, "-c", writer, str(path)])
    assert proc.returncode == -9
    assert list(session.get_custom_messages()) == list(range(500))
    assert any("line 502" in w and "invalid JSON" in w for w in logs.messages(logging.WARNING))


def test_the_reader_stops_promptly_when_the_session_closes(tmp_path):
    # a session with no external process at all still closes: nothing waits on a writer
    with open_pipes_session(StepContext(), PipesEnvContextInjector(), PipesTempFileMessageReader()):
        pass


def _dagster_reads(tmp_path, stream: str) -> list:
    """Custom messages that Dagster's own file reader delivers for this stream."""
    seen: list = []
    path = str(tmp_path / "dagster-messages")

    @dagster.op
    def op(context):  # noqa: ANN001 - dagster checks the annotation by identity
        reader = dagster.PipesFileMessageReader(path, cleanup_file=False)
        with dagster.open_pipes_session(
            context=context, context_injector=dagster.PipesEnvContextInjector(), message_reader=reader
        ) as session:
            with open(path, "a") as f:
                f.write(stream)
        seen.extend(session.get_custom_messages())

    @dagster.job
    def job() -> None:
        op()

    job.execute_in_process(raise_on_error=False)
    return seen


@pytest.mark.reliability("garbage-lines")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # Dagster's reader thread dies
@pytest.mark.parametrize("garbage", ["not json\n", '{"torn": \n'])
def test_where_dagster_loses_messages_pipes_fast_does_not(tmp_path, garbage):
    stream = opened() + custom(1) + garbage + custom(2) + closed()
    assert _dagster_reads(tmp_path, stream) == [1]
    assert read_stream(tmp_path, [{"write": stream}])[0] == [1, 2]


def test_unknown_line_method_is_skipped(tmp_path):
    payloads, _ = read_stream(tmp_path, [{"write": opened() + line("teleport", {}) + custom(1) + closed()}])  # type: ignore[arg-type]
    assert payloads == [1]


def test_a_flood_of_garbage_is_counted_after_the_first_hundred_warnings(tmp_path):
    logger, logs = capturing_logger("flood")
    stream = opened() + "".join(f"garbage {i}\n" for i in range(150)) + custom("after") + closed()
    payloads, session = read_stream(tmp_path, [{"write": stream}], logger)
    assert payloads == ["after"]
    warnings = logs.messages(logging.WARNING)
    assert len(warnings) == 101 and warnings[-1].endswith("are not messages; counting them silently")
    assert session.message_handler.bad_line_count == 150


def wait_for(condition, what: str, timeout: float = 30) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


@pytest.mark.reliability("close-race")
def test_a_write_between_the_last_read_and_the_close_is_read(tmp_path):
    """Messages written right after the reader found nothing, as the session closes, are delivered."""
    written = threading.Event()

    class WritesInTheWindow(FileTailer):
        """A real tailer whose first empty read is followed by a real write and by the session
        closing, all before the reader sees the read come back empty."""

        def read(self) -> bytes:
            data = super().read()
            if not data and not written.is_set():
                with open(self.path, "a") as f:
                    f.write(opened() + custom("in the window") + closed())
                written.set()
                wait_for(lambda: self.stopped, "the session to close")
            return data

    class Reader(PipesFileMessageReader):
        _tailer_class = WritesInTheWindow

    with open_pipes_session(StepContext(), PipesEnvContextInjector(), Reader(str(tmp_path / "messages"))) as session:
        assert written.wait(timeout=30)
    assert list(session.get_custom_messages()) == ["in the window"]
    assert session.message_handler.received_closed_message


@pytest.mark.reliability("close-race")
def test_messages_written_just_before_close_are_never_lost():
    """Hundreds of sessions, each writing its messages and closing at once: every message arrives."""
    for i in range(400):
        with open_pipes_session(StepContext(), PipesEnvContextInjector(), PipesTempFileMessageReader()) as session:
            with open(session.message_reader_params["path"], "a") as f:
                f.write(opened() + custom(i) + closed())
        assert list(session.get_custom_messages()) == [i], f"session {i} lost its messages"
        assert session.message_handler.received_closed_message
