"""Dagster's Pipes session on pipes_fast's hot path: results come out as Dagster's own types."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Optional, Union

import dagster

from pipes_fast.dagster._context import context_data, execution_context
from pipes_fast.dagster._convert import DagsterResult
from pipes_fast.dagster._errors import PipesExecutionError
from pipes_fast.dagster._handler import DagsterBridge, PipesMessageHandler
from pipes_fast.dagster._internals import FAIL_TO_YIELD_ERROR_MESSAGE
from pipes_fast.dagster._stderr_logs import stderr_level
from pipes_fast.protocol import PipesExtras, PipesParams
from pipes_fast.session import is_dagster_context, run_session


def with_metadata(results: Sequence[DagsterResult], metadata: Optional[Mapping[str, Any]]) -> tuple[DagsterResult, ...]:
    """The results with ``metadata`` merged into each (it wins on name clashes), as Dagster does."""
    if not metadata:
        return tuple(results)
    return tuple(r._replace(metadata=_merged(r.metadata, metadata)) for r in results)


def _merged(metadata: Optional[Mapping[str, Any]], more: Mapping[str, Any]) -> dict[str, Any]:
    return {**(metadata or {}), **more}


@dataclasses.dataclass
class PipesSession(dagster.PipesSession):
    """Dagster's ``PipesSession``: :meth:`get_results`, :meth:`get_reported_results` and
    :meth:`get_custom_messages` return everything received so far at every call, as Dagster's do.

    Beyond Dagster, :meth:`drain_results` and :meth:`drain_custom_messages` stream: each result or
    payload comes out once, so a long-running process's results can be yielded as they come.
    """

    closed: bool = False
    """True once the session has closed and every message written was handled."""
    _implicit_done: bool = dataclasses.field(default=False, repr=False)

    @property
    def _bridge(self) -> DagsterBridge:
        handler: PipesMessageHandler = self.message_handler  # type: ignore[assignment]
        return handler.core

    def get_results(
        self, *, implicit_materializations: bool = True, metadata: Optional[Mapping[str, Any]] = None
    ) -> tuple[DagsterResult, ...]:
        """Every result received so far, as Dagster's types, with ``metadata`` merged into each,
        then (unless ``implicit_materializations`` is False) a materialization for every selected
        asset that none was reported for — at every call, as Dagster's ``get_results``.

        Raises :class:`PipesExecutionError` if the external process reported a result the step
        cannot record (see :meth:`raise_for_refused_results`).
        """
        self.raise_for_refused_results()
        reported = self._bridge.get_reported_results()
        if implicit_materializations:
            reported += self._implicit(reported)
        return with_metadata(reported, metadata)

    def get_reported_results(self) -> tuple[DagsterResult, ...]:
        """Every result the external process reported so far, as Dagster's types."""
        return self._bridge.get_reported_results()

    def drain_results(
        self, *, implicit_materializations: bool = True, metadata: Optional[Mapping[str, Any]] = None
    ) -> tuple[DagsterResult, ...]:
        """Results received since the last drain, with ``metadata`` merged in: call it while the
        process runs and once more after the ``open_pipes_session`` block, and each result comes
        out once (``yield from session.drain_results()``). After the session closed, the implied
        materializations come (once) with the rest, unless ``implicit_materializations`` is False.
        """
        self.raise_for_refused_results()
        results = tuple(self._bridge.drain_results())
        if implicit_materializations and self.closed and not self._implicit_done:
            self._implicit_done = True
            results += self._implicit(self._bridge.get_reported_results())
        return with_metadata(results, metadata)

    def drain_custom_messages(self, *, max_messages: Optional[int] = None) -> list[Any]:
        """Payloads of ``report_custom_message`` received since the last drain, then forgotten
        (see ``pipes_fast.PipesSession.drain_custom_messages``: with ``max_messages``, memory
        stays bounded through close)."""
        return self._bridge.drain_custom_messages(max_messages)

    def raise_for_refused_results(self) -> None:
        """Raise :class:`PipesExecutionError` naming each result the external process reported
        that the step cannot record (an asset outside the step, a check it does not run, metadata
        Dagster refuses): the step fails rather than succeed without them."""
        bridge = self._bridge
        if bridge.refused_count:
            shown = "\n".join(f"  {text.removeprefix('[pipes] skipped ')}" for text in bridge.refused)
            more = bridge.refused_count - len(bridge.refused)
            raise PipesExecutionError(
                f"[pipes] the external process reported {bridge.refused_count} result(s) this step"
                f" cannot record:\n{shown}" + (f"\n  ... and {more} more" if more > 0 else "")
            )

    def _implicit(self, reported: tuple[DagsterResult, ...]) -> tuple[DagsterResult, ...]:
        """Materializations for the selected assets none of ``reported`` materialized."""
        context = self.context
        if not context.has_assets_def:
            return ()
        materialized = {result.asset_key for result in reported if isinstance(result, dagster.MaterializeResult)}
        return tuple(
            dagster.MaterializeResult(asset_key=key)
            for key in sorted(context.selected_asset_keys)
            if key not in materialized
        )


@contextmanager
def open_pipes_session(
    context: Any,
    context_injector: Any,
    message_reader: Any,
    extras: Optional[PipesExtras] = None,
    *,
    log_to_stderr_below: Union[str, int, None] = None,
) -> Iterator[PipesSession]:
    """Dagster's ``open_pipes_session``, on pipes_fast's hot path; the session's results are
    Dagster's own, so ``return session.get_results()`` (or ``yield from``) works in an asset,
    multi-asset, asset check or op. ``context`` may be an ``AssetCheckExecutionContext`` too.

    ``context_injector`` and ``message_reader`` may be pipes_fast's or Dagster's. Once the
    stream has been read, a result the step cannot record fails it (:class:`PipesExecutionError`).

    Each log line of the external process is one Dagster event, as in Dagster: a write to the
    event log storage each (milliseconds on sqlite). With ``log_to_stderr_below`` (a level name
    such as ``"WARNING"``, or a number), the lines below that level are written to the step's
    stderr instead (``<time> - pipes - <LEVEL> - <message>``), which Dagster captures: the run's stderr
    view in its UI shows every one. Lines at or above it stay events.
    """
    if not is_dagster_context(context):
        raise TypeError(
            f"pipes_fast.dagster runs in a Dagster op or asset and needs its context, got {type(context).__name__};"
            " outside Dagster, use pipes_fast's own client or open_pipes_session with a StepContext"
        )
    stderr_below = stderr_level(log_to_stderr_below)
    context = execution_context(context)
    if context.has_assets_def:  # as Dagster does: an asset that returns nothing fails loudly
        context.set_requires_typed_event_stream(error_message=FAIL_TO_YIELD_ERROR_MESSAGE)
    data = context_data(context, extras)
    handler = PipesMessageHandler(context, message_reader, log_to_stderr_below=stderr_below)

    def make_session(injector_params: PipesParams, reader_params: PipesParams) -> PipesSession:
        return PipesSession(data, handler, injector_params, reader_params, context)

    with run_session(data, handler, context_injector, message_reader, context.log, make_session) as session:
        yield session
    if session.closed:  # else the rest of the stream is read as custom messages are drained
        session.raise_for_refused_results()
