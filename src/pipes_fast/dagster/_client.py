"""Dagster's ``PipesSubprocessClient`` on pipes_fast: same arguments, Dagster's result types,
pipes_fast's stdio capture, termination handling and error messages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Optional, Union

import dagster

from pipes_fast.clients import subprocess as core
from pipes_fast.dagster._errors import PipesExecutionError
from pipes_fast.dagster._io import PipesTempFileContextInjector, PipesTempFileMessageReader
from pipes_fast.dagster._session import PipesSession, open_pipes_session
from pipes_fast.dagster._stderr_logs import stderr_level
from pipes_fast.protocol import PipesExtras


class PipesClientCompletedInvocation(dagster.PipesClientCompletedInvocation):
    """Dagster's completed invocation; ``stdout``/``stderr`` hold the captured output where the
    client captured it (else None)."""

    def __init__(
        self,
        session: PipesSession,
        metadata: Optional[Mapping[str, Any]] = None,
        *,
        stdout: Optional[str] = None,
        stderr: Optional[str] = None,
    ) -> None:
        super().__init__(session, metadata)
        self.stdout = stdout
        self.stderr = stderr


class PipesSubprocessClient(core.PipesSubprocessClient, dagster.PipesSubprocessClient):  # type: ignore[misc]
    """Dagster's ``PipesSubprocessClient`` (a Pipes client and resource), on pipes_fast.

    Same constructor and ``run`` as Dagster's; results are Dagster's own types. Beyond Dagster:
    ``forward_stdio=False`` captures stdout and stderr without ever blocking the child, an
    interrupt (Dagster's, KeyboardInterrupt or SIGTERM) is forwarded as SIGINT then a kill after
    ``termination_timeout_seconds``, and a failure raises :class:`PipesExecutionError` naming the
    exception the external process reported and the tail of its stderr. Injectors and readers may
    be pipes_fast's or Dagster's.

    ``log_to_stderr_below`` (a level name such as ``"WARNING"``, or a number; None by default)
    writes the external process's log lines below that level to the step's stderr, which Dagster
    captures and shows in the run's stderr view, instead of one Dagster event each (see
    :func:`open_pipes_session`): for processes that log thousands of lines.
    """

    _default_context_injector = PipesTempFileContextInjector
    _default_message_reader = PipesTempFileMessageReader
    _execution_error = PipesExecutionError
    _invocation = PipesClientCompletedInvocation

    def __init__(
        self,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        context_injector: Any = None,
        message_reader: Any = None,
        forward_termination: bool = True,
        forward_stdio: bool = True,
        termination_timeout_seconds: float = 20,
        *,
        log_to_stderr_below: Union[str, int, None] = None,
    ) -> None:
        super().__init__(
            env, cwd, context_injector, message_reader, forward_termination, forward_stdio, termination_timeout_seconds
        )
        stderr_level(log_to_stderr_below)  # refused here rather than at the first run
        self.log_to_stderr_below = log_to_stderr_below

    def run(  # type: ignore[override]
        self,
        *,
        context: Any,
        extras: Optional[PipesExtras] = None,
        command: Union[str, Sequence[str]],
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
    ) -> PipesClientCompletedInvocation:
        """Run ``command`` to completion in a Pipes session; raises :class:`PipesExecutionError`
        if it cannot start or exits non-zero (after every message it wrote has been handled)."""
        completed: PipesClientCompletedInvocation = self._run(context, extras, command, env, cwd)
        return completed

    def _open_session(self, context: Any, extras: Optional[PipesExtras]) -> AbstractContextManager[Any]:
        return open_pipes_session(
            context, self.context_injector, self.message_reader, extras, log_to_stderr_below=self.log_to_stderr_below
        )
