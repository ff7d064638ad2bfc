# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Compiled hot path of pipes_fast; ``pipes_fast._fallback`` is its pure-Python twin.

Same names, same behaviour, same structure. Keep the two in step: the tests run every case
against both.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_Contains
from cpython.exc cimport PyErr_CheckSignals
from libc.errno cimport EINTR, errno
from libc.string cimport memchr, memcmp
from posix.unistd cimport write as c_write

import json
import os
from collections import deque

import orjson

from pipes_fast.assets import AssetKey
from pipes_fast.errors import MalformedParams, require_param
from pipes_fast.protocol import (
    CANONICAL_ENVELOPES,
    DEFAULT_MAX_LINE_BYTES,
    HOT_PATH_MODULES,
    INFERRED_METADATA_TYPE,
    METHODS,
    PIPES_METADATA_TYPE_INFER,
    PIPES_PROTOCOL_VERSION,
    PIPES_PROTOCOL_VERSION_FIELD,
    RESOLVED_METADATA_TYPES,
    AssetCheckSeverity,
    bad_line,
    not_a_message_reason,
)

cdef object _loads = orjson.loads
cdef object _dumps = orjson.dumps
cdef object _json_loads = json.loads
cdef str _VERSION_FIELD = PIPES_PROTOCOL_VERSION_FIELD
cdef str _INFER = PIPES_METADATA_TYPE_INFER
cdef dict _INFERRED_TYPE = INFERRED_METADATA_TYPE
cdef frozenset _RESOLVED_TYPES = RESOLVED_METADATA_TYPES
cdef frozenset _HOT_PATH_MODULES = HOT_PATH_MODULES

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


cdef inline bint _is_digit(unsigned char c) noexcept:
    return 48 <= c <= 57  # "0" to "9"


cdef bint _may_hold_a_long_integer(bytes line) noexcept:
    """``re.search(LONG_INTEGER_PATTERN, line)``: 20 digits in a row, or "-" and 19.

    Runs of 19 digits are found by testing one byte in 19 and scanning around the digits hit.
    """
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(line)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(line)
    cdef Py_ssize_t probe = 18, start, stop
    while probe < n:
        if not _is_digit(p[probe]):
            probe += 19
            continue
        start = probe
        while start > 0 and _is_digit(p[start - 1]):
            start -= 1
        stop = probe + 1
        while stop < n and _is_digit(p[stop]):
            stop += 1
        if stop - start >= 20 or (stop - start == 19 and start > 0 and p[start - 1] == 45):  # "-"
            return True
        probe = stop + 19
    return False


cdef object _loads_exactly(bytes line):
    """Parse as Dagster does (Python's json): NaN, Infinity and integers of any size included."""
    return _json_loads(line.decode("utf-8"))


cdef tuple _ENVELOPES = CANONICAL_ENVELOPES
# the bulk of a stream first: the envelope's method is matched against these in order
cdef tuple _METHODS = tuple(
    (name.encode(), name)
    for name in sorted(METHODS, key=lambda m: (not m.startswith("report_"), m))
)
cdef str _VERSION = PIPES_PROTOCOL_VERSION
cdef str _CUSTOM = "report_custom_message"
cdef tuple _PAYLOAD_PREFIXES = (b'{"payload": ', b'{"payload":')
cdef object _NOT_PARSED = object()
cdef dict _SEVERITIES = {severity.value: severity for severity in AssetCheckSeverity}


cdef inline bint _starts_with(const char* p, Py_ssize_t n, bytes prefix) noexcept:
    cdef Py_ssize_t k = PyBytes_GET_SIZE(prefix)
    return n >= k and memcmp(p, PyBytes_AS_STRING(prefix), k) == 0


cdef object _canonical_method(bytes line, Py_ssize_t* params_start):
    """The method of a line in a canonical envelope, whose params then span from
    ``params_start`` to the line's last byte (a ``}``); None for any other line."""
    cdef const char* p = PyBytes_AS_STRING(line)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(line)
    cdef Py_ssize_t start, end
    cdef bytes prefix, middle, name
    cdef object method
    if n == 0 or p[n - 1] != b"}":
        return None
    for prefix, middle in _ENVELOPES:
        if _starts_with(p, n, prefix):
            start = PyBytes_GET_SIZE(prefix)
            for name, method in _METHODS:
                end = start + PyBytes_GET_SIZE(name)
                if _starts_with(p + start, n - start, name) and _starts_with(p + end, n - end, middle):
                    params_start[0] = end + PyBytes_GET_SIZE(middle)
                    return method
            return None
    return None


