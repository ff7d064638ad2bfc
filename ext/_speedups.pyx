# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Compiled hot path of pipes_fast; ``pipes_fast._fallback`` is its pure-Python twin.

Same names, same behaviour, same structure. Keep the two in step: the tests run every case
against both.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_Contains
from libc.string cimport memchr

import base64
import binascii
import json
import os
import threading
import zlib

import orjson

from pipes_fast.assets import AssetKey
from pipes_fast.errors import PipesParamError
from pipes_fast.protocol import (
    DEFAULT_MAX_LINE_BYTES,
    DEFAULT_MAX_PARAM_BYTES,
    PIPES_METADATA_TYPE_INFER,
    PIPES_PROTOCOL_VERSION_FIELD,
    bad_line,
    not_a_message_reason,
)
from pipes_fast.results import INFERRED_TYPE, RESOLVED_METADATA_TYPES, MalformedParams, MetadataValue

cdef object _loads = orjson.loads
cdef object _JSONDecodeError = orjson.JSONDecodeError
cdef str _VERSION_FIELD = PIPES_PROTOCOL_VERSION_FIELD
cdef str _INFER = PIPES_METADATA_TYPE_INFER
cdef dict _INFERRED_TYPE = INFERRED_TYPE
cdef frozenset _RESOLVED_TYPES = RESOLVED_METADATA_TYPES
cdef object _MetadataValue = MetadataValue
cdef object _new_object = object.__new__

# ----- line framing -----


cdef class LineFramer:
    """Turns a byte stream, fed in arbitrary pieces, into complete lines.

    A line without its newline yet is kept until the newline arrives. ``\\r\\n`` endings are
    accepted and blank lines are dropped. A line longer than ``max_line_bytes`` is cut there
    (the rest is skipped up to its newline) and counted in ``truncated_lines``.
    """

    cdef readonly Py_ssize_t max_line_bytes
    cdef public Py_ssize_t truncated_lines
    cdef list _pieces
    cdef Py_ssize_t _pending
    cdef bint _skipping

    def __init__(self, Py_ssize_t max_line_bytes=DEFAULT_MAX_LINE_BYTES):
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be at least 1")
        self.max_line_bytes = max_line_bytes
        self.truncated_lines = 0
        self._pieces = []
        self._pending = 0
        self._skipping = False

    @property
    def pending(self):
        """Bytes held back while waiting for the end of their line."""
        return self._pending

    def feed(self, data):
        """Add ``data`` and return the lines it completed, in order."""
        cdef bytes buf = data if type(data) is bytes else bytes(data)
        cdef const char* base = PyBytes_AS_STRING(buf)
        cdef Py_ssize_t end = PyBytes_GET_SIZE(buf)
        cdef Py_ssize_t start = 0
        cdef const char* nl
        cdef list lines = []
        if self._skipping:
            nl = <const char*>memchr(base, b"\n", end)
            if nl == NULL:
                return lines
            self._skipping = False
            start = nl - base + 1
        elif self._pending:
            nl = <const char*>memchr(base, b"\n", end)
            if nl == NULL:
                self._hold(lines, buf)
                return lines
            self._pieces.append(buf[:nl - base])
            self._emit_bytes(lines, self._take_pending())
            start = nl - base + 1
        while start < end:
            nl = <const char*>memchr(base + start, b"\n", end - start)
            if nl == NULL:
                break
            self._emit(lines, base + start, nl - base - start)
            start = nl - base + 1
        if start < end:
            self._hold(lines, buf[start:])
        return lines

    def flush(self):
        """End of stream: return the last line if it never got its newline."""
        cdef list lines = []
        if self._pending:
            self._emit_bytes(lines, self._take_pending())
        self._skipping = False
        return lines

    cdef inline void _emit(self, list lines, const char* line, Py_ssize_t n):
        if n and line[n - 1] == b"\r":
            n -= 1
        if n == 0:
            return
        if n > self.max_line_bytes:
            n = self.max_line_bytes
            self.truncated_lines += 1
        lines.append(PyBytes_FromStringAndSize(line, n))

    cdef void _emit_bytes(self, list lines, bytes line):
        self._emit(lines, PyBytes_AS_STRING(line), PyBytes_GET_SIZE(line))

    cdef void _hold(self, list lines, bytes piece):
        self._pieces.append(piece)
        self._pending += PyBytes_GET_SIZE(piece)
        if self._pending > self.max_line_bytes:
            lines.append(self._take_pending()[:self.max_line_bytes])
            self.truncated_lines += 1
            self._skipping = True

    cdef bytes _take_pending(self):
        cdef bytes line = b"".join(self._pieces)
        self._pieces = []
        self._pending = 0
        return line


# ----- batch decoding -----


def decode_batch(list lines, Py_ssize_t first_line=1):
    """Decode lines into message dicts; lines that are not messages are reported, not raised.

    ``first_line`` is the number of the first line, so that reports name stream positions.
    """
    cdef list messages = []
    cdef list bad = []
    cdef Py_ssize_t number = first_line
    cdef object line, value
    for line in lines:
        try:
            value = _loads(line)
        except _JSONDecodeError as exc:
            bad.append(bad_line(number, line, f"invalid JSON ({exc})"))
        else:
            if type(value) is dict and PyDict_Contains(value, _VERSION_FIELD):
                messages.append(value)
            else:
                bad.append(bad_line(number, line, not_a_message_reason(value)))
        number += 1
    return messages, bad


