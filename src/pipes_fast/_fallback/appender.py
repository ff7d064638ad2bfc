"""Appending message lines: the external side's writer, one write per message.

Twin of ``ext/appender.pyx``.
"""

from __future__ import annotations

from typing import Any, Callable

import orjson

from pipes_fast._contract import callable_argument, integer
from pipes_fast._fdio import write_all


class JsonLineAppender:
    """Appends messages to an open (``O_APPEND``) file descriptor as JSON lines, one write each.

    Lines are orjson's (``options`` must include ``OPT_APPEND_NEWLINE``), except where orjson
    refuses the message (``TypeError``) or may have written a NaN or infinity as ``null``
    (``has_non_finite(message)`` says so): then ``fallback(message)`` makes the line.
    """

    __slots__ = ("_fd", "_options", "_has_non_finite", "_fallback")

    def __init__(
        self, fd: int, options: int, has_non_finite: Callable[[Any], bool], fallback: Callable[[Any], bytes]
    ) -> None:
        self._fd = integer("fd", fd)
        self._options = integer("options", options)
        self._has_non_finite = callable_argument("has_non_finite", has_non_finite)
        self._fallback = callable_argument("fallback", fallback)

    def append(self, message: Any) -> None:
        """Write ``message`` as one line; it is in the file when this returns."""
        try:
            data = orjson.dumps(message, None, self._options)
        except TypeError:
            data = self._fallback(message)
        else:
            if b"null" in data and self._has_non_finite(message):
                data = self._fallback(message)
        if type(data) is not bytes:
            raise TypeError(f"fallback must return bytes, got {type(data).__name__}")
        write_all(self._fd, data)