cdef object _loads_part(bytes line, Py_ssize_t start, Py_ssize_t stop):
    """``line[start:stop]`` parsed by orjson, or ``_NOT_PARSED`` where that is not exact."""
    cdef bytes part = PyBytes_FromStringAndSize(PyBytes_AS_STRING(line) + start, stop - start)
    if _may_hold_a_long_integer(part):
        return _NOT_PARSED
    try:
        return _loads(part)
    except ValueError:
        return _NOT_PARSED


cdef object _decode_canonical(bytes line):
    """The message of a line in a canonical envelope, parsing only its params; else None.

    Sound because ``prefix + method + middle + P + "}"`` is that message whenever ``P`` parses
    on its own as one JSON value. Anything else (another shape, unknown method, params that need
    exact parsing or do not parse) is left to the general path.
    """
    cdef Py_ssize_t start = 0
    method = _canonical_method(line, &start)
    if method is None:
        return None
    params = _loads_part(line, start, PyBytes_GET_SIZE(line) - 1)
    return None if params is _NOT_PARSED else _message(method, params)


cdef inline dict _message(object method, object params):
    return {_VERSION_FIELD: _VERSION, "method": method, "params": params}


cdef Py_ssize_t _payload_start(bytes line, Py_ssize_t params_start) noexcept:
    """Where the payload starts if the params are exactly ``{"payload": X}`` framed canonically
    (X then ends one byte before the line's closing ``}}``); -1 otherwise."""
    cdef const char* p = PyBytes_AS_STRING(line) + params_start
    cdef Py_ssize_t n = PyBytes_GET_SIZE(line) - params_start
    cdef bytes prefix
    if n < 2 or p[n - 2] != b"}":
        return -1
    for prefix in _PAYLOAD_PREFIXES:
        if _starts_with(p, n, prefix):
            return params_start + PyBytes_GET_SIZE(prefix)
    return -1


cdef object _decode_line(bytes line, Py_ssize_t number, list bad):
    """The message ``line`` holds, or None after appending a ``BadLine`` to ``bad``."""
    cdef object message = _decode_canonical(line)
    return message if message is not None else _decode_general(line, number, bad)


cdef object _decode_general(bytes line, Py_ssize_t number, list bad):
    """``_decode_line`` without the canonical-envelope shortcut: the whole line is parsed."""
    cdef object value
    try:
        value = _loads_exactly(line) if _may_hold_a_long_integer(line) else _loads(line)
    except ValueError as error:  # orjson.JSONDecodeError, json.JSONDecodeError, UnicodeDecodeError
        try:
            value = _loads_exactly(line)
        except (ValueError, RecursionError):
            bad.append(bad_line(number, line, f"invalid JSON ({error})"))
            return None
    except RecursionError:
        bad.append(bad_line(number, line, "invalid JSON (nested too deeply)"))
        return None
    if type(value) is dict and PyDict_Contains(value, _VERSION_FIELD):
        return value
    bad.append(bad_line(number, line, not_a_message_reason(value)))
    return None


def decode_batch(list lines, Py_ssize_t first_line=1):
    """Decode lines into message dicts; lines that are not messages are reported, not raised.

    ``first_line`` is the number of the first line, so that reports name stream positions. Lines
    orjson cannot represent exactly (NaN, Infinity, integers beyond 64 bits, lone surrogates) are
    parsed by Python's json module, as Dagster's reader would.
    """
    cdef list messages = []
    cdef list bad = []
    cdef Py_ssize_t number = first_line
    cdef object message
    cdef bytes line
    for line in lines:
        message = _decode_line(line, number, bad)
        if message is not None:
            messages.append(message)
        number += 1
    return messages, bad


# ----- metadata values -----


