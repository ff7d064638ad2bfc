"""Stdio demultiplexing: Pipes messages picked out of a process's ordinary output.

Twin of ``ext/stdio.pyx``.
"""

from __future__ import annotations

from pipes_fast._fallback.held import HeldLine
from pipes_fast.protocol import DEFAULT_MAX_LINE_BYTES

_KEY = b'"__dagster_pipes_version"'
_BLANKS = b" \t"

_LINE_START, _OUTPUT, _HELD, _SKIPPING = range(4)


def _first_non_blank(data: bytes, start: int, end: int) -> int:
    """The index of the first byte in [start, end) that is not a space or a tab, or ``end``."""
    while start < end and data[start] in _BLANKS:
        start += 1
    return start


class StdioDemux(HeldLine):
    """Splits a stream of ordinary output, fed in arbitrary pieces, from the Pipes messages in it.

    ``feed`` and ``flush`` return ``(messages, output)``: the complete lines that are Pipes
    messages (first non-blank byte ``{`` and the ``"__dagster_pipes_version"`` key within the
    first ``max_line_bytes`` bytes), without their ``\\r\\n`` or ``\\n``, and every other byte,
    in order and untouched. A partial line that cannot be a message is output at once; one that
    may be is held until its newline. A message longer than ``max_line_bytes`` is cut there (the
    rest is skipped up to its newline) and counted in ``truncated_lines``.
    """

    __slots__ = ("_mode", "_brace")

    def __init__(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        super().__init__(max_line_bytes)
        self._mode = _LINE_START
        self._brace = False  # the held line's first non-blank byte, "{", has arrived

    def feed(self, data: bytes) -> tuple[list[bytes], bytes]:
        """Add ``data`` (bytes-like) and return the messages and output it completed."""
        if type(data) is not bytes:
            data = bytes(memoryview(data))
        messages: list[bytes] = []
        out: list[bytes] = []
        pos = out_start = 0
        end = len(data)
        if self._mode != _LINE_START:
            nl = data.find(b"\n")
            stop = end if nl < 0 else nl
            if self._mode == _HELD and not self._brace:
                first = _first_non_blank(data, 0, stop)
                if first < stop:
                    if data[first] == 123:  # "{"
                        self._brace = True
                    else:
                        out.append(self._take_pending())
                        self._mode = _OUTPUT
            if self._mode == _HELD:
                if nl < 0:
                    self._hold(messages, out, data)
                    return messages, b"".join(out)
                self._pieces.append(data[: stop + 1])
                self._complete(messages, out, self._take_pending())
                out_start = stop + 1
            elif nl < 0:
                if self._mode == _OUTPUT:
                    out.append(data)
                return messages, b"".join(out)
            elif self._mode == _SKIPPING:
                out_start = stop + 1
            self._mode = _LINE_START
            pos = stop + 1
        while pos < end:
            stop = data.find(b"\n", pos)
            if stop < 0:
                break
            if self._is_message(data, pos, stop):
                if pos > out_start:
                    out.append(data[out_start:pos])
                self._emit(messages, data[pos:stop])
                out_start = stop + 1
            pos = stop + 1
        if pos < end:
            first = _first_non_blank(data, pos, end)
            if first < end and data[first] != 123:
                self._mode = _OUTPUT
            else:
                if pos > out_start:
                    out.append(data[out_start:pos])
                out_start = end
                self._brace = first < end
                self._mode = _HELD
                self._hold(messages, out, data[pos:])
        if end > out_start:
            out.append(data[out_start:])
        return messages, b"".join(out)

    def flush(self) -> tuple[list[bytes], bytes]:
        """End of stream: a last line without its newline, as a message or as output."""
        messages: list[bytes] = []
        out: list[bytes] = []
        if self._mode == _HELD:
            self._complete(messages, out, self._take_pending())
        self._mode = _LINE_START
        return messages, b"".join(out)

    def _is_message(self, line: bytes, start: int, end: int) -> bool:
        first = _first_non_blank(line, start, end)
        if first == end or line[first] != 123:  # "{"
            return False
        return line.find(_KEY, first + 1, min(end, start + self._max_line_bytes)) >= 0

    def _emit(self, messages: list[bytes], line: bytes) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > self._max_line_bytes:
            line = line[: self._max_line_bytes]
            self._truncated_lines += 1
        messages.append(line)

    def _complete(self, messages: list[bytes], out: list[bytes], line: bytes) -> None:
        """A held line has ended (``line`` keeps its newline, if it had one)."""
        end = len(line) - 1 if line.endswith(b"\n") else len(line)
        if self._is_message(line, 0, end):
            self._emit(messages, line[:end])
        else:
            out.append(line)

    def _hold(self, messages: list[bytes], out: list[bytes], piece: bytes) -> None:
        self._pieces.append(piece)
        self._pending += len(piece)
        if self._pending <= self._max_line_bytes + 1:  # + 1: a "\r" may yet end it
            return
        held = self._take_pending()
        if self._is_message(held, 0, len(held)):
            messages.append(self._truncate(held))
            self._mode = _SKIPPING
        else:
            out.append(held)
            self._mode = _OUTPUT
