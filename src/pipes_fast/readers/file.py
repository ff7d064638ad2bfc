"""Readers that tail a file the external process appends messages to."""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pipes_fast._files import write_private_file
from pipes_fast._tailer import FileTailer
from pipes_fast._gc import relaxed_gc
from pipes_fast.protocol import PipesParams
from pipes_fast.readers.base import MessageStream, PipesMessageReader

if TYPE_CHECKING:
    from pipes_fast.handler import PipesMessageHandler

_log = logging.getLogger(__name__)


class PipesFileMessageReader(PipesMessageReader):
    """Reads messages by tailing ``path``, on a background thread, for the span of the session.

    The file is created empty (owner-only) when the session opens and, with ``cleanup_file``,
    deleted when it closes. Torn writes wait for their newline; lines that are not messages are
    reported with their line number and skipped.
    """

    def __init__(self, path: str, include_stdio_in_messages: bool = False, cleanup_file: bool = True) -> None:
        self.path = os.fspath(path)
        self.include_stdio_in_messages = include_stdio_in_messages
        self.cleanup_file = cleanup_file
        self.launched_payload: Any = None

    def on_launched(self, launched_payload: Any) -> None:
        self.launched_payload = launched_payload

    @contextmanager
    def read_messages(self, handler: PipesMessageHandler) -> Iterator[PipesParams]:
        write_private_file(self.path)
        tailer = FileTailer(self.path)
        session_closed = threading.Event()
        thread = threading.Thread(
            target=self._pump, args=(handler, tailer, session_closed), name="pipes_fast file reader", daemon=True
        )
        thread.start()
        try:
            yield {"path": self.path, "include_stdio_in_messages": self.include_stdio_in_messages}
        finally:
            session_closed.set()
            tailer.stop()
            thread.join()
            tailer.close()
            if self.cleanup_file and os.path.exists(self.path):
                os.remove(self.path)

    def _pump(self, handler: PipesMessageHandler, tailer: Any, session_closed: threading.Event) -> None:
        stream = MessageStream(handler, f"line of file {self.path}")
        try:
            with relaxed_gc():
                while True:
                    data = tailer.read()
                    if data:
                        stream.feed(data)
                    elif session_closed.is_set():
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
    """Reads messages from a file in a private temporary folder, removed when the session closes."""

    def __init__(self, include_stdio_in_messages: bool = False) -> None:
        self.include_stdio_in_messages = include_stdio_in_messages

    @contextmanager
    def read_messages(self, handler: PipesMessageHandler) -> Iterator[PipesParams]:
        with tempfile.TemporaryDirectory(prefix="pipes_fast-") as folder:
            reader = PipesFileMessageReader(os.path.join(folder, "messages"), self.include_stdio_in_messages)
            with reader.read_messages(handler) as params:
                yield params

    def no_messages_debug_text(self) -> str:
        return "Attempted to read messages from a local temporary file."
