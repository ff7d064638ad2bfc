"""Pure-Python twin of the compiled hot path (``ext/_speedups.pyx``).

Same names, same behaviour, same structure; used where the extension is not built or when
``PIPES_FAST_NO_EXTENSIONS=1``. Keep the two in step: the tests run every case against both.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
import zlib
from typing import Any, Callable, Optional

import orjson

from pipes_fast.assets import AssetKey
from pipes_fast.errors import PipesParamError
from pipes_fast.protocol import (
    DEFAULT_MAX_LINE_BYTES,
    DEFAULT_MAX_PARAM_BYTES,
    PIPES_METADATA_TYPE_INFER,
    PIPES_PROTOCOL_VERSION_FIELD,
    BadLine,
    bad_line,
    not_a_message_reason,
)
from pipes_fast.results import INFERRED_TYPE, RESOLVED_METADATA_TYPES, MalformedParams, MetadataValue

_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError

# ----- line framing -----


class LineFramer:
    """Turns a byte stream, fed in arbitrary pieces, into complete lines.

    A line without its newline yet is kept until the newline arrives. ``\\r\\n`` endings are
    accepted and blank lines are dropped. A line longer than ``max_line_bytes`` is cut there
    (the rest is skipped up to its newline) and counted in ``truncated_lines``.
    """

    def __init__(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be at least 1")
        self.max_line_bytes = max_line_bytes
        self.truncated_lines = 0
        self._pieces: list[bytes] = []
        self._pending = 0
        self._skipping = False

    @property
    def pending(self) -> int:
        """Bytes held back while waiting for the end of their line."""
        return self._pending

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data`` and return the lines it completed, in order."""
        data = bytes(data)
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
            self._pieces.append(data[:nl])
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
        if n > self.max_line_bytes:
            line = line[: self.max_line_bytes]
            self.truncated_lines += 1
        lines.append(line)

    def _hold(self, lines: list[bytes], piece: bytes) -> None:
        self._pieces.append(piece)
        self._pending += len(piece)
        if self._pending > self.max_line_bytes:
            lines.append(self._take_pending()[: self.max_line_bytes])
            self.truncated_lines += 1
            self._skipping = True

    def _take_pending(self) -> bytes:
        line = b"".join(self._pieces)
        self._pieces = []
        self._pending = 0
        return line


# ----- batch decoding -----


def decode_batch(lines: list[bytes], first_line: int = 1) -> tuple[list[dict], list[BadLine]]:
    """Decode lines into message dicts; lines that are not messages are reported, not raised.

    ``first_line`` is the number of the first line, so that reports name stream positions.
    """
    messages: list[dict] = []
    bad: list[BadLine] = []
    number = first_line
    for line in lines:
        try:
            value = _loads(line)
        except _JSONDecodeError as exc:
            bad.append(bad_line(number, line, f"invalid JSON ({exc})"))
        else:
            if type(value) is dict and PIPES_PROTOCOL_VERSION_FIELD in value:
                messages.append(value)
            else:
                bad.append(bad_line(number, line, not_a_message_reason(value)))
        number += 1
    return messages, bad


# ----- file tailing -----

_MIN_POLL_SECONDS = 0.001
_MAX_POLL_SECONDS = 0.05


