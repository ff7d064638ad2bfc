"""Readers that tail a file the external process appends messages to."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from pipes_fast._logic.huge import HUGE_LINE_BYTES
from pipes_fast._system import threads as _threads
from pipes_fast._system.files import PrivateFolder, open_private_file, remove_if_same
from pipes_fast._system.gc import relaxed_gc
from pipes_fast._system.tailer import FileTailer
from pipes_fast.protocol import PipesParams
from pipes_fast.readers.base import MessageStream, PipesMessageReader

if TYPE_CHECKING:
    from pipes_fast.handler import PipesMessageHandler

_log = logging.getLogger(__name__)

HUGE_LINE_READ_BYTES = 32 << 20
"""What the reader asks for at a time while it holds a huge line (``pipes_fast._logic.huge``): glibc's
malloc maps a request this big on its own (the most its dynamic mmap threshold rises to on 64-bit,
mallopt(3)), so the pieces of the line go back to the system once joined, where thousands of
16 kB reads would leave the line's size of freed heap resident."""


class PipesFileMessageReader(PipesMessageReader):
    """Reads messages by tailing ``path``, on a background thread, for the span of the session.

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
        session_closed = threading.Event()
        reading = _threads.start(lambda: self._read(handler, tailer, session_closed), "pipes_fast file reader")
        try:
            yield {"path": self.path, "include_stdio_in_messages": self.include_stdio_in_messages}
        finally:
            session_closed.set()
            tailer.stop()
            if not handler.flow.defer():  # else the thread reads the rest as the consumer drains it
                reading.wait()
                self._clean_up(tailer)

    def _read(self, handler: PipesMessageHandler, tailer: FileTailer, session_closed: threading.Event) -> None:
        """The reader thread: the whole stream, then the clean-up if the session left it the rest."""
        try:
            self._pump(handler, tailer, session_closed)
        finally:
            if handler.flow.reader_finished():
                self._clean_up(tailer)

    def _clean_up(self, tailer: FileTailer) -> None:
        try:
            if self.cleanup_file and tailer.fileno() >= 0:
                remove_if_same(self.path, tailer.fileno())
        finally:
            tailer.close()

    def _pump(self, handler: PipesMessageHandler, tailer: FileTailer, session_closed: threading.Event) -> None:
        source = f"line of file {self.path}"
        stream = MessageStream(handler, source)
        restarts = tailer.restarts
        chunk_bytes = tailer.chunk_bytes
        try:
            with relaxed_gc():
                while True:
                    closing = session_closed.is_set()  # seen before the read: what was written before is read now
                    tailer.chunk_bytes = HUGE_LINE_READ_BYTES if stream.pending >= HUGE_LINE_BYTES else chunk_bytes
                    data = tailer.read()
                    if tailer.restarts != restarts:  # a new file, or this one truncated: its torn line ends here
                        stream.close()
                        stream, restarts = MessageStream(handler, source), tailer.restarts
                    if data:
                        lines = stream.frame(data)
                        del data  # the last piece of a huge line: not held while the line is decoded
                        stream.handle(lines)
                        del lines
                    elif closing:
                        break
                    else:
                        tailer.wait()
                stream.close()
        except Exception:
            _log.exception("[pipes] the reader of %s failed; messages after this point are lost", self.path)
            raise

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
