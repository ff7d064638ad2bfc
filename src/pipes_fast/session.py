"""A Pipes session: the context injected, the reader running, results drained as they come."""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any, Callable, Optional, Protocol, TypeVar

from pipes_fast import _hotpath
from pipes_fast._logic import codec as _codec
from pipes_fast._logic.flow import DrainGate
from pipes_fast.context import StepContext, build_context_data
from pipes_fast.handler import PipesMessageHandler
from pipes_fast.injectors import PipesContextInjector
from pipes_fast.protocol import (
    DAGSTER_PIPES_CONTEXT_CLI_ARG,
    DAGSTER_PIPES_CONTEXT_ENV_VAR,
    DAGSTER_PIPES_MESSAGES_CLI_ARG,
    DAGSTER_PIPES_MESSAGES_ENV_VAR,
    PIPES_COMPOSITE_WRITERS_KEY,
    PipesContextData,
    PipesExtras,
    PipesParams,
)
from pipes_fast.readers.base import PipesMessageReader
from pipes_fast.results import MetadataValue, PipesExecutionResult, normalize_metadata

_CLI_ARGS = {
    DAGSTER_PIPES_CONTEXT_ENV_VAR: DAGSTER_PIPES_CONTEXT_CLI_ARG,
    DAGSTER_PIPES_MESSAGES_ENV_VAR: DAGSTER_PIPES_MESSAGES_CLI_ARG,
}


def is_dagster_context(context: object) -> bool:
    """True for a Dagster op or asset execution context, told by its class's module (pipes_fast's
    core never imports Dagster)."""
    return type(context).__module__.startswith("dagster.")


def as_step_context(context: object, in_dagster: str) -> StepContext:
    """``context`` itself, which must be a ``StepContext``. A Dagster context raises a
    ``TypeError`` naming ``in_dagster``, the caller's counterpart in ``pipes_fast.dagster``."""
    if isinstance(context, StepContext):
        return context
    if is_dagster_context(context):
        raise TypeError(
            f"{type(context).__name__} is a Dagster context: use {in_dagster}, which takes the same"
            " arguments, or pass a pipes_fast.StepContext to run outside Dagster"
        )
    raise TypeError(f"expected a pipes_fast.StepContext, got {type(context).__name__}")


def with_metadata(
    results: list[PipesExecutionResult], metadata: Mapping[str, MetadataValue]
) -> list[PipesExecutionResult]:
    """The results with ``metadata`` merged into each (it wins on name clashes)."""
    if not metadata:
        return results
    return [r.replace(metadata={**r.metadata, **metadata}) for r in results]


class PipesSession:
    """One run of an external process: where its context is, where its messages go, what came back.

    ``closed`` is True once the session has closed and every message written was handled. (A plain
    class rather than Dagster's dataclass: :mod:`dataclasses` costs 6 ms of a command's start-up.)
    """

    def __init__(
        self,
        context_data: PipesContextData,
        message_handler: PipesMessageHandler,
        context_injector_params: PipesParams,
        message_reader_params: PipesParams,
        context: StepContext,
        created_at: Optional[datetime] = None,
        closed: bool = False,
    ) -> None:
        self.context_data = context_data
        self.message_handler = message_handler
        self.context_injector_params = context_injector_params
        self.message_reader_params = message_reader_params
        self.context = context
        self.created_at = datetime.now() if created_at is None else created_at
        self.closed = closed
        self._implicit_done = False

    def __repr__(self) -> str:
        return f"PipesSession(context={self.context!r}, created_at={self.created_at!r}, closed={self.closed!r})"

    def get_bootstrap_params(self) -> dict[str, Any]:
        """The two bootstrap params, not encoded."""
        return {
            DAGSTER_PIPES_CONTEXT_ENV_VAR: self.context_injector_params,
            DAGSTER_PIPES_MESSAGES_ENV_VAR: self.message_reader_params,
        }

    def get_bootstrap_env_vars(self) -> dict[str, str]:
        """The bootstrap params as environment variables (json, zlib, base64)."""
        return _encoded(self.get_bootstrap_params())

    def get_bootstrap_cli_arguments(self) -> dict[str, str]:
        """The bootstrap params as CLI arguments: ``{"--dagster-pipes-context": ..., ...}``."""
        return _as_cli_arguments(self.get_bootstrap_env_vars())

    def get_per_writer_bootstrap_env_vars(self) -> list[dict[str, str]]:
        """Each writer's bootstrap params as environment variables: one mapping per reader of a
        ``PipesCompositeMessageReader``, in its order (pass each to its own external process);
        for any other reader, ``[get_bootstrap_env_vars()]``."""
        return [_encoded(params) for params in self._per_writer_bootstrap_params()]

    def get_per_writer_bootstrap_cli_arguments(self) -> list[dict[str, str]]:
        """Each writer's bootstrap params as CLI arguments (see :meth:`get_per_writer_bootstrap_env_vars`)."""
        return [_as_cli_arguments(env_vars) for env_vars in self.get_per_writer_bootstrap_env_vars()]

    def _per_writer_bootstrap_params(self) -> list[dict[str, Any]]:
        writers = self.message_reader_params.get(PIPES_COMPOSITE_WRITERS_KEY, [self.message_reader_params])
        return [
            {DAGSTER_PIPES_CONTEXT_ENV_VAR: self.context_injector_params, DAGSTER_PIPES_MESSAGES_ENV_VAR: params}
            for params in writers
        ]

    def get_results(
        self, *, implicit_materializations: bool = True, metadata: Optional[Mapping[str, Any]] = None
    ) -> list[PipesExecutionResult]:
        """Results reported since the last call, with ``metadata`` merged into each.

        Call it while the process runs to stream results, and once more after the session
        closed: each result comes out once. After the session closed, a materialization is implied
        (once) for every selected asset that none was reported for, unless
        ``implicit_materializations`` is False.
        """
        results = self.message_handler.drain_results()
        if implicit_materializations and self.closed and not self._implicit_done:
            self._implicit_done = True
            implied = _hotpath.MaterializeResult  # the implementation the reader's results come from
            reported = self.message_handler.materialized_asset_keys
            results += [implied(asset_key=key) for key in self.context.asset_keys or () if key not in reported]
        return with_metadata(results, normalize_metadata(metadata))

    def get_reported_results(self) -> tuple[PipesExecutionResult, ...]:
        """Results explicitly reported by the external process and not yet returned by ``get_results``."""
        return self.message_handler.get_reported_results()

    def get_custom_messages(self) -> tuple[Any, ...]:
        """Payloads of ``report_custom_message`` received and not yet drained."""
        return self.message_handler.get_custom_messages()

    def drain_custom_messages(self, *, max_messages: Optional[int] = None) -> list[Any]:
        """Payloads of ``report_custom_message`` received since the last drain, then forgotten.

        Call it periodically to consume a long stream of custom messages. With ``max_messages``
        memory stays bounded, through close too: at most that many come back per call, the reader
        waits while 64k are queued, and after the block closes the rest of the stream is read as
        you drain it, so drain until an empty list::

            while batch := session.drain_custom_messages(max_messages=10_000):
                consume(batch)

        Without it, every payload received so far comes back (after close: all of them).
        """
        return self.message_handler.drain_custom_messages(max_messages)

    def report_launched(self, launched_payload: Mapping[str, Any]) -> None:
        """Pass information about the launched process (e.g. an external run id) to the reader."""
        self.message_handler.on_launched(launched_payload)


