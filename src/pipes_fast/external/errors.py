"""The error and warning of the external side, under the names dagster-pipes users catch."""

from __future__ import annotations

from pipes_fast.errors import PipesError, PipesWarning


class DagsterPipesError(PipesError):
    """A Pipes call in the external process was given something it cannot accept."""


class DagsterPipesWarning(PipesWarning):
    """A recoverable problem in the external process (e.g. not launched by an orchestrator)."""
