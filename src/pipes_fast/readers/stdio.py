"""A reader for messages interleaved with a process's ordinary output on its stdout or stderr."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Optional

from pipes_fast import _hotpath
from pipes_fast._system.gc import relaxed_gc
from pipes_fast.protocol import PipesParams
from pipes_fast.readers.base import MessageStream, PipesMessageReader

if TYPE_CHECKING:
    from pipes_fast.handler import PipesMessageHandler

STDIO_STREAMS = ("stdout", "stderr")


def write_to_own_stream(stream: str, data: bytes) -> None:
    """Write ``data`` to this process's ``stream`` ("stdout" or "stderr"), as it is now, at once."""
    target = getattr(sys, stream)
    target.flush()  # what was printed before goes first
    binary = getattr(target, "buffer", None)
    if binary is None:  # a text-only replacement (an io.StringIO, say)
        target.write(data.decode("utf-8", "replace"))
    else:
        binary.write(data)
        binary.flush()


class _DemuxStream(MessageStream):
    """A message stream of ordinary output with Pipes messages in it: the messages are handled
    and the rest of the bytes handed back."""

    def __init__(self, handler: PipesMessageHandler, source: str) -> None:
        super().__init__(handler, source)
        self._framer = _hotpath.StdioDemux()

    def demux(self, data: bytes) -> bytes:
        """Handle every message that ``data`` completes; return the output it holds."""
        lines, output = self._framer.feed(data)
        if lines:
            self._handle(lines)
        return output  # type: ignore[no-any-return]

    def end(self) -> bytes:
        """End of stream: a last line without its newline is handled or returned too."""
        lines, output = self._framer.flush()
        if lines:
            self._handle(lines)
        return output  # type: ignore[no-any-return]


class PipesStdioMessageReader(PipesMessageReader):
    """Reads messages that the external process writes among its ordinary output on ``stream``
    (``"stdout"`` or ``"stderr"``): the params are ``{"stdio": stream}``, which dagster-pipes'
    and pipes_fast's default message writers honour.

    Whoever owns the process's stream feeds what it reads, while the session is open, to
    :meth:`feed`, which handles the messages and returns the other bytes (untouched, in order)
    to forward or keep; :meth:`end_of_stream` ends the last line. ``PipesSubprocessClient``
    does both for its child. Lines that are not messages are output, never reported as bad.
    Output the session's close finds held back (a last line the owner did not end) goes to this
    process's own ``stream``.
    """

    def __init__(self, stream: str = "stdout") -> None:
        if stream not in STDIO_STREAMS:
            raise ValueError(f"stream must be one of {STDIO_STREAMS}, got {stream!r}")
        self.stream = stream
        self._open: Optional[_DemuxStream] = None
        self._lock = threading.Lock()

    @contextmanager
    def read_messages(self, handler: PipesMessageHandler) -> Iterator[PipesParams]:
        with self._lock:
            if self._open is not None:
                raise RuntimeError(f"{type(self).__name__} reads one session at a time")
            self._open = _DemuxStream(handler, f"{self.stream} message")  # its lines numbered among messages
        try:
            with relaxed_gc():  # as a file reader streams: results kept, decoded batches let go
                yield {"stdio": self.stream}
        finally:
            with self._lock:
                stream, self._open = self._open, None
            leftover = stream.end()
            if leftover:
                write_to_own_stream(self.stream, leftover)

    def feed(self, data: bytes) -> bytes:
        """Handle the messages ``data`` completes and return the output in it (bytes held back
        until their line ends come out later)."""
        return self._session().demux(data)

    def end_of_stream(self) -> bytes:
        """The stream has ended: handle or return its last line, if it had no newline."""
        return self._session().end()

    def _session(self) -> _DemuxStream:
        stream = self._open
        if stream is None:
            raise RuntimeError(f"{type(self).__name__} is fed only while its session is open")
        return stream

    def no_messages_debug_text(self) -> str:
        return f"Attempted to read messages from the external process's {self.stream}."
