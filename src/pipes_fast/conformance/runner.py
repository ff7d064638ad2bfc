"""Runs a command as a Pipes external process once per case and checks what it sent.

Each run gets a real bootstrap: the context through a pipes_fast context injector (a temporary
file, or inline), and a fresh owner-only message file that the runner reads raw once the process
has exited, so that every line is judged as written.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Mapping, Sequence
from typing import Optional

from pipes_fast._codec import encode_param
from pipes_fast._files import removed_on_exit, temp_private_file
from pipes_fast.conformance.cases import STANDARD_CASES, Case
from pipes_fast.conformance.report import CaseReport
from pipes_fast.conformance.rules import validate_stream
from pipes_fast.conformance.violations import Violation, violation
from pipes_fast.errors import PipesExecutionError
from pipes_fast.injectors import PipesContextInjector, PipesEnvContextInjector, PipesTempFileContextInjector
from pipes_fast.protocol import DAGSTER_PIPES_CONTEXT_ENV_VAR, DAGSTER_PIPES_MESSAGES_ENV_VAR

DEFAULT_TIMEOUT = 60.0
STDERR_TAIL_LINES = 20
_KILLED_DRAIN_SECONDS = 5.0

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
        lines = _read_all(fd).split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # the newline ending the last line
    found = validate_stream(lines, case.context) + _process_violations(exit_status, stderr, timeout)
    tail = "\n".join(stderr.decode("utf-8", "replace").splitlines()[-STDERR_TAIL_LINES:])
    return CaseReport(case.name, len(lines), tuple(found), exit_status, tail)


def _run(
    command: Sequence[str], env: Mapping[str, str], cwd: Optional[str], timeout: float
) -> tuple[Optional[int], bytes]:
    """Run to completion within ``timeout``: the exit status (None if killed at the timeout), and stderr."""
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
            start_new_session=True,  # its whole process group is killed at the timeout
        )
    except OSError as exc:
        raise PipesExecutionError(f"cannot run {command[0]!r}: {exc.strerror or exc}") from None
    with process:
        try:
            _, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:  # the group ended meanwhile
                pass
            try:
                _, stderr = process.communicate(timeout=_KILLED_DRAIN_SECONDS)
            except subprocess.TimeoutExpired:  # a descendant in another group holds stderr open
                stderr = b""
            return None, stderr
        return process.returncode, stderr


def _read_all(fd: int) -> bytes:
    chunks = []
    offset = 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _process_violations(exit_status: Optional[int], stderr: bytes, timeout: float) -> list[Violation]:
    found: list[Violation] = []
    crash = CRASH_PATTERN.search(stderr.decode("utf-8", "replace"))
    if crash:
        found.append(
            violation("stderr-traceback", "the process reported a crash on stderr", text=crash.group().encode())
        )
    if exit_status is None:
        found.append(violation("timeout", f"the process was still running after {timeout:g} s and was killed"))
    elif exit_status != 0:
        found.append(violation("exit-status", f"the process exited with status {exit_status}"))
    return found