@cython.no_gc
@cython.final
cdef class MetadataValue:
    """A typed metadata value: ``type`` is a Pipes metadata type (never ``__infer__``).

    ``value`` is the raw JSON value as the external process sent it, except for ``asset``,
    whose value is an :class:`AssetKey`. Immutable; equal to the other implementation's
    ``MetadataValue`` with the same type and value. Not tracked by the cyclic garbage collector
    (a value cannot refer back to its MetadataValue), so millions of them cost no GC time.
    """

    cdef readonly str type
    cdef readonly object value

    def __init__(self, str type, value):
        if type not in _RESOLVED_TYPES:
            raise ValueError(f"unknown metadata type {type!r}; expected one of {sorted(_RESOLVED_TYPES)}")
        self.type = type
        self.value = value

    @classmethod
    def infer(cls, value):
        """The value with the type Dagster infers for it (str -> text, dict -> json, ...)."""
        if is_metadata_value(value):
            return value
        if isinstance(value, AssetKey):
            return cls("asset", value)
        kind = _INFERRED_TYPE.get(type(value))
        if kind is None:
            raise TypeError(f"cannot infer a metadata type for {type(value).__name__}; wrap it in MetadataValue(type, value)")
        return cls(kind, value)

    def __eq__(self, other):
        return is_metadata_value(other) and other.type == self.type and other.value == self.value

    def __hash__(self):
        return hash((self.type, repr(self.value)))

    def __repr__(self):
        return f"MetadataValue({self.type!r}, {self.value!r})"

    def __reduce__(self):
        return (MetadataValue, (self.type, self.value))


def is_metadata_value(value):
    """True for a ``MetadataValue`` of either hot-path implementation."""
    return type(value) is MetadataValue or _is_twin(value, "MetadataValue")


cdef bint _is_twin(object value, str name):
    """True if ``value`` is an instance of the hot-path type ``name``, of either implementation."""
    kind = type(value)
    return kind.__name__ == name and kind.__module__ in _HOT_PATH_MODULES


cdef inline MetadataValue _trusted_value(str kind, object value):
    """A ``MetadataValue`` whose type is known to be valid."""
    cdef MetadataValue resolved = MetadataValue.__new__(MetadataValue)
    resolved.type = kind
    resolved.value = value
    return resolved


def resolve_metadata(raw, warn):
    """Metadata from the wire (``{name: {"raw_value": V, "type": T}}``) to ``MetadataValue`` objects.

    ``__infer__`` resolves from the raw value's type; an unknown type is reported through ``warn``
    and inferred too. A malformed entry raises :class:`MalformedParams`.
    """
    return _resolve_metadata(raw, warn)


cdef dict _resolve_metadata(object raw, object warn):
    if type(raw) is not dict:
        if raw is None:
            return {}
        raise MalformedParams(f"metadata must be an object, got {type(raw).__name__}")
    cdef dict resolved = {}
    cdef object name, entry, kind, value
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
        elif type(kind) is not str or kind not in _RESOLVED_TYPES:
            warn(f"metadata entry {name!r} has unknown type {kind!r:.50}; inferring its type from the value")
            kind = _INFERRED_TYPE.get(type(value), "json")
        resolved[name] = _trusted_value(kind, value)
    return resolved


# ----- results -----
# Not tracked by the cyclic garbage collector, like MetadataValue: a stream's results can run to
# millions, and nothing the wire delivers can make a result refer back to itself.


@cython.no_gc
@cython.final
cdef class AssetCheckResult:
    """The outcome of an asset check reported by the external process."""

    cdef readonly object asset_key
    cdef readonly object check_name
    cdef readonly object passed
    cdef readonly object severity
    cdef readonly object metadata

    def __init__(self, asset_key, check_name, passed, severity=AssetCheckSeverity.ERROR, metadata=None):
        self.asset_key = asset_key
        self.check_name = check_name
        self.passed = passed
        self.severity = severity
        self.metadata = {} if metadata is None else metadata

    def replace(self, **changes):
        """A copy with the given fields changed."""
        fields = dict(asset_key=self.asset_key, check_name=self.check_name, passed=self.passed,
                      severity=self.severity, metadata=self.metadata)
        fields.update(changes)
        return AssetCheckResult(**fields)

    def __eq__(self, other):
        return _is_twin(other, "AssetCheckResult") and (
            (self.asset_key, self.check_name, self.passed, self.severity, self.metadata)
            == (other.asset_key, other.check_name, other.passed, other.severity, other.metadata)
        )

    __hash__ = None

    def __repr__(self):
        return (f"AssetCheckResult(asset_key={self.asset_key!r}, check_name={self.check_name!r}, "
                f"passed={self.passed!r}, severity={self.severity!r}, metadata={self.metadata!r})")

    def __reduce__(self):
        return (AssetCheckResult, (self.asset_key, self.check_name, self.passed, self.severity, self.metadata))


