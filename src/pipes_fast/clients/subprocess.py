"""Run an external process as a local subprocess inside a Pipes session."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Callable, Optional, Union

from pipes_fast._system.signals import interrupts_held, sigterm_as_keyboard_interrupt
from pipes_fast.clients.base import PipesClient, PipesClientCompletedInvocation
from pipes_fast.context import StepContext
from pipes_fast.errors import PipesExecutionError
from pipes_fast.handler import format_exception
from pipes_fast.injectors import PipesContextInjector, PipesTempFileContextInjector
from pipes_fast.protocol import PipesExtras
from pipes_fast.readers import PipesMessageReader, PipesStdioMessageReader, PipesTempFileMessageReader
from pipes_fast.readers.stdio import write_to_own_stream
from pipes_fast.session import as_step_context, open_pipes_session

_STDERR_TAIL_CHARS = 2000

STDIO_DRAIN_SECONDS = 2.0
"""After the child exits, how long ``run`` goes on reading its captured stdout and stderr.

What the child wrote is in the pipes when it exits, so they reach end-of-file at once unless a
process it started (``cmd &``, a daemon) still holds them; that process gets this long to finish
its output, then the pipes are closed and its further writes fail (EPIPE or SIGPIPE)."""

_EXIT_POLL_SECONDS = 0.1  # how often the child's exit is checked where no pidfd reports it
_READ_BYTES = 65536


def _open_pidfd(pid: int) -> Optional[int]:
    """A file descriptor that becomes readable when process ``pid`` exits (Linux 5.3+), or None."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


class _Pipe:
    """Where what is read from one of the child's output pipes goes: through the stdio reader
    first if its messages come this way, then to this process's stream of the same name, or kept."""

    def __init__(self, name: str, reader: Optional[PipesStdioMessageReader], forward: bool) -> None:
        self.name = name
        self.captured: Optional[list[bytes]] = None if forward else []
        self._reader = reader

    @property
    def feeds_reader(self) -> bool:
        """Whether the stdio reader's messages come this way."""
        return self._reader is not None

    def take(self, data: bytes) -> None:
        """Some of the pipe's bytes."""
        self._put(data if self._reader is None else self._reader.feed(data))

    def end(self) -> None:
        """End-of-file."""
        if self._reader is not None:
            self._put(self._reader.end_of_stream())

    def _put(self, output: bytes) -> None:
        if not output:
            return
        if self.captured is None:
            write_to_own_stream(self.name, output)
        else:
            self.captured.append(output)