# ----- file tailing -----

cdef double _MIN_POLL_SECONDS = 0.001
cdef double _MAX_POLL_SECONDS = 0.05


cdef class FileTailer:
    """Reads what was appended to a file since the last call; the file may not exist yet.

    ``wait`` blocks until there is more to read, ``stop`` is called, or the timeout passes,
    polling with a bounded adaptive sleep (never a busy spin). Reads are ``chunk_bytes`` at a
    time: small enough that the messages decoded from one read are dispatched before the garbage
    collector's first generation fills up, which keeps decoding at full speed.
    """

    cdef readonly str path
    cdef public Py_ssize_t chunk_bytes
    cdef readonly long long position
    cdef int _fd
    cdef object _stop

    def __init__(self, path, Py_ssize_t chunk_bytes=16 * 1024):
        self.path = os.fspath(path)
        self.chunk_bytes = chunk_bytes
        self.position = 0
        self._fd = -1
        self._stop = threading.Event()

    def __dealloc__(self):
        if self._fd >= 0:
            os.close(self._fd)

    @property
    def stopped(self):
        return self._stop.is_set()

    def stop(self):
        """Wake any ``wait`` now and make later ones return at once."""
        self._stop.set()

    def read(self):
        """Return up to ``chunk_bytes`` bytes appended since the last call (``b""`` if none)."""
        if self._fd < 0 and not self._open():
            return b""
        cdef bytes data = os.read(self._fd, self.chunk_bytes)
        self.position += PyBytes_GET_SIZE(data)
        return data

    def available(self):
        """Bytes written to the file and not read yet."""
        if self._fd < 0 and not self._open():
            return 0
        return max(os.fstat(self._fd).st_size - self.position, 0)

    def wait(self, timeout=None):
        """Wait for unread data; True if there is some, False on stop or timeout."""
        cdef double delay = _MIN_POLL_SECONDS
        cdef double remaining = -1.0 if timeout is None else timeout
        while True:
            if self.available() > 0:
                return True
            if timeout is not None:
                if remaining <= 0:
                    return False
                delay = min(delay, remaining)
            if self._stop.wait(delay):
                return self.available() > 0
            if timeout is not None:
                remaining -= delay
            delay = min(delay * 2, _MAX_POLL_SECONDS)

    def close(self):
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    cdef bint _open(self) except -1:
        try:
            self._fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        return True

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


# ----- metadata resolution -----


def resolve_metadata(raw, warn):
    """Metadata from the wire (``{name: {"raw_value": V, "type": T}}``) to ``MetadataValue`` objects.

    ``__infer__`` resolves from the raw value's type; an unknown type is reported through ``warn``
    and inferred too. A malformed entry raises :class:`MalformedParams`.
    """
    if type(raw) is not dict:
        if raw is None:
            return {}
        raise MalformedParams(f"metadata must be an object, got {type(raw).__name__}")
    cdef dict resolved = {}
    cdef object name, entry, kind, value, resolved_value
    for name, entry in (<dict>raw).items():
        try:
            kind = entry["type"]
            value = entry["raw_value"]
        except (TypeError, KeyError, IndexError):
            raise MalformedParams(
                f"metadata entry {name!r} must be an object with 'raw_value' and 'type', got {entry!r:.100}"
            ) from None
        if kind == _INFER:
            kind = _INFERRED_TYPE.get(type(value), "json")
        elif kind == "asset":
            if type(value) is not str:
                raise MalformedParams(f"metadata entry {name!r} of type 'asset' must be a string, got {value!r:.100}")
            value = AssetKey.from_user_string(value)
        elif kind not in _RESOLVED_TYPES:
            warn(f"metadata entry {name!r} has unknown type {kind!r:.50}; inferring its type from the value")
            kind = _INFERRED_TYPE.get(type(value), "json")
        # the type is known valid here: skip MetadataValue.__init__'s check
        resolved_value = _new_object(_MetadataValue)
        resolved_value.type = kind
        resolved_value.value = value
        resolved[name] = resolved_value
    return resolved


# ----- bootstrap codec -----


def encode_param(value):
    """``base64(zlib(json(value)))``, byte for byte as dagster-pipes encodes it."""
    try:
        serialized = json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise PipesParamError(f"cannot encode param: value is not JSON-serialisable ({exc})") from None
    return base64.b64encode(zlib.compress(serialized.encode("utf-8"))).decode("ascii")


def decode_param(value, Py_ssize_t max_bytes=DEFAULT_MAX_PARAM_BYTES):
    """Decode a bootstrap param; raise ``PipesParamError`` naming the step that failed.

    ``max_bytes`` bounds the inflated JSON so that a small hostile param cannot exhaust memory.
    """
    if not isinstance(value, (str, bytes)):
        raise PipesParamError(f"cannot decode param: expected str, got {type(value).__name__}")
    cdef Py_ssize_t max_encoded = (max_bytes + max_bytes // 1000 + 64) * 4 // 3 + 4
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
