"""The message reader interface, and the byte-stream-to-handler pipeline every reader shares."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from pipes_fast import _hotpath
from pipes_fast.protocol import PipesParams

if TYPE_CHECKING:
    from pipes_fast.handler import PipesMessageHandler


class PipesMessageReader(ABC):
    """Reads messages from where the external process writes them and feeds them to a handler."""

    @abstractmethod
    def read_messages(self, handler: PipesMessageHandler) -> AbstractContextManager[PipesParams]:
        """A context manager that reads messages while open and yields the params telling the
        external process where to write them. On exit, every message written so far is handled."""

    def on_opened(self, opened_payload: Mapping[str, Any]) -> None:
        """Called when the external process has opened the pipes (its ``opened`` message)."""

    def on_launched(self, launched_payload: Mapping[str, Any]) -> None:
        """Called when the launcher reports information about the launched process."""

    @property
    def expected_writer_count(self) -> int:
        """How many external writers report through this reader: one (Dagster's handler asks)."""
        return 1

    @abstractmethod
    def no_messages_debug_text(self) -> str:
        """Says where messages were expected, for the warning when none arrived."""


class MessageStream:
    """One stream of message bytes: frames it, then the handler decodes and handles each line.

    ``source`` names the stream's lines in warnings (e.g. ``"line of file /tmp/x/messages"``).
    A ``blocking`` stream waits between chunks while a bounded consumer is behind
    (``handler.flow``); a reader on the pool checks ``handler.flow.has_room()`` itself instead.
    """

    def __init__(self, handler: PipesMessageHandler, source: str, blocking: bool = True) -> None:
        self._handler = handler
        self._source = source
        self._blocking = blocking
        self._framer = _hotpath.LineFramer()
        self._next_line = 1
        self._truncated = 0

    def feed(self, data: bytes) -> None:
        """Handle every message that ``data`` completes."""
        self.handle(self._framer.feed(data))

    def frame(self, data: bytes) -> list[bytes]:
        """The lines that ``data`` completes, for :meth:`handle`: a caller that lets go of ``data``
        in between does not hold the last piece of a huge line while the line is decoded."""
        lines: list[bytes] = self._framer.feed(data)
        return lines

    def handle(self, lines: list[bytes]) -> None:
        """Handle framed lines (an empty list is fine)."""
        if lines:
            self._handle(lines)

    @property
    def pending(self) -> int:
        """Bytes of a line held back until its newline arrives."""
        pending: int = self._framer.pending
        return pending

    def close(self) -> None:
        """End of stream: a last line without its newline is handled too."""
        lines = self._framer.flush()
        if lines:
            self._handle(lines)

    def _handle(self, lines: list[bytes]) -> None:
        bad = self._handler.handle_lines(lines, self._next_line)
        if self._blocking:
            self._handler.flow.wait_for_room()
        self._next_line += len(lines)
        if bad:
            self._handler.report_bad_lines(bad, self._source)
        truncated = self._framer.truncated_lines
        if truncated != self._truncated:
            self._handler.report_truncated_lines(truncated - self._truncated, self._framer.max_line_bytes, self._source)
            self._truncated = truncated