class _Child:
    """A started child process and its stdout and stderr pipes (those that were made).

    The pipes are read concurrently in the calling thread (a chatty child never blocks), while
    waiting for the child and for at most ``STDIO_DRAIN_SECONDS`` after it exited.
    """

    def __init__(self, process: subprocess.Popen[bytes], pipes: Sequence[_Pipe]) -> None:
        self.process = process
        self._selector = selectors.DefaultSelector()
        self._pipes: dict[int, _Pipe] = {}  # stdout first, then stderr
        self._exit_fd: Optional[int] = None
        for stream, pipe in zip((process.stdout, process.stderr), pipes):
            if stream is not None:
                self._pipes[stream.fileno()] = pipe
                self._selector.register(stream.fileno(), selectors.EVENT_READ)
        self._open = set(self._pipes)  # the pipes not yet at end-of-file
        if self._open:
            self._exit_fd = _open_pidfd(process.pid)
        if self._exit_fd is not None:
            self._selector.register(self._exit_fd, selectors.EVENT_READ)

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Read the pipes until the child exits or ``timeout`` passes; whether it exited."""
        deadline = None if timeout is None else time.monotonic() + timeout
        remaining = timeout
        while self._open and self.process.poll() is None:
            if remaining is not None and remaining <= 0:
                return False
            if self._exit_fd is None:  # nothing reports the exit: look again now and then
                remaining = _EXIT_POLL_SECONDS if remaining is None else min(remaining, _EXIT_POLL_SECONDS)
            self._read(remaining)
            remaining = None if deadline is None else deadline - time.monotonic()
        try:
            self.process.wait(None if remaining is None else max(remaining, 0))
        except subprocess.TimeoutExpired:
            return False
        return True

    def finish(self) -> tuple[Optional[str], Optional[str]]:
        """Once the child exited: read what is left (for at most ``STDIO_DRAIN_SECONDS``), close
        the pipes and return the captured stdout and stderr (None where not captured)."""
        deadline = time.monotonic() + STDIO_DRAIN_SECONDS
        while self._open and (remaining := deadline - time.monotonic()) > 0:
            self._read(remaining)
        self.close()
        captured = {pipe.name: pipe.captured for pipe in self._pipes.values()}
        stdout, stderr = (
            None if chunks is None else b"".join(chunks).decode("utf-8", "replace")
            for chunks in (captured.get("stdout"), captured.get("stderr"))
        )
        return stdout, stderr

    def close(self) -> None:
        """Stop reading: close the pipes and the exit watch (safe to call again)."""
        cut_short, self._open = self._open, set()
        self._selector.close()
        if self._exit_fd is not None:
            os.close(self._exit_fd)
            self._exit_fd = None
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        for fd in cut_short:  # what the stdio reader held back from them ends here
            self._pipes[fd].end()

    def _read(self, timeout: Optional[float]) -> None:
        for key, _ in self._selector.select(timeout):
            if key.fd == self._exit_fd:  # the child exited: stop watching (it stays readable)
                self._selector.unregister(key.fd)
                os.close(key.fd)
                self._exit_fd = None
            elif data := os.read(key.fd, _READ_BYTES):
                self._pipes[key.fd].take(data)
            else:
                self._selector.unregister(key.fd)
                self._open.discard(key.fd)
                self._pipes[key.fd].end()


def _describe_exit(command: Union[str, Sequence[str]], returncode: int) -> str:
    shown = command if isinstance(command, str) else " ".join(map(str, command))
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"External execution process `{shown:.200}` was killed by {name}"
    return f"External execution process `{shown:.200}` failed with code {returncode}"


class PipesSubprocessClient(PipesClient):
    """Runs a command as a subprocess with the Pipes protocol.

    By default the context goes through a temporary file and messages come back through another.
    ``forward_stdio=False`` captures the child's stdout and stderr (read concurrently, so a chatty
    child never blocks) and puts them on the completed invocation. With a
    :class:`~pipes_fast.readers.PipesStdioMessageReader`, the child's stream it names is piped and
    read concurrently too: its messages are handled as they arrive and the rest of its output is
    forwarded to this process's stream of the same name (or captured). Once the child exited, the
    pipes are read for at most ``STDIO_DRAIN_SECONDS`` (2 s) more, so a process it left running that still
    holds them does not hold up ``run``. With ``forward_termination``, an interrupt
    (KeyboardInterrupt, or SIGTERM while ``run`` is in progress) sends SIGINT to the child, waits
    ``termination_timeout_seconds``, kills it if still alive, and re-raises; a second interrupt
    during that wait kills it at once. Either way the child is reaped and the temporary files
    are removed.
    """

    _default_context_injector: Callable[[], PipesContextInjector] = PipesTempFileContextInjector
    _default_message_reader: Callable[[], PipesMessageReader] = PipesTempFileMessageReader
    """What a client given no injector or reader uses (a subclass may make them its own kind)."""

    _execution_error: type[PipesExecutionError] = PipesExecutionError
    """What a failed run raises."""

    _invocation: Callable[..., Any] = PipesClientCompletedInvocation
    """What a completed run returns, made from the session and the captured stdout and stderr."""

    def __init__(
        self,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        context_injector: Optional[PipesContextInjector] = None,
        message_reader: Optional[PipesMessageReader] = None,
        forward_termination: bool = True,
        forward_stdio: bool = True,
        termination_timeout_seconds: float = 20,
    ) -> None:
        self.env = dict(env or {})
        self.cwd = cwd
        self.context_injector = context_injector or self._default_context_injector()
        self.message_reader = message_reader or self._default_message_reader()
        self.forward_termination = forward_termination
        self.forward_stdio = forward_stdio
        self.termination_timeout_seconds = termination_timeout_seconds

    def run(  # type: ignore[override]
        self,
        *,
        context: StepContext,
        extras: Optional[PipesExtras] = None,
        command: Union[str, Sequence[str]],
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
    ) -> PipesClientCompletedInvocation:
        """Run ``command`` to completion in a Pipes session and return what it reported.

        Raises ``PipesExecutionError`` if the command cannot start or exits non-zero (after every
        message it wrote has been handled). Inside Dagster, use
        ``pipes_fast.dagster.PipesSubprocessClient`` (same arguments, Dagster's result types); a
        Dagster context here raises ``TypeError``.
        """
        step = as_step_context(context, "pipes_fast.dagster.PipesSubprocessClient")
        completed: PipesClientCompletedInvocation = self._run(step, extras, command, env, cwd)
        return completed

    def _run(
        self,
        context: Any,
        extras: Optional[PipesExtras],
        command: Union[str, Sequence[str]],
        env: Optional[Mapping[str, str]],
        cwd: Optional[str],
    ) -> Any:
        """``run``, for this client's kind of session, invocation and error."""
        with sigterm_as_keyboard_interrupt(), self._open_session(context, extras) as session:
            full_env = {**os.environ, **self.env, **(env or {}), **session.get_bootstrap_env_vars()}
            process, stdout, stderr = self._run_process(command, cwd or self.cwd, full_env, session.context.log)
        if process.returncode != 0:
            message = _describe_exit(command, process.returncode)
            if session.message_handler.exception:
                message += f"\nThe external process reported: {format_exception(session.message_handler.exception)}"
            if stderr:
                message += f"\nLast of its stderr:\n{stderr[-_STDERR_TAIL_CHARS:]}"
            raise self._execution_error(message)
        return self._invocation(session, stdout=stdout, stderr=stderr)

    def _open_session(self, context: Any, extras: Optional[PipesExtras]) -> AbstractContextManager[Any]:
        """The session to run in."""
        return open_pipes_session(context, self.context_injector, self.message_reader, extras)

    def _run_process(
        self,
        command: Union[str, Sequence[str]],
        cwd: Optional[str],
        env: dict[str, str],
        log: Any,
    ) -> tuple[subprocess.Popen[bytes], Optional[str], Optional[str]]:
        """Start the process and wait for it; an interrupt from the moment it exists is forwarded."""
        reader = self.message_reader if isinstance(self.message_reader, PipesStdioMessageReader) else None
        pipes = [
            _Pipe(name, reader if reader and reader.stream == name else None, self.forward_stdio)
            for name in ("stdout", "stderr")
        ]
        stdout, stderr = (subprocess.PIPE if pipe.captured is not None or pipe.feeds_reader else None for pipe in pipes)
        process: Optional[subprocess.Popen[bytes]] = None
        child: Optional[_Child] = None
        try:
            try:
                with interrupts_held():
                    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=stdout, stderr=stderr)
            except OSError as exc:
                raise self._execution_error(f"could not start external process {command!r}: {exc}") from exc
            child = _Child(process, pipes)
            child.wait()
            captured_stdout, captured_stderr = child.finish()
            return process, captured_stdout, captured_stderr
        except BaseException:
            if process is not None and self.forward_termination and process.poll() is None:
                child = child or _Child(process, pipes)
                self._interrupt(child, log)
            raise
        finally:
            if process is not None and self.forward_termination and process.poll() is None:
                process.kill()  # it outlived the grace period, or another interrupt cut it short
                process.wait()
            if child is not None:
                child.close()

    def _interrupt(self, child: _Child, log: Any) -> None:
        """Send SIGINT and wait up to ``termination_timeout_seconds`` for the child to exit; a
        second interrupt ends the wait at once."""
        log.info("[pipes] execution interrupted, sending SIGINT to subprocess.")
        child.process.send_signal(signal.SIGINT)
        try:
            if not child.wait(self.termination_timeout_seconds):
                log.warning(
                    f"[pipes] subprocess still running {self.termination_timeout_seconds} s after SIGINT: killing it."
                )
        except KeyboardInterrupt:
            log.warning("[pipes] interrupted again: killing subprocess.")