@cython.no_gc
@cython.final
cdef class MaterializeResult:
    """An asset materialization reported by the external process (or implied for a selected asset)."""

    cdef readonly object asset_key
    cdef readonly object metadata
    cdef readonly object data_version
    cdef readonly object check_results

    def __init__(self, asset_key=None, metadata=None, data_version=None, check_results=()):
        self.asset_key = asset_key
        self.metadata = {} if metadata is None else metadata
        self.data_version = data_version
        self.check_results = check_results

    def replace(self, **changes):
        """A copy with the given fields changed."""
        fields = dict(asset_key=self.asset_key, metadata=self.metadata, data_version=self.data_version,
                      check_results=self.check_results)
        fields.update(changes)
        return MaterializeResult(**fields)

    def __eq__(self, other):
        return _is_twin(other, "MaterializeResult") and (
            (self.asset_key, self.metadata, self.data_version, self.check_results)
            == (other.asset_key, other.metadata, other.data_version, other.check_results)
        )

    __hash__ = None

    def __repr__(self):
        return (f"MaterializeResult(asset_key={self.asset_key!r}, metadata={self.metadata!r}, "
                f"data_version={self.data_version!r}, check_results={self.check_results!r})")

    def __reduce__(self):
        return (MaterializeResult, (self.asset_key, self.metadata, self.data_version, self.check_results))


# ----- message routing -----


cdef class MessageRouter:
    """Handles the bulk of a message stream: materializations, asset checks and custom messages.

    Results go to ``results`` and custom payloads to ``custom_messages`` (deques, oldest first),
    and the keys of materialized assets to ``materialized``; every other method goes to
    ``other(message)``. A message that cannot be handled (``other``
    may raise :class:`MalformedParams` too) is reported through ``warn`` and skipped.
    ``asset_keys`` maps the step's escaped asset keys to keys (None for an op step).
    """

    cdef readonly object results
    cdef readonly object custom_messages
    cdef readonly set materialized
    cdef public bint closed
    cdef dict _keys
    cdef bint _op_step
    cdef object _other, _warn

    def __init__(self, asset_keys, other, warn):
        self.results = deque()
        self.custom_messages = deque()
        self.materialized = set()
        self.closed = False
        self._keys = dict(asset_keys or {})
        self._op_step = asset_keys is None
        self._other = other
        self._warn = warn

    def route(self, list messages):
        """Handle decoded messages in order."""
        cdef object message
        for message in messages:
            if type(message) is not dict:
                message = dict(message)
            self._route((<dict>message).get("method"), (<dict>message).get("params"), message)

    def route_lines(self, list lines, Py_ssize_t first_line=1):
        """Decode lines (as ``decode_batch`` does) and handle each message as soon as it is decoded.

        Lines in a canonical envelope are handled from their params alone, custom messages from
        their payload alone. Returns the lines that were not messages, as ``BadLine`` reports.
        """
        cdef list bad = []
        cdef Py_ssize_t number = first_line - 1
        cdef Py_ssize_t start = 0, payload_start
        cdef object method, value, message
        cdef bytes line
        for line in lines:
            number += 1
            method = _canonical_method(line, &start)
            if method is not None:
                if method is _CUSTOM and not self.closed:
                    payload_start = _payload_start(line, start)
                    if payload_start >= 0:
                        value = _loads_part(line, payload_start, PyBytes_GET_SIZE(line) - 2)
                        if value is not _NOT_PARSED:
                            self.custom_messages.append(value)
                            continue
                value = _loads_part(line, start, PyBytes_GET_SIZE(line) - 1)
                if value is not _NOT_PARSED:
                    self._route(method, value, None)
                    continue
            message = _decode_general(line, number, bad)  # the envelope shortcut was tried above
            if message is not None:
                self._route((<dict>message).get("method"), (<dict>message).get("params"), message)
        return bad

    cdef void _route(self, object method, object params, object message) except *:
        """Handle one message; ``message`` is its dict, or None to build it only if needed."""
        if self.closed:
            if message is None:
                message = _message(method, params)
            self._warn(f"[pipes] unexpected message received after closed: {message!r:.300}")
        try:
            if method == "report_custom_message":
                if type(params) is not dict or not PyDict_Contains(params, "payload"):
                    raise MalformedParams("missing param 'payload'")
                self.custom_messages.append((<dict>params)["payload"])
            elif method == "report_asset_materialization":
                self.results.append(self._build_materialization(params))
            elif method == "report_asset_check":
                self.results.append(self._build_check(params))
            else:
                self._other(_message(method, params) if message is None else message)
        except MalformedParams as error:
            if message is None:
                message = _message(method, params)
            self._warn(f"[pipes] skipped a {method} message: {error}: {message!r:.300}")

    cdef object _asset_key(self, object params):
        cdef object key
        if type(params) is dict:
            try:
                key = self._keys.get((<dict>params).get("asset_key"))
            except TypeError:  # an unhashable asset_key
                key = None
            if key is not None:
                return key
        escaped = require_param(params, "asset_key", str)
        selected = "none (an op step)" if self._op_step else sorted(self._keys)
        raise MalformedParams(f"asset key {escaped!r} is not one of the step's assets: {selected}")

    cdef object _build_materialization(self, object params):
        key = self._asset_key(params)
        data_version = (<dict>params).get("data_version")
        if data_version is not None and type(data_version) is not str:
            raise MalformedParams(f"param 'data_version' must be str or null, got {data_version!r:.100}")
        cdef MaterializeResult result = MaterializeResult.__new__(MaterializeResult)
        self.materialized.add(key)
        result.asset_key = key
        result.metadata = _resolve_metadata((<dict>params).get("metadata"), self._warn)
        result.data_version = data_version
        result.check_results = ()
        return result

    cdef object _build_check(self, object params):
        key = self._asset_key(params)
        check_name = require_param(params, "check_name", str)
        passed = require_param(params, "passed", bool)
        severity_name = (<dict>params).get("severity", "ERROR")
        severity = _SEVERITIES.get(severity_name) if type(severity_name) is str else None
        if severity is None:
            raise MalformedParams(f"param 'severity' must be 'WARN' or 'ERROR', got {severity_name!r:.100}")
        metadata = _resolve_metadata((<dict>params).get("metadata"), self._warn)
        cdef AssetCheckResult result = AssetCheckResult.__new__(AssetCheckResult)
        result.asset_key = key
        result.check_name = check_name
        result.passed = passed
        result.severity = severity
        result.metadata = metadata
        return result


