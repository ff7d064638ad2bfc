"""The held line: what ``LineFramer`` and ``StdioDemux`` keep of a line until its newline arrives.

The pure implementation of ``ext/held.pxi``.
"""

from __future__ import annotations

from pipes_fast._logic.contract import not_picklable, positive_int


class HeldLine:
    """The line limit, the count of lines cut at it, and the pieces of a line not ended yet.

    The base of ``LineFramer`` and ``StdioDemux``, which decide when a held line ends and where
    it goes. Each holds a piece itself (``_pieces.append``, ``_pending +=``, in its ``_hold``):
    a call there, once a read, costs the pure implementation a few per cent on short reads.
    """

    __slots__ = ("_max_line_bytes", "_truncated_lines", "_pieces", "_pending")

    def __init__(self, max_line_bytes: int) -> None:
        self._max_line_bytes = positive_int("max_line_bytes", max_line_bytes)
        self._truncated_lines = 0
        self._pieces: list[bytes | memoryview] = []
        self._pending = 0

    @property
    def max_line_bytes(self) -> int:
        return self._max_line_bytes

    @property
    def truncated_lines(self) -> int:
        return self._truncated_lines

    @property
    def pending(self) -> int:
        """Bytes held back while waiting for the end of their line."""
        return self._pending

    def __reduce__(self) -> tuple[object, ...]:
        raise not_picklable(self)

    def _take_pending(self) -> bytes:
        """The held line, joined; nothing is held after."""
        line = b"".join(self._pieces)
        self._pieces = []
        self._pending = 0
        return line

    def _truncate(self, line: bytes) -> bytes:
        """``line``, longer than ``max_line_bytes``, cut there and counted in ``truncated_lines``."""
        self._truncated_lines += 1
        return line[: self._max_line_bytes]
