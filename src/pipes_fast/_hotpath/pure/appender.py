"""Appending message lines: the external side's writer, one write per message or per buffer.

The pure implementation of ``ext/appender.pyx``.
"""

from __future__ import annotations

import errno
import os
from _thread import allocate_lock
from typing import Any, Callable, Optional

from pipes_fast._hotpath.pure.deferred import orjson
from pipes_fast._hotpath.pure.final import final
from pipes_fast._logic.contract import callable_argument, file_descriptor, not_picklable, positive_int
from pipes_fast._logic.wire import make_message
from pipes_fast._system.fdio import write_all

_options: Optional[int] = None
"""orjson's options for :func:`_dumps`, read once orjson is loaded."""


def _dumps(message: Any) -> bytes:
    """``message`` as orjson writes it, with a newline; TypeError for what it would write otherwise
    than ``json.dumps`` (dataclasses, dates, subclasses of the JSON types)."""
    global _options
    module = orjson()
    if _options is None:
        _options = (
            module.OPT_APPEND_NEWLINE
            | module.OPT_PASSTHROUGH_DATACLASS
            | module.OPT_PASSTHROUGH_DATETIME
            | module.OPT_PASSTHROUGH_SUBCLASS
        )
    data: bytes = module.dumps(message, None, _options)
    return data


_LOWEST, _BEYOND = -(2**63), 2**63  # the ints the compiled encoder writes: 64 bits, signed
_ORJSON, _COMPACT, _FALLBACK = range(3)  # who writes a line as the compiled implementation does


def _writer_for(value: Any) -> int:
    """Who writes ``value``, which orjson accepted, as the compiled implementation does: orjson,
    where it holds only what the compiled encoder writes itself (dicts, whose keys orjson checked,
    lists, tuples, str, int within 64 bits, finite floats, bools and None); compact ``json.dumps``
    where orjson would write a float below 1e-4 otherwise than ``repr`` (``0.00001``, ``1e-7``);
    ``fallback`` for the rest (orjson also writes enums, UUIDs, its fragments and ints up to 2**64
    itself, and NaN and infinities as ``null``)."""
    writer = _ORJSON
    containers = [(value,)]  # the items of each container yet to look at (scalars looked at in place)
    while containers:
        for item in containers.pop():
            kind = type(item)
            if kind is str or kind is bool or item is None:
                continue
            if kind is dict:
                containers.append(item.values())
            elif kind is list or kind is tuple:
                containers.append(item)
            elif kind is int:
                if not _LOWEST <= item < _BEYOND:
                    return _FALLBACK
            elif kind is not float or item - item != 0.0:  # NaN - NaN and inf - inf are NaN
                return _FALLBACK
            elif -1e-4 < item < 1e-4 and item:
                writer = _COMPACT
    return writer


def _compact(message: Any) -> bytes:
    """The line compact ``json.dumps`` writes (non-ASCII as UTF-8), as the compiled encoder does."""
    import json  # rarely needed: not imported with the writer

    return (json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


@final
class JsonLineAppender:
    """Appends messages to an open (``O_APPEND``) file descriptor as JSON lines.

    Each line's value is what ``fallback(message)`` (bytes: one line of JSON) would write. Messages
    made of exact dicts with str keys, lists, tuples, str that UTF-8 can encode, int within 64 bits,
    finite floats, bools and None, not nested too deeply, are written by orjson (or, for a few
    floats, compact ``json.dumps``) byte for byte as the compiled implementation's own encoder writes
    them; ``fallback`` writes the others (and raises for what JSON cannot hold).

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
        self._fd = file_descriptor("fd", fd)
        self._fallback = callable_argument("fallback", fallback)
        self._capacity = 0 if buffer_bytes is None else positive_int("buffer_bytes", buffer_bytes)
        self._wake = None if wake is None else callable_argument("wake", wake)
        self._buffer = bytearray()
        self._lock = allocate_lock()

    def _line(self, message: Any) -> bytes:
        try:
            data = _dumps(message)
        except TypeError:
            data = self._fallback(message)
        else:
            writer = _writer_for(message)
            if writer == _FALLBACK:
                data = self._fallback(message)
            elif writer == _COMPACT:
                data = _compact(message)
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

    def append_message(self, method: Any, params: Any) -> None:
        """:meth:`append` ``make_message(method, params)``."""
        self.append(make_message(method, params))

    def append_custom_message(self, payload: Any) -> None:
        """:meth:`append` ``make_message("report_custom_message", {"payload": payload})``."""
        self.append(make_message("report_custom_message", {"payload": payload}))

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

    def __reduce__(self) -> tuple[object, ...]:
        raise not_picklable(self)

    def _drain(self) -> None:
        """Write the buffer out (lock held; nothing once closed); what a failed write left stays at
        its front."""
        if self._fd < 0:
            return
        while self._buffer:
            del self._buffer[: os.write(self._fd, self._buffer)]
