"""Runs a command as a Pipes external process once per case and checks what it sent.

Each run gets a real bootstrap: the context through a pipes_fast context injector (a temporary
file, or inline), and a fresh owner-only message file that the runner reads raw once the process
has exited, so that every line is judged as written.

The process runs in a session of its own and is judged by its own exit: once it has exited, its
stderr is read for at most ``DRAIN_AFTER_EXIT_SECONDS`` more (a background process it left may
hold the pipe open), then its whole process group is killed, at the end of every case. Memory is
bounded whatever the process writes: of stderr only the last lines are kept (each cut short), and
a message line longer than pipes_fast's line limit is reported without being held.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from typing import Optional

from pipes_fast._logic.codec import encode_param
from pipes_fast._system.files import removed_on_exit, temp_private_file
from pipes_fast.conformance.cases import STANDARD_CASES, Case
from pipes_fast.conformance.report import CaseReport
from pipes_fast.conformance.rules import StreamValidator
from pipes_fast.conformance.violations import Violation, violation
from pipes_fast.errors import PipesExecutionError
from pipes_fast.injectors import PipesContextInjector, PipesEnvContextInjector, PipesTempFileContextInjector
from pipes_fast.protocol import DAGSTER_PIPES_CONTEXT_ENV_VAR, DAGSTER_PIPES_MESSAGES_ENV_VAR, DEFAULT_MAX_LINE_BYTES

DEFAULT_TIMEOUT = 60.0
STDERR_TAIL_LINES = 20
STDERR_LINE_BYTES = 1000
"""How much of each stderr line is kept for the report (and searched for a crash)."""
DRAIN_AFTER_EXIT_SECONDS = 1.0
_READ_BYTES = 1 << 16
_POLL_SECONDS = 0.05
_EXCERPT_BYTES = 200

CRASH_PATTERN = re.compile(
    r"^(?:Traceback \(most recent call last\):"  # Python
    r"|panic: |goroutine \d+ \[running\]:"  # Go
    r"|thread '.*' panicked at"  # Rust
    r"|Exception in thread "  # Java
    r"|\*\* \(\w+(\.\w+)*Error\)"  # Elixir
    r"|Unhandled exception"  # .NET
    r"|Segmentation fault).*$",
    re.MULTILINE,
)
"""A line on stderr showing that the process crashed, in the languages Pipes clients exist in."""


def check_command(
    command: Sequence[str],
    cases: Sequence[Case] = STANDARD_CASES,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
) -> list[CaseReport]:
    """Run ``command`` once per case (each run bounded by ``timeout`` seconds) and report what
    each run broke. ``env`` is added to this process's environment. A command that cannot be
    started raises :class:`~pipes_fast.PipesExecutionError`."""
    return [run_case(command, case, timeout=timeout, env=env, cwd=cwd) for case in cases]


def run_case(
    command: Sequence[str],
    case: Case,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
) -> CaseReport:
    """Run ``command`` under one case and report what it broke."""
    injector: PipesContextInjector = (
        PipesEnvContextInjector() if case.inline_context else PipesTempFileContextInjector()
    )
    fd, messages_path = temp_private_file("pipes_fast-check-")
    with removed_on_exit(messages_path, fd), injector.inject_context(case.context) as context_params:
        child_env = {
            **os.environ,
            **(env or {}),
            DAGSTER_PIPES_CONTEXT_ENV_VAR: encode_param(context_params),
            DAGSTER_PIPES_MESSAGES_ENV_VAR: encode_param({"path": messages_path, "include_stdio_in_messages": False}),
        }
        exit_status, stderr = _run(command, child_env, cwd, timeout)
        lines, found = _judge_messages(fd, case)
    found += _process_violations(exit_status, stderr.crash, timeout)
    violations = tuple(each for each in found if not each.warning)
    warnings = tuple(each for each in found if each.warning)
    return CaseReport(case.name, lines, violations, exit_status, stderr.tail(), warnings)


class StderrTail:
    """What is kept of a process's stderr, in bounded memory: its last ``STDERR_TAIL_LINES``
    lines, each cut to ``STDERR_LINE_BYTES``, and the first line that shows a crash."""

    def __init__(self) -> None:
        self._lines: deque[bytes] = deque(maxlen=STDERR_TAIL_LINES)
        self._partial = bytearray()
        self.crash: Optional[str] = None

    def feed(self, data: bytes) -> None:
        """Take the next bytes the process wrote."""
        *complete, rest = data.split(b"\n")
        for piece in complete:
            self._take(piece)
            self._end_line()
        self._take(rest)

    def tail(self) -> str:
        """The last lines, decoded (invalid UTF-8 replaced), joined by newlines."""
        lines = [*self._lines, bytes(self._partial)] if self._partial else list(self._lines)
        return "\n".join(line.decode("utf-8", "replace") for line in lines[-STDERR_TAIL_LINES:])

    def finish(self) -> None:
        """The stream has ended: a last line without its newline is a line too."""
        if self._partial:
            self._end_line()

    def _take(self, piece: bytes) -> None:
        room = STDERR_LINE_BYTES - len(self._partial)
        if room > 0:
            self._partial += piece[:room]

    def _end_line(self) -> None:
        line = bytes(self._partial).rstrip(b"\r")
        self._partial.clear()
        self._lines.append(line)
        if self.crash is None and (crash := CRASH_PATTERN.match(line.decode("utf-8", "replace"))):
            self.crash = crash.group()


def _run(
    command: Sequence[str], env: Mapping[str, str], cwd: Optional[str], timeout: float
) -> tuple[Optional[int], StderrTail]:
    """Run within ``timeout`` in a session of its own, then kill what is left of its process
    group: the exit status (None if it was still running at the timeout), and its stderr."""
    if not command:
        raise PipesExecutionError("no command to check")
    try:
        process = subprocess.Popen(
            list(command),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise PipesExecutionError(f"cannot run {command[0]!r}: {exc.strerror or exc}") from None
    stderr = StderrTail()
    with process:
        try:
            exit_status = _watch(process, stderr, timeout)
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # its background processes, or itself at the timeout
            except (ProcessLookupError, PermissionError):  # the group is gone
                pass
    stderr.finish()
    return exit_status, stderr


def _watch(process: subprocess.Popen[bytes], stderr: StderrTail, timeout: float) -> Optional[int]:
    """Read the process's stderr until it ends, or until ``timeout`` passes, or until
    ``DRAIN_AFTER_EXIT_SECONDS`` after the process exited; its exit status, None if it has not."""
    assert process.stderr is not None
    fd = process.stderr.fileno()
    deadline = time.monotonic() + timeout
    exit_status: Optional[int] = None
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while selector.get_map() and (left := deadline - time.monotonic()) > 0:
            if exit_status is None and (exit_status := process.poll()) is not None:
                deadline = time.monotonic() + DRAIN_AFTER_EXIT_SECONDS
            if selector.select(min(left, _POLL_SECONDS)):
                chunk = os.read(fd, _READ_BYTES)
                if chunk:
                    stderr.feed(chunk)
                else:
                    selector.unregister(fd)
    if exit_status is None:  # stderr closed before the process exited, or the time is up
        try:
            exit_status = process.wait(max(deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            pass
    return exit_status


def _judge_messages(fd: int, case: Case) -> tuple[int, list[Violation]]:
    """How many lines the message file holds, and what they break."""
    validator = StreamValidator(case.context)
    found: list[Violation] = []
    number = 0
    for number, (line, whole) in enumerate(_message_lines(fd, DEFAULT_MAX_LINE_BYTES), 1):
        if whole:
            found += validator.feed(number, line)
        else:
            message = f"the line is longer than {DEFAULT_MAX_LINE_BYTES} bytes, where pipes_fast cuts it"
            found.append(violation("line-too-long", message, number, line))
    return number, found + validator.finish()


def _message_lines(fd: int, limit: int) -> Iterator[tuple[bytes, bool]]:
    """The lines of the file open at ``fd``, without their newline, each with whether it is whole:
    a line longer than ``limit`` bytes comes as its first bytes only, never held whole."""
    pending = bytearray()
    whole = True
    offset = 0
    while chunk := os.pread(fd, _READ_BYTES * 16, offset):
        offset += len(chunk)
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if whole:
                pending += chunk[start:] if end < 0 else chunk[start:end]
                if len(pending) > limit:
                    whole = False
                    del pending[_EXCERPT_BYTES:]
            if end < 0:
                break
            yield bytes(pending), whole
            pending.clear()
            whole, start = True, end + 1
    if pending or not whole:
        yield bytes(pending), whole


def _process_violations(exit_status: Optional[int], crash: Optional[str], timeout: float) -> list[Violation]:
    found: list[Violation] = []
    if crash is not None:
        found.append(violation("stderr-traceback", "the process showed a crash on stderr", text=crash.encode()))
    if exit_status is None:
        found.append(violation("timeout", f"the process was still running after {timeout:g} s and was killed"))
    elif exit_status != 0:
        found.append(violation("exit-status", f"the process exited with status {exit_status}"))
    return found
