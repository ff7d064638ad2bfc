"""Every private Dagster name pipes_fast uses, in one place.

Dagster keeps parts of its Pipes machinery in ``dagster._core``, which a release may move or
rename. pipes_fast imports them from here only, and ``tests/in_dagster/test_dagster_internals.py`` checks each
against the installed Dagster, so a release that moves one fails in one place, naming it. Why
each is needed:

- ``DagsterPipesExecutionError``: ``pipes_fast.dagster.PipesExecutionError`` is one, so that
  ``except`` clauses written for Dagster's clients catch pipes_fast's failures.
- ``DagsterChunkedLogReader`` (Dagster's ``PipesChunkedLogReader``): the adapter's chunked log
  reader is one, so Dagster's log-reading readers accept it.
- ``FAIL_TO_YIELD_ERROR_MESSAGE``: what an asset that returns none of its session's results fails
  with, Dagster's own words.
- ``NoValueSentinel``: the "no data version" default a ``MaterializeResult`` is built with when
  the adapter builds one field by field (its fast path).
- ``metadata_value_from_external``: Dagster's conversion of a metadata value reported by the
  external process, so both sides agree by construction.
- ``build_external_execution_context_data``: the context data Dagster sends for a step.
- ``extract_message_or_forward_to_file``: Dagster's handling of a stdio line (the benchmarks
  compare against it).
- ``ChildMessageHandler`` (Dagster's ``_ChildMessageHandler``, Dagster 1.13.1 and later; before,
  an empty tuple, which no ``isinstance`` matches): what Dagster's ``PipesCompositeMessageReader``
  hands each of its readers.
- ``reattach`` (``dagster._core.pipes.reattach``, Dagster 1.13.21 and later, else None): the
  launch handles with which a retried step finds the Ray job its earlier attempt launched.

Beyond imports, the adapter relies on these private members: ``PipesMessageHandler``'s
``_handle_opened``, ``_handle_closed``, ``_handle_log``, ``_handle_log_external_stream``,
``_context`` and ``_message_reader``; ``_ChildMessageHandler``'s ``_handler`` and ``_reader``;
``MaterializeResult._replace`` and ``AssetCheckResult._replace`` (named tuples). The test checks
those that a class shows.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Optional

from dagster._core.definitions.metadata.external_metadata import metadata_value_from_external
from dagster._core.definitions.utils import NoValueSentinel
from dagster._core.errors import DagsterPipesExecutionError
from dagster._core.pipes import utils as _pipes_utils
from dagster._core.pipes.context import build_external_execution_context_data
from dagster._core.pipes.utils import _FAIL_TO_YIELD_ERROR_MESSAGE as FAIL_TO_YIELD_ERROR_MESSAGE
from dagster._core.pipes.utils import PipesChunkedLogReader as DagsterChunkedLogReader
from dagster._core.pipes.utils import extract_message_or_forward_to_file

ChildMessageHandler: Any = getattr(_pipes_utils, "_ChildMessageHandler", ())

reattach: Optional[ModuleType]
try:
    from dagster._core.pipes import reattach
except ImportError:  # a Dagster before launch handles: every attempt launches a new job
    reattach = None

__all__ = [
    "FAIL_TO_YIELD_ERROR_MESSAGE",
    "ChildMessageHandler",
    "DagsterChunkedLogReader",
    "DagsterPipesExecutionError",
    "NoValueSentinel",
    "build_external_execution_context_data",
    "extract_message_or_forward_to_file",
    "metadata_value_from_external",
    "reattach",
]
