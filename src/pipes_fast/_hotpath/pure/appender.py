"""Appending message lines: the external side's writer, one write per message or per buffer.

Twin of ``ext/appender.pyx``.
"""

from __future__ import annotations

import errno
import os
from _thread import allocate_lock
from typing import Any, Callable, Optional

import orjson

from pipes_fast._logic.contract import callable_argument, integer, positive_int
from pipes_fast._system.fdio import write_all

_dumps = orjson.dumps
_OPTIONS = (  # what orjson would write differently from json.dumps raises TypeError instead
    orjson.OPT_APPEND_NEWLINE
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _has_non_finite_float(value: Any) -> bool:
    """Whether a NaN or an infinity hides in ``value`` (a structure orjson accepted): orjson writes
    them as ``null``, ``json.dumps`` as ``NaN`` and ``Infinity``."""
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is float:
            if item - item != 0.0:  # NaN - NaN and inf - inf are NaN
                return True
        elif kind is dict:
            pending.extend(item.values())
        elif kind is list or kind is tuple:
            pending.extend(item)
    return False


class JsonLineAppender:
    """Appends messages to an open (``O_APPEND``) file descriptor as JSON lines.

    Each line's value is what ``fallback(message)`` (bytes: one line of JSON) would write. Lines
    are orjson's, except where orjson refuses the message (``TypeError``: subclasses of builtins,
    dataclasses, dates, integers beyond 64 bits, keys that are not str, lone surrogates, deep
    nesting) or may have written a NaN or an infinity as ``null``: then ``fallback`` writes it (and
    raises for what JSON cannot hold). The compiled twin encodes the lines itself.

    Unbuffered (``buffer_bytes=None``), each message is one ``write``, in the file when
    :meth:`append` returns. Buffered, lines gather in a buffer of ``buffer_bytes`` written with one
    ``write`` when the next line would not fit, on :meth:`flush` and on :meth:`close`; a line longer
    than the buffer is written whole after it. ``wake()`` is called when the buffer becomes
    non-empty (to schedule a flush). Threads appending at once never interleave partial lines, and
    each thread's lines stay in its order. A write that fails raises, and keeps what it did not write
    for the next one.
    """

    __slots__ = ("_fd", "_fallback", "_capacity", "_wake", "_buffer", "_lock")

    def __init__(
        self,
        fd: int,
        fallback: Callable[[Any], bytes],
        buffer_bytes: Optional[int] = None,
        wake: Optional[Callable[[], object]] = None,
    ) -> None:
        self._fd = integer("fd", fd)
        self._fallback = callable_argument("fallback", fallback)
        self._capacity = 0 if buffer_bytes is None else positive_int("buffer_bytes", buffer_bytes)
        self._wake = None if wake is None else callable_argument("wake", wake)
        self._buffer = bytearray()
        self._lock = allocate_lock()

    def _line(self, message: Any) -> bytes:
        try:
            data: bytes = _dumps(message, None, _OPTIONS)
        except TypeError:
            data = self._fallback(message)
        else:
            if b"null" in data and _has_non_finite_float(message):
                data = self._fallback(message)
        if type(data) is not bytes:
            raise TypeError(f"fallback must return bytes, got {type(data).__name__}")
        return data

    def append(self, message: Any) -> None:
        """Write ``message`` as one line, or add it to the buffer."""
        data = self._line(message)
        if not self._capacity:
            write_all(self._fd, data)
            return
        with self._lock:
            if self._fd < 0:
                raise OSError(errno.EBADF, os.strerror(errno.EBADF))
            if len(self._buffer) + len(data) > self._capacity:
                self._drain()
            if len(data) > self._capacity:
                write_all(self._fd, data)
                return
            woke = not self._buffer
            self._buffer += data
        if woke and self._wake is not None:
            self._wake()

    def flush(self) -> None:
        """Write what the buffer holds (nothing to do unbuffered or once closed)."""
        with self._lock:
            self._drain()

    def close(self) -> None:
        """Flush; from then on :meth:`append` raises ``OSError`` (EBADF). The descriptor stays open:
        its owner closes it."""
        with self._lock:
            try:
                self._drain()
            finally:
                self._fd = -1

    def after_fork_in_child(self) -> None:
        """In a child process just forked: drop the buffer (the parent writes what it held) and
        write each message through from now on (a child may leave by ``os._exit``, which flushes
        nothing). The lock is made anew: a parent thread may have held it at the fork."""
        self._lock = allocate_lock()
        self._buffer = bytearray()
        self._capacity = 0

    def _drain(self) -> None:
        """Write the buffer out (lock held; nothing once closed); what a failed write left stays at
        its front."""
        if self._fd < 0:
            return
        while self._buffer:
            del self._buffer[: os.write(self._fd, self._buffer)]