# ----- appending message lines -----


cdef void _write_all(int fd, bytes data) except *:
    cdef const char* p = PyBytes_AS_STRING(data)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    cdef Py_ssize_t written
    while n > 0:
        with nogil:
            written = c_write(fd, p, n)
        if written < 0:
            if errno == EINTR:
                PyErr_CheckSignals()
                continue
            raise OSError(errno, os.strerror(errno))
        p += written
        n -= written


cdef bint _contains_null(bytes data) noexcept:
    """``b"null" in data``, without the generic containment protocol."""
    cdef const char* p = PyBytes_AS_STRING(data)
    cdef const char* end = p + PyBytes_GET_SIZE(data)
    cdef const char* hit
    while True:
        hit = <const char*>memchr(p, b"n", end - p)
        if hit == NULL or end - hit < 4:
            return False
        if memcmp(hit, b"null", 4) == 0:
            return True
        p = hit + 1


@cython.final
cdef class JsonLineAppender:
    """Appends messages to an open (``O_APPEND``) file descriptor as JSON lines, one write each.

    Lines are orjson's (``options`` must include ``OPT_APPEND_NEWLINE``), except where orjson
    refuses the message (``TypeError``) or may have written a NaN or infinity as ``null``
    (``has_non_finite(message)`` says so): then ``fallback(message)`` makes the line.
    """

    cdef int _fd
    cdef int _options
    cdef object _has_non_finite, _fallback

    def __init__(self, int fd, int options, has_non_finite, fallback):
        self._fd = fd
        self._options = options
        self._has_non_finite = has_non_finite
        self._fallback = fallback

    def append(self, message):
        """Write ``message`` as one line; it is in the file when this returns."""
        cdef bytes data
        try:
            data = _dumps(message, None, self._options)
        except TypeError:
            data = self._fallback(message)
        else:
            if _contains_null(data) and self._has_non_finite(message):
                data = self._fallback(message)
        _write_all(self._fd, data)
