"""A reader of several external writers in one session, each through a reader of its own."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, cast

from pipes_fast.errors import PipesInvariantViolationError
from pipes_fast.protocol import PIPES_COMPOSITE_WRITERS_KEY, PipesParams
from pipes_fast.readers.base import PipesMessageReader

if TYPE_CHECKING:
    from pipes_fast.handler import PipesMessageHandler


class PipesCompositeMessageReader(PipesMessageReader):
    """Reads the messages of several external writers (one per reader in ``readers``) in one session.

    As Dagster's reader of the same name: use it when one step launches several external
    processes that each open Pipes. Each reader has a destination of its own, so writers never
    mix their messages; all of them feed the session's handler, where results come as they
    arrive (each writer's in its own order) and ``opened``/``closed`` are counted per writer: the
    session has received ``closed`` once every writer has closed.

    The params are ``{PIPES_COMPOSITE_WRITERS_KEY: [params of each reader, ...]}``;
    ``PipesSession.get_per_writer_bootstrap_env_vars()`` (or ``..._cli_arguments()``) gives each
    writer its own bootstrap, in the order of ``readers``. Each reader must have a single writer:
    a composite reader inside another is refused.
    """

    _refusal: type[Exception] = PipesInvariantViolationError

    def __init__(self, readers: Sequence[PipesMessageReader]) -> None:
        if not readers:
            raise self._refusal(f"{type(self).__name__} requires at least one underlying reader.")
        for reader in readers:
            if reader.expected_writer_count != 1:
                raise self._refusal(
                    f"{type(self).__name__} only supports single-writer readers as children;"
                    f" got {type(reader).__name__} with expected_writer_count={reader.expected_writer_count}."
                )
        self._readers = tuple(readers)

    @property
    def readers(self) -> tuple[PipesMessageReader, ...]:
        """The readers, one per writer, in the order of the per-writer params."""
        return self._readers

    @property
    def expected_writer_count(self) -> int:
        """The number of readers: the session has closed once this many writers have."""
        return len(self._readers)

    @contextmanager
    def read_messages(self, handler: PipesMessageHandler) -> Iterator[PipesParams]:
        with ExitStack() as stack:
            enter = stack.enter_context
            yield {
                PIPES_COMPOSITE_WRITERS_KEY: [
                    enter(r.read_messages(self._child_handler(handler, r))) for r in self._readers
                ]
            }

    def _child_handler(self, handler: PipesMessageHandler, reader: PipesMessageReader) -> PipesMessageHandler:
        """The handler ``reader`` feeds: ``handler``'s for that writer (it has all a reader uses)."""
        return cast("PipesMessageHandler", handler.for_writer(reader))

    def on_opened(self, opened_payload: Mapping[str, Any]) -> None:
        """Nothing: each writer's ``opened`` goes to its own reader."""

    def on_launched(self, launched_payload: Mapping[str, Any]) -> None:
        """Passed on to every reader."""
        for reader in self._readers:
            reader.on_launched(launched_payload)

    def no_messages_debug_text(self) -> str:
        return "\n".join(f"[writer {i}] {reader.no_messages_debug_text()}" for i, reader in enumerate(self._readers))
