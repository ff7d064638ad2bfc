"""Dagster's Pipes session on pipes_fast's hot path: results come out as Dagster's own types."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Optional

import dagster
from dagster._core.pipes.utils import _FAIL_TO_YIELD_ERROR_MESSAGE

from pipes_fast.dagster._context import context_data
from pipes_fast.dagster._convert import DagsterResult
from pipes_fast.dagster._handler import PipesMessageHandler
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
    """Dagster's ``PipesSession``, whose :meth:`get_results` streams: each result comes out once.

    Call ``yield from session.get_results()`` while the process runs and once more after the
    ``open_pipes_session`` block: every result is yielded exactly once, and the implied
    materializations (for selected assets nothing was reported for) come with the last call.
    """

    closed: bool = False
    """True once the session has closed and every message written was handled."""
    _implicit_done: bool = dataclasses.field(default=False, repr=False)

    def get_results(
        self, *, implicit_materializations: bool = True, metadata: Optional[Mapping[str, Any]] = None
    ) -> tuple[DagsterResult, ...]:
        """Results reported since the last call, as Dagster's types, with ``metadata`` merged in.

        After the session closed, a materialization is implied (once) for every selected asset
        that none was reported for, unless ``implicit_materializations`` is False.
        """
        handler: PipesMessageHandler = self.message_handler  # type: ignore[assignment]
        results: list[DagsterResult] = handler.core.drain_results()  # type: ignore[assignment]
        if implicit_materializations and self.closed and not self._implicit_done:
            self._implicit_done = True
            convert = handler.core.dagster_asset_key
            reported = {convert(key) for key in handler.core.materialized_asset_keys}
            selected = sorted(self.context.selected_asset_keys) if self.context.has_assets_def else ()
            results += [dagster.MaterializeResult(asset_key=key) for key in selected if key not in reported]
        return with_metadata(results, metadata)

    def drain_custom_messages(self, *, max_messages: Optional[int] = None) -> list[Any]:
        """Payloads of ``report_custom_message`` received since the last drain, then forgotten
        (see ``pipes_fast.PipesSession.drain_custom_messages``: with ``max_messages``, memory
        stays bounded through close)."""
        handler: PipesMessageHandler = self.message_handler  # type: ignore[assignment]
        return handler.core.drain_custom_messages(max_messages)


@contextmanager
def open_pipes_session(
    context: Any,
    context_injector: Any,
    message_reader: Any,
    extras: Optional[PipesExtras] = None,
) -> Iterator[PipesSession]:
    """Dagster's ``open_pipes_session``, on pipes_fast's hot path; the session's results are
    Dagster's own, so ``yield from session.get_results()`` works in an asset, op or multi-asset.

    ``context_injector`` and ``message_reader`` may be pipes_fast's or Dagster's.
    """
    if not is_dagster_context(context):
        raise TypeError(
            f"pipes_fast.dagster runs in a Dagster op or asset and needs its context, got {type(context).__name__};"
            " outside Dagster, use pipes_fast's own client or open_pipes_session with a StepContext"
        )
    if context.has_assets_def:  # as Dagster does: an asset that returns nothing fails loudly
        context.set_requires_typed_event_stream(error_message=_FAIL_TO_YIELD_ERROR_MESSAGE)
    data = context_data(context, extras)
    handler = PipesMessageHandler(context, message_reader)

    def make_session(injector_params: PipesParams, reader_params: PipesParams) -> PipesSession:
        return PipesSession(data, handler, injector_params, reader_params, context)

    with run_session(data, handler, context_injector, message_reader, context.log, make_session) as session:
        yield session