def _encoded(params: Mapping[str, Any]) -> dict[str, str]:
    return {name: _codec.encode_bootstrap_param(value) for name, value in params.items()}


def _as_cli_arguments(env_vars: Mapping[str, str]) -> dict[str, str]:
    return {_CLI_ARGS[name]: value for name, value in env_vars.items()}


@contextmanager
def open_pipes_session(
    context: StepContext,
    context_injector: PipesContextInjector,
    message_reader: PipesMessageReader,
    extras: Optional[PipesExtras] = None,
) -> Iterator[PipesSession]:
    """Inject the context, start reading messages, and yield the session; on exit, read what is
    left, clean up, and warn if the external process never opened or never closed the pipes.

    Inside Dagster, use ``pipes_fast.dagster.open_pipes_session`` (same arguments, Dagster's
    result types); a Dagster context here raises ``TypeError``.
    """
    step = as_step_context(context, "pipes_fast.dagster.open_pipes_session")
    context_data = build_context_data(step, extras)
    handler = PipesMessageHandler(step, message_reader)

    def make_session(injector_params: PipesParams, reader_params: PipesParams) -> PipesSession:
        return PipesSession(context_data, handler, injector_params, reader_params, step)

    with run_session(context_data, handler, context_injector, message_reader, step.log, make_session) as session:
        yield session


Session = TypeVar("Session")


class SessionHandler(Protocol):
    """What :func:`run_session` needs of a message handler (pipes_fast's, or the Dagster one)."""

    @property
    def flow(self) -> DrainGate: ...

    @property
    def received_opened_message(self) -> bool: ...

    @property
    def received_closed_message(self) -> bool: ...

    def handle_messages(self) -> AbstractContextManager[PipesParams]: ...


@contextmanager
def run_session(
    context_data: PipesContextData,
    handler: SessionHandler,
    context_injector: Any,
    message_reader: Any,
    log: Any,
    make_session: Callable[[PipesParams, PipesParams], Session],
) -> Iterator[Session]:
    """The span of a session: the context injected and ``handler``'s reader running while the
    block runs; then, once every message has been handled (after a deferred close, as the
    consumer drains the rest), ``session.closed`` is set and ``log`` warns if the external process
    never opened or never closed the pipes."""
    session: Optional[Session] = None
    try:
        with (
            context_injector.inject_context(context_data) as injector_params,
            handler.handle_messages() as reader_params,
        ):
            session = make_session(injector_params, reader_params)
            yield session
    finally:
        if session is not None:  # a consumer that goes away stops holding back the reader
            weakref.finalize(session, handler.flow.release)
        session_ref = weakref.ref(session) if session is not None else lambda: None
        handler.flow.when_finished(lambda: _finished(session_ref(), log, handler, context_injector, message_reader))


def _finished(session: Any, log: Any, handler: SessionHandler, context_injector: Any, message_reader: Any) -> None:
    """Once every message has been handled: the session is closed; warn if the external process
    never opened or never closed the pipes."""
    if session is not None:
        session.closed = True
    if not handler.received_opened_message:
        log.warning(
            "[pipes] did not receive any messages from external process. Check stdout / stderr logs"
            f" from the external process if possible.\n{type(context_injector).__name__}:"
            f" {context_injector.no_messages_debug_text()}\n{type(message_reader).__name__}:"
            f" {message_reader.no_messages_debug_text()}\n"
        )
    elif not handler.received_closed_message:
        log.warning(
            "[pipes] did not receive closed message from external process. Buffered messages may"
            " have been discarded without being delivered. Use `open_dagster_pipes` as a context"
            " manager (a with block) to ensure that cleanup is successfully completed. If that is"
            " not possible, manually call `PipesContext.close()` before process exit."
        )
