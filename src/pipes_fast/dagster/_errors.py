"""The error a Pipes step fails with inside Dagster."""

from __future__ import annotations

from pipes_fast import errors
from pipes_fast.dagster._internals import DagsterPipesExecutionError


class PipesExecutionError(DagsterPipesExecutionError, errors.PipesExecutionError):
    """The external process failed, or reported results Dagster cannot record: Dagster's
    ``DagsterPipesExecutionError`` and pipes_fast's ``PipesExecutionError`` at once, so either
    ``except`` catches it."""


PipesExecutionError.__module__ = "pipes_fast.dagster"  # where users import it from, shown in tracebacks
