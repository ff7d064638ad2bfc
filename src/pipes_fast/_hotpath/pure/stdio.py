"""Stdio demultiplexing: Pipes messages picked out of a process's ordinary output.

The pure implementation of ``ext/stdio.pyx``.
"""

from __future__ import annotations

import json
import re
from typing import Optional

from pipes_fast._hotpath.pure.deferred import orjson
from pipes_fast._hotpath.pure.final import final
from pipes_fast._hotpath.pure.held import HeldLine
from pipes_fast.protocol import DEFAULT_MAX_LINE_BYTES, PIPES_PROTOCOL_VERSION_FIELD

_KEY = b'"__dagster_pipes_version"'
_ESCAPE = b"\\u"  # the key may be written with escapes: a line holding one is parsed too
_BLANKS = b" \t\r"  # JSON's blanks but the newline
_STRUCTURE = re.compile(rb'["{}\[\]]')
_STRING_REST = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_COLON = re.compile(rb"[ \t\r]*:")

_LINE_START, _OUTPUT, _HELD, _SKIPPING = range(4)


def _first_non_blank(data: bytes, start: int, end: int) -> int:
    """The index of the first byte in [start, end) that is not a space, a tab or a ``\\r``, or ``end``."""
    while start < end and data[start] in _BLANKS:
        start += 1
    return start


def _parses_as_message(text: bytes) -> bool:
    """``text`` is a JSON object with the version key at its top level (as Python's json reads it)."""
    try:
        value = orjson().loads(text)
    except ValueError:  # orjson.JSONDecodeError; Python's json also reads NaN, Infinity, lone surrogates
        try:
            value = json.loads(text.decode("utf-8"))
        except (ValueError, RecursionError):  # json.JSONDecodeError, UnicodeDecodeError
            return False
    return type(value) is dict and PIPES_PROTOCOL_VERSION_FIELD in value


def _key_at_top_level(line: bytes, brace: int, end: int) -> bool:
    """The object opening at ``brace`` has the version key (written plainly) among its own keys
    before ``end``: what can be told of a line too long to parse."""
    depth = 1
    pos = brace + 1
    while True:
        found = _STRUCTURE.search(line, pos, end)
        if found is None:
            return False
        at = found.start()
        pos = at + 1
        char = line[at]
        if char == 34:  # '"': a string, a key if a ':' follows it
            if depth == 1 and line.startswith(_KEY, at, end) and _COLON.match(line, at + len(_KEY), end):
                return True
            rest = _STRING_REST.match(line, pos, end)
            if rest is None:
                return False
            pos = rest.end()
        elif char == 123 or char == 91:  # "{" or "["
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return False


@final
class StdioDemux(HeldLine):
    """Splits a stream of ordinary output, fed in arbitrary pieces, from the Pipes messages in it.

    ``feed`` and ``flush`` return ``(messages, output)``: the complete lines that are Pipes
    messages, without their ``\\r\\n`` or ``\\n``, and every other byte, in order and untouched.
    A line is a message when it is a JSON object with ``"__dagster_pipes_version"`` among its
    top-level keys, as Dagster's ``extract_message_or_forward_to_file`` decides; only a line whose
    first non-blank byte is ``{`` and that holds the key (or a ``\\u`` escape) is parsed to tell.
    A partial line that cannot be a message is output at once; one that may be is held until its
    newline. A line longer than ``max_line_bytes`` is not parsed: it is a message when the key
    stands, plainly written, among its top-level keys within the first ``max_line_bytes`` bytes;
    such a message is cut there (the rest is skipped up to its newline) and counted in
    ``truncated_lines``.
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
            message = self._message(data, pos, stop)
            if message is not None:
                if pos > out_start:
                    out.append(data[out_start:pos])
                messages.append(message)
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

    def _message(self, line: bytes, start: int, end: int) -> Optional[bytes]:
        """The message that the whole line ``line[start:end]`` (without its newline) is, without its
        ``\\r`` and cut at the limit (counted); None if the line is output."""
        first = _first_non_blank(line, start, end)
        if first == end or line[first] != 123:  # "{"
            return None
        if line[end - 1] == 13:  # "\r"
            end -= 1
        limit = start + self._max_line_bytes
        if end > limit:
            if not _key_at_top_level(line, first, limit):
                return None
            self._truncated_lines += 1
            return line[start:limit]
        if line.find(_KEY, first + 1, end) < 0 and line.find(_ESCAPE, first + 1, end) < 0:
            return None
        text = line[start:end]
        return text if _parses_as_message(text) else None

    def _complete(self, messages: list[bytes], out: list[bytes], line: bytes) -> None:
        """A held line has ended (``line`` keeps its newline, if it had one)."""
        message = self._message(line, 0, len(line) - 1 if line.endswith(b"\n") else len(line))
        if message is None:
            out.append(line)
        else:
            messages.append(message)

    def _hold(self, messages: list[bytes], out: list[bytes], piece: bytes) -> None:
        self._pieces.append(piece)
        self._pending += len(piece)
        if self._pending <= self._max_line_bytes + 1:  # + 1: a "\r" may yet end it
            return
        held = self._take_pending()
        first = _first_non_blank(held, 0, len(held))
        if first < len(held) and held[first] == 123 and _key_at_top_level(held, first, self._max_line_bytes):
            messages.append(self._truncate(held))
            self._mode = _SKIPPING
        else:
            out.append(held)
            self._mode = _OUTPUT
