"""What Dagster 1.13 does in the reliability cases, for docs/RELIABILITY.md.

Each test runs a case's scenario inside a real Dagster op (``dagster.open_pipes_session`` with
Dagster's file readers and injectors), or gives a bootstrap param to dagster-pipes, asserts what
Dagster does — so it fails when Dagster changes — and records it in words with ``observe``. The
pipes_fast side of each case is guarded elsewhere.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import dagster
import dagster._core.pipes.utils as dagster_pipes_utils
import dagster_pipes
import pytest
from support.helpers import closed, custom, opened
from support.orchestrators import QUIET

from pipes_fast.protocol import make_message

pytestmark = [
    pytest.mark.reference,  # Dagster's behaviour, not pipes_fast's
    pytest.mark.filterwarnings(
        "ignore::pytest.PytestUnhandledThreadExceptionWarning",  # Dagster's reader thread dies, on purpose here
        "ignore::dagster.PreviewWarning",
        "ignore::DeprecationWarning",  # dagster's own PipesSubprocessClient calls its deprecated context.run_id
    ),
]
FRAMEWORK_EXCEPTION = "[pipes] framework exception occurred in PipesFileMessageReader reader thread"
NO_CLOSED = "[pipes] did not receive closed message from external process"
WAIT = 10.0  # seconds allowed for anything awaited below


@dataclass
class DagsterRun:
    """What a Dagster step got from its Pipes session."""

    custom_messages: list[Any]
    reader_errors: list[str]
    """Class names of the exceptions that killed the reader thread (framework-exception events)."""
    warnings: list[str]
    step_succeeded: bool

    def summary(self, sent: list[Any]) -> str:
        """The run in words: how the reader ended, what was delivered of what was sent."""
        if self.reader_errors:
            ending = f"the reader thread dies on a {self.reader_errors[0]} (a framework-exception engine event)"
        else:
            ending = "the reader thread runs to the end"
        step = "succeeds" if self.step_succeeded else "fails"
        return f"{ending}; custom messages delivered: {self.custom_messages} of {sent}; the step {step}."


Body = Callable[[Any, Path], None]
"""Runs inside the open session: (Dagster's PipesSession, the message file)."""


def run_in_dagster(
    body: Body,
    reader: Optional[dagster.PipesMessageReader] = None,
    injector: Optional[dagster.PipesContextInjector] = None,
) -> DagsterRun:
    """``body`` inside ``dagster.open_pipes_session`` in a one-op job; what the step got."""
    delivered: list[Any] = []

    @dagster.op
    def step(context):  # noqa: ANN001, ANN202 - Dagster checks the annotation by identity
        with dagster.open_pipes_session(
            context=context,
            context_injector=injector or dagster.PipesEnvContextInjector(),
            message_reader=reader or dagster.PipesTempFileMessageReader(),
        ) as session:
            path = Path(session.message_reader_params["path"])
            body(session, path)
            wait_until(lambda: read_to_the_end(path), "Dagster's reader to read what was written")
        delivered.extend(session.get_custom_messages())

    @dagster.job
    def job() -> None:
        step()

    instance = dagster.DagsterInstance.ephemeral()
    result = job.execute_in_process(instance=instance, run_config=QUIET, raise_on_error=False)
    logs = instance.all_logs(result.run_id)
    return DagsterRun(
        custom_messages=delivered,
        reader_errors=[
            entry.dagster_event.event_specific_data.error.cls_name  # type: ignore[union-attr,misc]
            for entry in logs
            if entry.user_message.startswith(FRAMEWORK_EXCEPTION)
        ],
        warnings=[entry.user_message for entry in logs if entry.level == logging.WARNING],
        step_succeeded=result.success,
    )


def append(*chunks: str | bytes) -> Body:
    """A body appending each chunk to the message file with one write."""

    def body(session: Any, path: Path) -> None:
        for chunk in chunks:
            with open(path, "ab") as file:
                file.write(chunk if isinstance(chunk, bytes) else chunk.encode())

    return body


def ascii_line(method: str, params: Any) -> str:
    """A message line with non-ASCII escaped, as json.dumps writes it (lone surrogates included)."""
    return json.dumps(make_message(method, params)) + "\n"  # type: ignore[arg-type]


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Waits for ``condition``, at most ``WAIT`` seconds."""
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


def read_to_the_end(path: Path) -> bool:
    """Whether every descriptor this process holds open on ``path`` (or on the file it named
    before it was removed) has been read to the end of the file.

    Dagster's file reader reads until a read finds nothing and only then checks whether the session
    closed: a session closing after the last write but before the reader got to it would lose the
    write (the close race of docs/RELIABILITY.md), and its test would not see what Dagster does with
    the message. Once its descriptor is at the end, the rest of the write is in the reader's buffer
    and it handles every line before it stops."""
    for fd in os.listdir("/proc/self/fd"):
        try:
            if not os.readlink(f"/proc/self/fd/{fd}").startswith(str(path)):
                continue
            size = os.stat(f"/proc/self/fd/{fd}").st_size
            with open(f"/proc/self/fdinfo/{fd}") as info:
                position = int(info.readline().split()[1])  # "pos:\t<offset>"
        except (FileNotFoundError, ProcessLookupError):
            continue  # closed meanwhile
        if position < size:
            return False
    return True


def reader_threads() -> list[threading.Thread]:
    """Dagster's file reader threads now alive."""
    return [thread for thread in threading.enumerate() if thread.name.endswith("(_reader_thread)")]


# ----- the stream -----


@pytest.mark.reliability("garbage-lines")
@pytest.mark.parametrize(
    ("what", "garbage", "error", "delivered"),
    [
        pytest.param("A line that is not JSON", "not json\n", "JSONDecodeError", [1], id="not-json"),
        pytest.param(
            "A JSON line without the version field", '{"no": "version"}\n', "KeyError", [1], id="no-version-field"
        ),
        pytest.param("A line of invalid UTF-8", b"\xff\xfe\n", "UnicodeDecodeError", [], id="invalid-utf8"),
    ],
)
def test_dagster_stops_at_the_first_line_that_is_not_a_message(
    what: str, garbage: str | bytes, error: str, delivered: list[Any], observe: Callable[[str], None]
) -> None:
    """One bad line between two custom messages, written at once."""
    raw = garbage if isinstance(garbage, bytes) else garbage.encode()
    run = run_in_dagster(append((opened() + custom(1)).encode() + raw + (custom(2) + closed()).encode()))
    assert run.reader_errors == [error]
    assert run.custom_messages == delivered
    assert run.step_succeeded
    lost_before = " (the lines decoded in the same read are lost with it, `opened` included)" if not delivered else ""
    observe(f"{what}{lost_before}: {run.summary([1, 2])}")


@pytest.mark.reliability("torn-writes")
def test_dagster_loses_a_torn_write_and_everything_after_it(observe: Callable[[str], None]) -> None:
    """Half a message, then (once Dagster's reader has looked) the rest of it and one more."""
    whole = custom(1)

    def body(session: Any, path: Path) -> None:
        append(opened() + whole[:20])(session, path)
        wait_until(lambda: not reader_threads(), "Dagster's reader to read the half line")
        append(whole[20:] + custom(2) + closed())(session, path)

    run = run_in_dagster(body)
    assert run.reader_errors == ["JSONDecodeError"]
    assert run.custom_messages == []
    observe(f"The reader takes the half line for a whole one: {run.summary([1, 2])}")


@pytest.mark.reliability("huge-lines")
def test_dagster_holds_a_huge_line_whole(monkeypatch: pytest.MonkeyPatch, observe: Callable[[str], None]) -> None:
    """A 20 MiB message, complete in the file before Dagster's reader gets to it."""
    held, release = threading.Event(), threading.Event()

    class HeldStdout(io.StringIO):
        """Dagster's reader writes log_external_stream text here: its first write waits for the test."""

        def write(self, text: str) -> int:
            if threading.current_thread() in reader_threads() and not held.is_set():
                held.set()
                release.wait(WAIT)
            return super().write(text)

    big = "x" * (20 * 1024 * 1024)

    def body(session: Any, path: Path) -> None:
        stream = ascii_line("log_external_stream", {"stream": "stdout", "text": "hold", "extras": {}})
        append(opened() + stream)(session, path)
        assert held.wait(WAIT), "Dagster's reader never wrote the stream text"
        append(custom(big) + custom("after") + closed())(session, path)
        release.set()

    monkeypatch.setattr(sys, "stdout", HeldStdout())
    run = run_in_dagster(body)
    assert run.reader_errors == []
    assert run.custom_messages == [big, "after"]
    observe(
        "A 20 MiB line already whole in the file arrives whole: Dagster has no line limit and holds any "
        "line in memory at once (a reader that reaches a line while it is being written tears it, as above)."
    )


@pytest.mark.reliability("file-replaced")
def test_dagster_keeps_reading_a_removed_message_file(observe: Callable[[str], None]) -> None:
    """The message file removed after the first message, then written again at the same path."""

    def body(session: Any, path: Path) -> None:
        append(opened() + custom(1))(session, path)
        wait_until(lambda: list(session.get_custom_messages()) == [1], "the first message")
        path.unlink()
        append(custom(2) + closed())(session, path)

    run = run_in_dagster(body)
    assert run.reader_errors == []
    assert run.custom_messages == [1]
    assert any(warning.startswith(NO_CLOSED) for warning in run.warnings)
    observe(
        "The reader keeps the removed file open and never sees the new one: "
        f"{run.summary([1, 2])} It warns that no `closed` message arrived."
    )


@pytest.mark.reliability("sigkill-writer")
def test_dagster_keeps_what_a_killed_writer_reported(tmp_path: Path, observe: Callable[[str], None]) -> None:
    """A dagster_pipes script reports 200 custom messages, then SIGKILLs itself."""
    script = tmp_path / "killed.py"
    script.write_text(
        "import os, signal\n"
        "from dagster_pipes import open_dagster_pipes\n"
        "with open_dagster_pipes() as pipes:\n"
        "    for index in range(200):\n"
        "        pipes.report_custom_message(index)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    codes: list[int] = []

    def body(session: Any, path: Path) -> None:
        env = {**os.environ, **session.get_bootstrap_env_vars()}
        codes.append(subprocess.run([sys.executable, str(script)], env=env, timeout=60, check=False).returncode)

    run = run_in_dagster(body)
    assert codes == [-9]
    assert run.reader_errors == []
    assert run.custom_messages == list(range(200))
    assert any(warning.startswith(NO_CLOSED) for warning in run.warnings)
    observe(
        "All 200 messages reported before the SIGKILL arrive (dagster-pipes writes each whole); Dagster "
        "warns that no `closed` message arrived."
    )


# ----- handling one message -----

LONE_SURROGATE = ascii_line("log_external_stream", {"stream": "stdout", "text": "\ud800", "extras": {}})
STREAM_TEXT = ascii_line("log_external_stream", {"stream": "stdout", "text": "x", "extras": {}})
BAD_CLOSED = ascii_line(
    "closed", {"exception": {"message": 1, "stack": "s", "name": None, "cause": None, "context": None}}
)
BAD_TABLE = ascii_line(
    "report_asset_materialization",
    {
        "asset_key": "orders",
        "metadata": {"table": {"raw_value": {"records": "not a list"}, "type": "table"}},
        "data_version": None,
    },
)


def utf8_stdout(closed: bool) -> io.TextIOWrapper:
    """A strict UTF-8 stdout, as Python gives a process on a pipe or terminal; closed if asked."""
    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    if closed:
        stream.close()
    return stream


@pytest.mark.reliability("handler-exceptions")
@pytest.mark.parametrize(
    ("what", "message", "stdout", "error"),
    [
        pytest.param(
            "A `log` message whose message is 42",
            ascii_line("log", {"message": 42, "level": "info"}),
            None,
            "ParameterCheckError",
            id="non-string-log",
        ),
        pytest.param(
            "A lone surrogate in `log_external_stream` text (stdout strict UTF-8, as on a pipe or terminal)",
            LONE_SURROGATE,
            "open",
            "UnicodeEncodeError",
            id="lone-surrogate-stream",
        ),
        pytest.param(
            "`log_external_stream` with stdout closed", STREAM_TEXT, "closed", "ValueError", id="closed-stdout"
        ),
        pytest.param(
            "An unknown method", ascii_line("teleport", {}), None, "DagsterPipesExecutionError", id="unknown-method"
        ),
        pytest.param(
            "A `closed` exception whose message is 1", BAD_CLOSED, None, "TypeError", id="badly-typed-closed-exception"
        ),
        pytest.param(
            "A materialization whose table metadata Dagster's types refuse",
            BAD_TABLE,
            None,
            "ParameterCheckError",
            id="refused-result",
        ),
    ],
)
def test_dagster_stops_reading_when_handling_one_message_fails(
    what: str,
    message: str,
    stdout: Optional[str],
    error: str,
    monkeypatch: pytest.MonkeyPatch,
    observe: Callable[[str], None],
) -> None:
    """A message whose handling raises, between two custom messages."""
    if stdout:
        monkeypatch.setattr(sys, "stdout", utf8_stdout(closed=stdout == "closed"))
    run = run_in_dagster(append(opened() + custom(1) + message + custom(2) + closed()))
    assert run.reader_errors == [error]
    assert run.custom_messages == [1]
    observe(f"{what}: {run.summary([1, 2])}")


@pytest.mark.reliability("handler-exceptions")
def test_dagster_warns_about_every_message_after_closed(observe: Callable[[str], None]) -> None:
    """20 custom messages after ``closed`` (all in one write of under a page, so never read in part)."""
    run = run_in_dagster(append(opened() + closed() + "".join(custom(i) for i in range(20))))
    after_closed = [w for w in run.warnings if w.startswith("[pipes] unexpected message received after closed")]
    assert len(after_closed) == 20
    assert run.custom_messages == list(range(20))
    observe("Each of 20 messages after `closed` is delivered with its own warning (20 warnings: no cap).")


# ----- blob-store chunks -----


class DirectoryChunks(dagster.PipesBlobStoreMessageReader):
    """Dagster's own blob-store reader over the simplest store: chunk N is ``DIR/N.json``."""

    def __init__(self, folder: Path) -> None:
        super().__init__(interval=0)
        self.folder = folder
        self.asked: list[int] = []
        """The index of every chunk asked for, in order."""

    @contextlib.contextmanager
    def get_params(self) -> Any:
        yield {"path": str(self.folder)}

    def download_messages_chunk(self, index: int, params: Any) -> Optional[str]:
        self.asked.append(index)
        path = Path(params["path"]) / f"{index}.json"
        return path.read_text() if path.exists() else None

    def messages_are_readable(self, params: Any) -> bool:
        return True

    def no_messages_debug_text(self) -> str:
        return f"chunks in {self.folder}"


def chunks(*contents: Optional[str]) -> Body:
    """A body writing each content as chunk 1, 2, ... (None: that chunk is skipped)."""

    def body(session: Any, folder: Path) -> None:
        for index, content in enumerate(contents, start=1):
            if content is not None:
                (folder / f"{index}.json").write_text(content)

    return body


@pytest.mark.reliability("blob-chunks")
def test_dagster_drops_a_bad_line_of_a_chunk_without_a_word(tmp_path: Path, observe: Callable[[str], None]) -> None:
    run = run_in_dagster(
        chunks(opened() + "not json\n" + custom(1), custom(2) + closed()), reader=DirectoryChunks(tmp_path)
    )
    assert run.custom_messages == [1, 2]
    assert not [w for w in run.warnings if "not json" in w]
    observe(f"A line that is not JSON inside a chunk is dropped and nothing says so: {run.summary([1, 2])}")


@pytest.mark.reliability("blob-chunks")
def test_dagster_stops_at_a_skipped_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, observe: Callable[[str], None]
) -> None:
    """Chunks 1 and 3 written, chunk 2 never: after the session closes, Dagster's reader asks for
    chunk 2 until its wait after the process ended runs out (shortened here to 1 s)."""
    wait = dagster_pipes_utils.WAIT_FOR_LOGS_AFTER_EXECUTION_INTERVAL
    monkeypatch.setattr(dagster_pipes_utils, "WAIT_FOR_LOGS_AFTER_EXECUTION_INTERVAL", 1)
    reader = DirectoryChunks(tmp_path)
    run = run_in_dagster(chunks(opened() + custom(1), None, custom(3) + closed()), reader=reader)
    assert run.custom_messages == [1]
    assert reader.asked[:2] == [1, 2] and set(reader.asked) == {1, 2}  # never past chunk 2
    assert run.reader_errors == []
    observe(
        f"A chunk the writer skipped stops the reader there: it asks for it until {wait} s after the process"
        f" ended, then gives up on everything after it without a warning: {run.summary([1, 3])}"
    )


# ----- files -----


@pytest.mark.reliability("unsafe-files")
@pytest.mark.parametrize("which", ["message", "context"])
def test_dagster_follows_a_symlinked_path_into_another_file(
    tmp_path: Path, which: str, observe: Callable[[str], None]
) -> None:
    """The message or context path is a symbolic link to a file that holds something else."""
    victim, link = tmp_path / "victim.txt", tmp_path / "link"
    victim.write_text("precious\n")
    link.symlink_to(victim)
    after: list[str] = []

    def body(session: Any, path: Path) -> None:
        after.append(victim.read_text())

    if which == "message":
        run_in_dagster(body, reader=dagster.PipesFileMessageReader(str(link)))
        assert after == [""]
        observe(
            "`PipesFileMessageReader` on a symbolic link opens it with `open(path, 'w')`: the link is followed "
            "and the file it points to is truncated to 0 bytes."
        )
    else:
        run_in_dagster(body, injector=dagster.PipesFileContextInjector(str(link)))
        assert json.loads(after[0])["job_name"] == "job"
        observe(
            "`PipesFileContextInjector` on a symbolic link follows it and overwrites the file it points to "
            "with the context JSON, extras included."
        )
    assert not link.is_symlink() and victim.exists()


# ----- bootstrap params, read by the external side (dagster_pipes) -----


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.mark.reliability("bootstrap-errors")
@pytest.mark.parametrize(
    ("what", "param", "error"),
    [
        pytest.param("not base64", "not base64 at all!", "binascii.Error", id="not-base64"),
        pytest.param("not zlib", b64(b"plain bytes"), "zlib.error", id="not-zlib"),
        pytest.param("not JSON", b64(zlib.compress(b"{not json")), "json.decoder.JSONDecodeError", id="not-json"),
        pytest.param("not UTF-8", b64(zlib.compress(b'"\xff\xfe"')), "UnicodeDecodeError", id="not-utf8"),
        pytest.param("empty", "", "zlib.error", id="empty"),
        pytest.param("an int", 12345, "TypeError", id="int"),
        pytest.param(
            "JSON nested 100,000 deep", b64(zlib.compress(b"[" * 100_000 + b"]" * 100_000)), "RecursionError", id="deep"
        ),
    ],
)
def test_dagster_pipes_lets_the_decoders_errors_out(
    what: str, param: Any, error: str, observe: Callable[[str], None]
) -> None:
    """A hostile bootstrap param given to dagster_pipes.decode_param."""
    with pytest.raises(Exception) as info:
        dagster_pipes.decode_param(param)
    raised = f"{type(info.value).__module__}.{type(info.value).__qualname__}".removeprefix("builtins.")
    assert raised == error
    assert not isinstance(info.value, dagster_pipes.DagsterPipesError)
    observe(f"A param that is {what}: `dagster_pipes.decode_param` raises `{raised}`, not a DagsterPipesError.")


@pytest.mark.reliability("param-bombs")
def test_dagster_pipes_inflates_a_bomb_whole(observe: Callable[[str], None]) -> None:
    """A param of under 200 kB that inflates to 80 MiB."""
    size = 80 * 1024 * 1024
    bomb = b64(zlib.compress(b'"' + b"a" * size + b'"', 9))
    assert len(dagster_pipes.decode_param(bomb)) == size
    observe(
        f"`dagster_pipes.decode_param` inflates a {len(bomb) // 1000} kB param to {size // 2**20} MiB in memory: "
        "there is no size limit."
    )


# ----- the external process -----


def wchan(pid: int) -> str:
    """Where in the kernel the process sleeps ("" once it is gone)."""
    try:
        return Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return ""


@pytest.mark.reliability("chatty-child")
def test_dagster_blocks_a_chatty_child_whose_output_it_captures(tmp_path: Path, observe: Callable[[str], None]) -> None:
    """A child writing 1 MiB to stdout under PipesSubprocessClient(forward_stdio=False), in a materialization."""
    pid_file = tmp_path / "pid"
    child = [
        sys.executable,
        "-c",
        "import os, sys\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "sys.stdout.write('x' * 2**20)\nsys.stdout.flush()\n",
    ]
    blocked_in: list[str] = []

    def kill_once_blocked() -> None:
        wait_until(lambda: pid_file.exists() and pid_file.read_text() != "", "the child to start")
        pid = int(pid_file.read_text())
        try:
            wait_until(lambda: "pipe_write" in wchan(pid) or not wchan(pid), "the child to block or finish")
            blocked_in.append(wchan(pid))
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    @dagster.asset(required_resource_keys={"pipes"})
    def chatty(context):  # noqa: ANN001, ANN202 - Dagster checks the annotation by identity
        return context.resources.pipes.run(context=context, command=child).get_results()

    killer = threading.Thread(target=kill_once_blocked, daemon=True)
    killer.start()
    result = dagster.materialize(
        [chatty],
        resources={"pipes": dagster.PipesSubprocessClient(forward_stdio=False)},
        raise_on_error=False,
        run_config=QUIET,
    )
    killer.join(WAIT)
    assert blocked_in and "pipe_write" in blocked_in[0]
    assert not result.success
    observe(
        "`PipesSubprocessClient(forward_stdio=False)` waits for the child without reading its pipes: a child "
        "writing 1 MiB to stdout blocks on the full pipe for good (the test found it asleep in "
        f"`{blocked_in[0].strip()}` and killed it; the step then failed)."
    )
