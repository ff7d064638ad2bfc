"""Run an external process as a local subprocess inside a Pipes session."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Optional, Union

from pipes_fast.clients.base import PipesClient, PipesClientCompletedInvocation
from pipes_fast.context import StepContext
from pipes_fast.errors import PipesExecutionError
from pipes_fast.handler import format_exception
from pipes_fast.injectors import PipesContextInjector, PipesTempFileContextInjector
from pipes_fast.protocol import PipesExtras
from pipes_fast.readers import PipesMessageReader, PipesTempFileMessageReader
from pipes_fast.session import as_step_context, open_pipes_session

_STDERR_TAIL_CHARS = 2000


@contextmanager
def _sigterm_as_keyboard_interrupt() -> Iterator[None]:
    """While open, SIGTERM raises KeyboardInterrupt (main thread, default handler only)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"received signal {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


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
    child never blocks) and puts them on the completed invocation. With ``forward_termination``,
    an interrupt (KeyboardInterrupt, or SIGTERM while ``run`` waits) sends SIGINT to the child,
    waits ``termination_timeout_seconds``, kills it if still alive, and re-raises.
    """

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
        self.context_injector = context_injector or PipesTempFileContextInjector()
        self.message_reader = message_reader or PipesTempFileMessageReader()
        self.forward_termination = forward_termination
        self.forward_stdio = forward_stdio
        self.termination_timeout_seconds = termination_timeout_seconds

    def run(  # type: ignore[override]
        self,
        *,
        context: Any,
        extras: Optional[PipesExtras] = None,
        command: Union[str, Sequence[str]],
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
    ) -> PipesClientCompletedInvocation:
        """Run ``command`` to completion in a Pipes session and return what it reported.

        Raises ``PipesExecutionError`` if the command cannot start or exits non-zero (after every
        message it wrote has been handled).
        """
        step = as_step_context(context)
        capture = None if self.forward_stdio else subprocess.PIPE
        with open_pipes_session(step, self.context_injector, self.message_reader, extras) as session:
            full_env = {**os.environ, **self.env, **(env or {}), **session.get_bootstrap_env_vars()}
            process, stdout, stderr = self._run_process(command, cwd or self.cwd, full_env, capture, step)
        if process.returncode != 0:
            message = _describe_exit(command, process.returncode)
            if session.message_handler.exception:
                message += f"\nThe external process reported: {format_exception(session.message_handler.exception)}"
            if stderr:
                message += f"\nLast of its stderr:\n{stderr[-_STDERR_TAIL_CHARS:]}"
            raise PipesExecutionError(message)
        return PipesClientCompletedInvocation(session, stdout=stdout, stderr=stderr)

    def _run_process(
        self,
        command: Union[str, Sequence[str]],
        cwd: Optional[str],
        env: dict[str, str],
        capture: Optional[int],
        step: StepContext,
    ) -> tuple[subprocess.Popen[bytes], Optional[str], Optional[str]]:
        """Start the process and wait for it; an interrupt from the moment it exists is forwarded."""
        process: Optional[subprocess.Popen[bytes]] = None
        try:
            with _sigterm_as_keyboard_interrupt():
                try:
                    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=capture, stderr=capture)
                except OSError as exc:
                    raise PipesExecutionError(f"could not start external process {command!r}: {exc}") from exc
                out, err = process.communicate()
        except BaseException:
            if process is not None and self.forward_termination and process.poll() is None:
                step.log.info("[pipes] execution interrupted, sending SIGINT to subprocess.")
                self._terminate(process)
            raise
        decode = lambda data: None if data is None else data.decode("utf-8", "replace")  # noqa: E731
        return process, decode(out), decode(err)

    def _terminate(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=self.termination_timeout_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
