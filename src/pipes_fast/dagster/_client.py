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
    """

    _default_context_injector = PipesTempFileContextInjector
    _default_message_reader = PipesTempFileMessageReader
    _execution_error = PipesExecutionError
    _invocation = PipesClientCompletedInvocation

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
        return open_pipes_session(context, self.context_injector, self.message_reader, extras)