class FileTailer:
    """Reads what was appended to a file since the last call; the file may not exist yet.

    ``wait`` blocks until there is more to read, ``stop`` is called, or the timeout passes,
    polling with a bounded adaptive sleep (never a busy spin). Reads are ``chunk_bytes`` at a
    time: small enough that the messages decoded from one read are dispatched before the garbage
    collector's first generation fills up, which keeps decoding at full speed.
    """

    def __init__(self, path: str | os.PathLike[str], chunk_bytes: int = 16 * 1024) -> None:
        self.path = os.fspath(path)
        self.chunk_bytes = chunk_bytes
        self.position = 0
        self._fd = -1
        self._stop = threading.Event()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        """Wake any ``wait`` now and make later ones return at once."""
        self._stop.set()

    def read(self) -> bytes:
        """Return up to ``chunk_bytes`` bytes appended since the last call (``b""`` if none)."""
        if self._fd < 0 and not self._open():
            return b""
        data = os.read(self._fd, self.chunk_bytes)
        self.position += len(data)
        return data

    def available(self) -> int:
        """Bytes written to the file and not read yet."""
        if self._fd < 0 and not self._open():
            return 0
        return max(os.fstat(self._fd).st_size - self.position, 0)

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Wait for unread data; True if there is some, False on stop or timeout."""
        delay = _MIN_POLL_SECONDS
        remaining = timeout
        while True:
            if self.available() > 0:
                return True
            if remaining is not None:
                if remaining <= 0:
                    return False
                delay = min(delay, remaining)
            if self._stop.wait(delay):
                return self.available() > 0
            if remaining is not None:
                remaining -= delay
            delay = min(delay * 2, _MAX_POLL_SECONDS)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _open(self) -> bool:
        try:
            self._fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        return True

    def __enter__(self) -> FileTailer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# ----- metadata resolution -----


def resolve_metadata(raw: Any, warn: Callable[[str], None]) -> dict[str, MetadataValue]:
    """Metadata from the wire (``{name: {"raw_value": V, "type": T}}``) to ``MetadataValue`` objects.

    ``__infer__`` resolves from the raw value's type; an unknown type is reported through ``warn``
    and inferred too. A malformed entry raises :class:`MalformedParams`.
    """
    if type(raw) is not dict:
        if raw is None:
            return {}
        raise MalformedParams(f"metadata must be an object, got {type(raw).__name__}")
    resolved: dict[str, MetadataValue] = {}
    for name, entry in raw.items():
        try:
            kind = entry["type"]
            value = entry["raw_value"]
        except (TypeError, KeyError, IndexError):
            raise MalformedParams(
                f"metadata entry {name!r} must be an object with 'raw_value' and 'type', got {entry!r:.100}"
            ) from None
        if kind == PIPES_METADATA_TYPE_INFER:
            kind = INFERRED_TYPE.get(type(value), "json")
        elif kind == "asset":
            if type(value) is not str:
                raise MalformedParams(f"metadata entry {name!r} of type 'asset' must be a string, got {value!r:.100}")
            value = AssetKey.from_user_string(value)
        elif kind not in RESOLVED_METADATA_TYPES:
            warn(f"metadata entry {name!r} has unknown type {kind!r:.50}; inferring its type from the value")
            kind = INFERRED_TYPE.get(type(value), "json")
        resolved[name] = MetadataValue(kind, value)
    return resolved


# ----- bootstrap codec -----


def encode_param(value: Any) -> str:
    """``base64(zlib(json(value)))``, byte for byte as dagster-pipes encodes it."""
    try:
        serialized = json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise PipesParamError(f"cannot encode param: value is not JSON-serialisable ({exc})") from None
    return base64.b64encode(zlib.compress(serialized.encode("utf-8"))).decode("ascii")


def decode_param(value: str | bytes, max_bytes: int = DEFAULT_MAX_PARAM_BYTES) -> Any:
    """Decode a bootstrap param; raise ``PipesParamError`` naming the step that failed.

    ``max_bytes`` bounds the inflated JSON so that a small hostile param cannot exhaust memory.
    """
    if not isinstance(value, (str, bytes)):
        raise PipesParamError(f"cannot decode param: expected str, got {type(value).__name__}")
    max_encoded = (max_bytes + max_bytes // 1000 + 64) * 4 // 3 + 4
    if len(value) > max_encoded:
        raise PipesParamError(
            f"cannot decode param: {len(value)} characters is longer than any param that "
            f"inflates to at most {max_bytes} bytes"
        )
    try:
        compressed = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PipesParamError(f"cannot decode param: not valid base64 ({exc})") from None
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(compressed, max_bytes + 1)
    except zlib.error as exc:
        raise PipesParamError(f"cannot decode param: not valid zlib data ({exc})") from None
    if len(raw) > max_bytes:
        raise PipesParamError(
            f"cannot decode param: it inflates past the limit of {max_bytes} bytes"
        )
    if not inflater.eof:
        raise PipesParamError("cannot decode param: zlib data is truncated")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PipesParamError(f"cannot decode param: JSON is not valid UTF-8 ({exc})") from None
    except json.JSONDecodeError as exc:
        raise PipesParamError(f"cannot decode param: not valid JSON ({exc})") from None
    except RecursionError:
        raise PipesParamError("cannot decode param: JSON is nested too deeply") from None
