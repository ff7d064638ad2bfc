"""Readers that tail a file the external process appends messages to."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from pipes_fast._system.files import PrivateFolder, open_private_file, remove_if_same
from pipes_fast._system.tailer import FileTailer
from pipes_fast.protocol import PipesParams
from pipes_fast.readers._drain import FileDrain
from pipes_fast.readers.base import PipesMessageReader

if TYPE_CHECKING:
    from pipes_fast.handler import PipesMessageHandler


class PipesFileMessageReader(PipesMessageReader):
    """Reads messages by tailing ``path``, on the readers' pool, for the span of the session.

    The file is created empty (owner-only, never through a symbolic link; anything but a regular
    file at ``path`` is refused) when the session opens and, with ``cleanup_file``, deleted when it
    closes. Torn writes wait for their newline; lines that are not messages are reported with
    their line number and skipped. The path is followed like ``tail -F``: when the file is
    removed, replaced or truncated, the rest of it is read, then the new file from its start,
    with a warning. As with Dagster's reader, ``path`` is the reader's own: a regular file already
    there is truncated and, with ``cleanup_file``, removed afterwards (``pipes-fast run`` refuses an
    existing path unless given ``--overwrite``).
    """

    _tailer_class: type[FileTailer] = FileTailer
    """Where a subclass of :class:`FileTailer` can be plugged in (tests use one to time a write)."""

    def __init__(self, path: str, include_stdio_in_messages: bool = False, cleanup_file: bool = True) -> None:
        self.path = os.fspath(path)
        self.include_stdio_in_messages = include_stdio_in_messages
        self.cleanup_file = cleanup_file
        self.launched_payload: Any = None

    def on_launched(self, launched_payload: Any) -> None:
        self.launched_payload = launched_payload

    def read_messages(self, handler: PipesMessageHandler) -> AbstractContextManager[PipesParams]:
        return self._read_messages(handler, exclusive=False)

    @contextmanager
    def _read_messages(self, handler: PipesMessageHandler, *, exclusive: bool) -> Iterator[PipesParams]:
        """``read_messages``; ``exclusive`` refuses an existing file (the caller's own folder)."""
        os.close(open_private_file(self.path, what="message file", exclusive=exclusive))
        tailer = self._tailer_class(self.path, warn=lambda why: handler.warn(f"[pipes] {why}"))
        reading = FileDrain(handler, tailer, f"line of file {self.path}", lambda: self._clean_up(tailer))
        try:
            yield {"path": self.path, "include_stdio_in_messages": self.include_stdio_in_messages}
        finally:
            reading.close()
            if not handler.flow.defer():  # else the pool reads the rest as the consumer drains it
                reading.wait()
                self._clean_up(tailer)

    def _clean_up(self, tailer: FileTailer) -> None:
        try:
            if self.cleanup_file and tailer.fileno() >= 0:
                remove_if_same(self.path, tailer.fileno())
        finally:
            tailer.close()

    def no_messages_debug_text(self) -> str:
        return f"Attempted to read messages from file {self.path}."


class PipesTempFileMessageReader(PipesMessageReader):
    """Reads messages from a new file in a private temporary folder, removed when the session closes.

    The reader's sessions share the folder (owner-only), which goes away with the reader or at exit.
    """

    def __init__(self, include_stdio_in_messages: bool = False) -> None:
        self.include_stdio_in_messages = include_stdio_in_messages
        self._folder = PrivateFolder("pipes_fast-")

    @contextmanager
    def read_messages(self, handler: PipesMessageHandler) -> Iterator[PipesParams]:
        reader = PipesFileMessageReader(self._folder.new_path("messages"), self.include_stdio_in_messages)
        with reader._read_messages(handler, exclusive=True) as params:
            yield params

    def no_messages_debug_text(self) -> str:
        return "Attempted to read messages from a local temporary file."
