# Routing: message lines decoded and handled in one pass, results and payloads built directly.
# Pure implementation: src/pipes_fast/_hotpath/pure/routing.py

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_Contains
from libc.string cimport memcmp

import json
from collections import deque
from collections.abc import Mapping

from pipes_fast._logic.contract import callable_argument, line_number, not_picklable
from pipes_fast._logic.huge import HUGE_LINE_BYTES, decode_huge
from pipes_fast.errors import MalformedParams, require_param
from pipes_fast.protocol import (
    CANONICAL_ENVELOPES,
    METHODS,
    PIPES_PROTOCOL_VERSION,
    PIPES_PROTOCOL_VERSION_FIELD,
    AssetCheckSeverity,
    bad_line,
    not_a_message_reason,
    skipped_message,
)

cdef object _json_loads = json.loads
cdef str _VERSION_FIELD = PIPES_PROTOCOL_VERSION_FIELD
cdef Py_ssize_t _HUGE_LINE_BYTES = HUGE_LINE_BYTES


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
        return _orjson_loads()(part)
    except ValueError:
        return _NOT_PARSED


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


cdef object _decode_general(bytes line, Py_ssize_t number, list bad):
    """The message a line holds, parsed whole; None after appending a ``BadLine`` to ``bad``."""
    cdef object value
    try:
        value = _loads_exactly(line) if _may_hold_a_long_integer(line) else _orjson_loads()(line)
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




@cython.final
cdef class MessageRouter:
    """Handles the bulk of a message stream: materializations, asset checks and custom messages.

    Results go to ``results`` and custom payloads to ``custom_messages`` (deques, oldest first),
    and the keys of materialized assets to ``materialized`` (a new set at each access); every
    other method goes to ``other(message)``. A message that cannot be handled, whatever ``other``
    raises included, is reported through ``warn`` (naming its line where there is one) and
    skipped: the stream goes on.
    ``asset_keys`` maps the step's escaped asset keys to keys (None for an op step).
    """

    cdef readonly object results
    cdef readonly object custom_messages
    cdef set _materialized  # escaped keys: a str's hash is cached, an AssetKey's is computed in Python
    cdef bint _closed
    cdef dict _keys
    cdef bint _op_step
    cdef object _other, _warn
    cdef object _append_payload  # custom_messages.append
    cdef bytes _framing  # the envelope and method of the last canonical line (None before one)
    cdef object _framed_method

    def __init__(self, asset_keys, other, warn):
        self.results = deque()
        self.custom_messages = deque()
        self._append_payload = self.custom_messages.append
        self._framing = None
        self._materialized = set()
        self._closed = False
        self._keys = {} if asset_keys is None else dict(asset_keys)
        self._op_step = asset_keys is None
        self._other = callable_argument("other", other)
        self._warn = callable_argument("warn", warn)

    @property
    def closed(self):
        """Set once the ``closed`` message arrived: later messages are handled with a warning. What
        is assigned is kept as its truth value."""
        return self._closed

    @closed.setter
    def closed(self, value):
        self._closed = value

    @closed.deleter
    def closed(self):
        raise AttributeError(f"property 'closed' of {type(self).__name__!r} object has no deleter")

    def __reduce__(self):
        raise not_picklable(self)

    @property
    def materialized(self):
        return {self._keys[escaped] for escaped in self._materialized}

    def route(self, messages):
        """Handle decoded messages (mappings) in order."""
        cdef object message
        for message in messages:
            if type(message) is not dict:
                if not isinstance(message, Mapping):
                    self._warn(skipped_message(0, message, f"not a message (got {type(message).__name__})"))
                    continue
                message = dict(message)
            self._route((<dict>message).get("method"), (<dict>message).get("params"), message, 0)

    def route_lines(self, lines, first_line=1):
        """Decode message lines (bytes) and handle each message as soon as it is decoded.

        Lines in a canonical envelope are handled from their params alone, custom messages from
        their payload alone. A line of ``HUGE_LINE_BYTES`` or more is decoded by
        ``pipes_fast._logic.huge``, and let go of first: in a list, its item becomes None. Returns the
        lines that were not messages, as ``BadLine`` reports; ``first_line`` numbers the first line.
        """
        cdef list bad = []
        cdef Py_ssize_t first = line_number("first_line", first_line)
        cdef Py_ssize_t number = first - 1
        cdef Py_ssize_t start = 0, payload_start
        cdef object method, value, message
        cdef bytes line
        cdef object item
        cdef list held
        for item in lines:
            if type(item) is not bytes:
                raise TypeError(f"Expected bytes, got {type(item).__name__}")
            line = <bytes>item
            number += 1
            if PyBytes_GET_SIZE(line) >= _HUGE_LINE_BYTES:
                held, line, item = [line], None, None
                if type(lines) is list:
                    (<list>lines)[number - first] = None
                message = decode_huge(held, number, bad)
                if message is not None:
                    self._route((<dict>message).get("method"), (<dict>message).get("params"), message, number)
                continue
            method = self._canonical_method(line, &start)
            if method is not None:
                if method is _CUSTOM and not self._closed:
                    payload_start = _payload_start(line, start)
                    if payload_start >= 0:
                        value = _loads_part(line, payload_start, PyBytes_GET_SIZE(line) - 2)
                        if value is not _NOT_PARSED:
                            self._append_payload(value)
                            continue
                value = _loads_part(line, start, PyBytes_GET_SIZE(line) - 1)
                if value is not _NOT_PARSED:
                    self._route(method, value, None, number)
                    continue
            message = _decode_general(line, number, bad)
            if message is not None:
                self._route((<dict>message).get("method"), (<dict>message).get("params"), message, number)
        return bad

    cdef object _canonical_method(self, bytes line, Py_ssize_t* params_start):
        """``_canonical_method``, trying the last canonical line's envelope and method first: a
        stream mostly repeats them."""
        cdef const char* p = PyBytes_AS_STRING(line)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(line)
        cdef object method
        if self._framing is not None and n and p[n - 1] == b"}" and _starts_with(p, n, self._framing):
            params_start[0] = PyBytes_GET_SIZE(self._framing)
            return self._framed_method
        method = _canonical_method(line, params_start)
        if method is not None:
            self._framing, self._framed_method = line[:params_start[0]], method
        return method

    cdef void _route(self, object method, object params, object message, Py_ssize_t number) except *:
        """Handle one message; ``message`` is its dict, or None to build it only if needed."""
        if self._closed:
            if message is None:
                message = _message(method, params)
            self._warn(skipped_message(number, message, "received after closed", handled=True))
        try:
            if method == "report_custom_message":
                if type(params) is not dict or not PyDict_Contains(params, "payload"):
                    raise MalformedParams("missing param 'payload'")
                self._append_payload((<dict>params)["payload"])
            elif method == "report_asset_materialization":
                self.results.append(self._build_materialization(params))
            elif method == "report_asset_check":
                self.results.append(self._build_check(params))
            else:
                self._other(_message(method, params) if message is None else message)
        except Exception as error:
            if message is None:
                message = _message(method, params)
            self._warn(skipped_message(number, message, error))

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
        result.asset_key = key
        result.metadata = _resolve_metadata((<dict>params).get("metadata"), self._warn)
        result.data_version = data_version
        result.check_results = ()
        self._materialized.add((<dict>params)["asset_key"])  # _asset_key found it there
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
