"""Line framing: a byte stream, fed in arbitrary pieces, into complete lines.

The pure implementation of ``ext/framing.pyx``.
"""

from __future__ import annotations

from pipes_fast._hotpath.pure.final import final
from pipes_fast._hotpath.pure.held import HeldLine
from pipes_fast.protocol import DEFAULT_MAX_LINE_BYTES


@final
class LineFramer(HeldLine):
    """Turns a byte stream, fed in arbitrary pieces, into complete lines.

    A line without its newline yet is kept until the newline arrives. ``\\r\\n`` endings are
    accepted and blank lines are dropped. A line longer than ``max_line_bytes`` is cut there
    (the rest is skipped up to its newline) and counted in ``truncated_lines``.
    """

    __slots__ = ("_skipping",)

    def __init__(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        super().__init__(max_line_bytes)
        self._skipping = False

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data`` (bytes-like) and return the lines it completed, in order."""
        if type(data) is not bytes:
            data = bytes(memoryview(data))
        lines: list[bytes] = []
        start = 0
        end = len(data)
        if self._skipping:
            nl = data.find(b"\n")
            if nl < 0:
                return lines
            self._skipping = False
            start = nl + 1
        elif self._pending:
            nl = data.find(b"\n")
            if nl < 0:
                self._hold(lines, data)
                return lines
            self._pieces.append(memoryview(data)[:nl])  # joined without a copy of its own
            self._emit(lines, self._take_pending())
            start = nl + 1
        while start < end:
            nl = data.find(b"\n", start)
            if nl < 0:
                break
            self._emit(lines, data[start:nl])
            start = nl + 1
        if start < end:
            self._hold(lines, data[start:])
        return lines

    def flush(self) -> list[bytes]:
        """End of stream: return the last line if it never got its newline."""
        lines: list[bytes] = []
        if self._pending:
            self._emit(lines, self._take_pending())
        self._skipping = False
        return lines

    def _emit(self, lines: list[bytes], line: bytes) -> None:
        n = len(line)
        if n and line[n - 1] == 13:  # "\r"
            n -= 1
            line = line[:n]
        if n == 0:
            return
        if n > self._max_line_bytes:
            line = line[: self._max_line_bytes]
            self._truncated_lines += 1
        lines.append(line)

    def _hold(self, lines: list[bytes], piece: bytes) -> None:
        self._pieces.append(piece)
        self._pending += len(piece)
        if self._pending > self._max_line_bytes:
            lines.append(self._truncate(self._take_pending()))
            self._skipping = True
