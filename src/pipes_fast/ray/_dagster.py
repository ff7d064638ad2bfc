"""``PipesRayJobClient`` inside Dagster: Dagster's session, result types and errors."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Optional

from pipes_fast.dagster import PipesClientCompletedInvocation, PipesExecutionError, open_pipes_session
from pipes_fast.protocol import PipesExtras
from pipes_fast.ray import _client as core
from pipes_fast.readers.base import PipesMessageReader


class PipesRayJobClient(core.PipesRayJobClient):
    """``pipes_fast.ray.PipesRayJobClient`` for a Dagster op or asset context: what ``run``
    returns holds Dagster's ``MaterializeResult``/``AssetCheckResult``; a failure raises
    ``pipes_fast.dagster.PipesExecutionError`` (Dagster's ``DagsterPipesExecutionError`` too)."""

    _execution_error = PipesExecutionError
    _invocation = PipesClientCompletedInvocation

    def _job_metadata(self, context: Any) -> dict[str, str]:
        """The run's tags for external resources (run id, job, partition, ...), as dagster-ray adds them."""
        return dict(context.run.dagster_execution_info)

    def _open_session(self, context: Any, reader: PipesMessageReader, extras: Optional[PipesExtras]) -> AbstractContextManager[Any]:
        return open_pipes_session(context, self.context_injector, reader, extras)
