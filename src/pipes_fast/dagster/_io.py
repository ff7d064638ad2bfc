"""pipes_fast's context injectors and message readers as Dagster's classes of the same names.

Each is a subclass of both; pipes_fast's methods come first, so Dagster's are never run.

Dagster's ``open_pipes_session`` and clients accept them unchanged; the readers feed whatever
handler they are given on pipes_fast's hot path (see :func:`core_handler`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster

from pipes_fast import injectors, readers
from pipes_fast.dagster._handler import DagsterBridge, core_handler
from pipes_fast.dagster._internals import ChildMessageHandler, DagsterChunkedLogReader
from pipes_fast.injectors import s3 as injectors_s3
from pipes_fast.protocol import PipesParams
from pipes_fast.readers import s3 as readers_s3


class PipesEnvContextInjector(injectors.PipesEnvContextInjector, dagster.PipesEnvContextInjector):
    __doc__ = injectors.PipesEnvContextInjector.__doc__


class PipesFileContextInjector(injectors.PipesFileContextInjector, dagster.PipesFileContextInjector):
    __doc__ = injectors.PipesFileContextInjector.__doc__


class PipesTempFileContextInjector(injectors.PipesTempFileContextInjector, dagster.PipesTempFileContextInjector):
    __doc__ = injectors.PipesTempFileContextInjector.__doc__


class _FeedsAnyHandler(readers.PipesMessageReader):
    """A pipes_fast reader given Dagster's handler, its own, or pipes_fast's (see :func:`core_handler`)."""

    @contextmanager
    def read_messages(self, handler: Any) -> Iterator[PipesParams]:
        # the pipes_fast reader after this class in the method order implements it
        with super().read_messages(core_handler(handler, self)) as params:  # type: ignore[safe-super]
            yield params


class PipesFileMessageReader(_FeedsAnyHandler, readers.PipesFileMessageReader, dagster.PipesFileMessageReader):
    __doc__ = readers.PipesFileMessageReader.__doc__


class PipesTempFileMessageReader(
    _FeedsAnyHandler, readers.PipesTempFileMessageReader, dagster.PipesTempFileMessageReader
):
    __doc__ = readers.PipesTempFileMessageReader.__doc__


class PipesBlobStoreMessageReader(  # type: ignore[misc]
    _FeedsAnyHandler, readers.PipesBlobStoreMessageReader, dagster.PipesBlobStoreMessageReader
):
    __doc__ = readers.PipesBlobStoreMessageReader.__doc__


class PipesDirectoryMessageReader(readers.PipesDirectoryMessageReader, PipesBlobStoreMessageReader):  # type: ignore[misc]
    __doc__ = readers.PipesDirectoryMessageReader.__doc__


class PipesStdioMessageReader(_FeedsAnyHandler, readers.PipesStdioMessageReader, dagster.PipesMessageReader):
    __doc__ = readers.PipesStdioMessageReader.__doc__


class PipesCompositeMessageReader(readers.PipesCompositeMessageReader, dagster.PipesCompositeMessageReader):  # type: ignore[misc]
    __doc__ = readers.PipesCompositeMessageReader.__doc__
    _refusal = dagster.DagsterInvariantViolationError

    def _child_handler(self, handler: Any, reader: Any) -> Any:
        """pipes_fast's readers feed the hot path; Dagster's, Dagster's handler in Dagster's wrapper."""
        if isinstance(reader, readers.PipesMessageReader):
            return core_handler(handler, reader).for_writer(reader)
        dagster_handler = handler._dagster_handler if isinstance(handler, DagsterBridge) else handler
        if not isinstance(dagster_handler, dagster.PipesMessageHandler):
            raise TypeError(
                f"Dagster's {type(reader).__name__} feeds Dagster's message handler, not {type(handler).__name__}"
            )
        return ChildMessageHandler(dagster_handler, reader)


class PipesLogReader(readers.PipesLogReader, dagster.PipesLogReader):
    __doc__ = readers.PipesLogReader.__doc__


class PipesChunkedLogReader(readers.PipesChunkedLogReader, DagsterChunkedLogReader):  # type: ignore[misc]
    __doc__ = readers.PipesChunkedLogReader.__doc__


class PipesS3MessageReader(readers_s3.PipesS3MessageReader, PipesBlobStoreMessageReader):  # type: ignore[misc]
    __doc__ = readers_s3.PipesS3MessageReader.__doc__


class PipesS3LogReader(readers_s3.PipesS3LogReader, PipesChunkedLogReader):  # type: ignore[misc]
    __doc__ = readers_s3.PipesS3LogReader.__doc__


class PipesS3ContextInjector(injectors_s3.PipesS3ContextInjector, dagster.PipesContextInjector):
    __doc__ = injectors_s3.PipesS3ContextInjector.__doc__
