"""Pure-Python twin of the compiled hot path (``ext/_speedups.pyx``).

Same names, same behaviour, same structure; used where the extension is not built or when
``PIPES_FAST_NO_EXTENSIONS=1``. Keep the two in step: the tests run every case against both.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections import deque
from collections.abc import Mapping
from typing import Any, Callable, Optional

import orjson

from pipes_fast.assets import AssetKey
from pipes_fast.errors import MalformedParams, require_param
from pipes_fast.protocol import (
    CANONICAL_ENVELOPES,
    DEFAULT_MAX_LINE_BYTES,
    HOT_PATH_MODULES,
    INFERRED_METADATA_TYPE,
    LONG_INTEGER_PATTERN,
    METHODS,
    PIPES_METADATA_TYPE_INFER,
    PIPES_PROTOCOL_VERSION,
    PIPES_PROTOCOL_VERSION_FIELD,
    RESOLVED_METADATA_TYPES,
    AssetCheckSeverity,
    BadLine,
    bad_line,
    not_a_message_reason,
)

_loads = orjson.loads
_new_object = object.__new__

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

_LONG_INTEGER = re.compile(LONG_INTEGER_PATTERN)


def _loads_exactly(line: bytes) -> Any:
    """Parse as Dagster does (Python's json): NaN, Infinity and integers of any size included."""
    return json.loads(line.decode("utf-8"))


# the bulk of a stream first: the envelope's method is matched against these in order
_METHODS = tuple((name.encode(), name) for name in sorted(METHODS, key=lambda m: (not m.startswith("report_"), m)))
_VERSION = PIPES_PROTOCOL_VERSION
_CUSTOM = "report_custom_message"
_PAYLOAD_PREFIXES = (b'{"payload": ', b'{"payload":')
_NOT_PARSED = object()
_SEVERITIES = {severity.value: severity for severity in AssetCheckSeverity}


def _canonical_method(line: bytes) -> tuple[Optional[str], int]:
    """The method of a line in a canonical envelope, and where its params start (they run to
    the line's last byte, a ``}``); ``(None, 0)`` for any other line."""
    if line[-1:] != b"}":
        return None, 0
    for prefix, middle in CANONICAL_ENVELOPES:
        if line.startswith(prefix):
            start = len(prefix)
            for name, method in _METHODS:
                end = start + len(name)
                if line.startswith(name, start) and line.startswith(middle, end):
                    return method, end + len(middle)
            return None, 0
    return None, 0


def _loads_part(line: bytes, start: int, stop: int) -> Any:
    """``line[start:stop]`` parsed by orjson, or ``_NOT_PARSED`` where that is not exact."""
    part = line[start:stop]
    if _LONG_INTEGER.search(part):
        return _NOT_PARSED
    try:
        return _loads(part)
    except ValueError:
        return _NOT_PARSED


def _decode_canonical(line: bytes) -> Optional[dict]:
    """The message of a line in a canonical envelope, parsing only its params; else None.

    Sound because ``prefix + method + middle + P + "}"`` is that message whenever ``P`` parses
    on its own as one JSON value. Anything else (another shape, unknown method, params that need
    exact parsing or do not parse) is left to the general path.
    """
    method, start = _canonical_method(line)
    if method is None:
        return None
    params = _loads_part(line, start, len(line) - 1)
    return None if params is _NOT_PARSED else _message(method, params)


def _message(method: Any, params: Any) -> dict:
    return {PIPES_PROTOCOL_VERSION_FIELD: _VERSION, "method": method, "params": params}


def _payload_start(line: bytes, params_start: int) -> int:
    """Where the payload starts if the params are exactly ``{"payload": X}`` framed canonically
    (X then ends one byte before the line's closing ``}}``); -1 otherwise."""
    if len(line) - params_start < 2 or line[-2:-1] != b"}":
        return -1
    for prefix in _PAYLOAD_PREFIXES:
        if line.startswith(prefix, params_start):
            return params_start + len(prefix)
    return -1


def _decode_line(line: bytes, number: int, bad: list[BadLine]) -> Optional[dict]:
    """The message ``line`` holds, or None after appending a ``BadLine`` to ``bad``."""
    message = _decode_canonical(line)
    return message if message is not None else _decode_general(line, number, bad)


def _decode_general(line: bytes, number: int, bad: list[BadLine]) -> Optional[dict]:
    """``_decode_line`` without the canonical-envelope shortcut: the whole line is parsed."""
    try:
        value = _loads_exactly(line) if _LONG_INTEGER.search(line) else _loads(line)
    except ValueError as error:  # orjson.JSONDecodeError, json.JSONDecodeError, UnicodeDecodeError
        try:
            value = _loads_exactly(line)
        except (ValueError, RecursionError):
            bad.append(bad_line(number, line, f"invalid JSON ({error})"))
            return None
    except RecursionError:
        bad.append(bad_line(number, line, "invalid JSON (nested too deeply)"))
        return None
    if type(value) is dict and PIPES_PROTOCOL_VERSION_FIELD in value:
        return value
    bad.append(bad_line(number, line, not_a_message_reason(value)))
    return None


def decode_batch(lines: list[bytes], first_line: int = 1) -> tuple[list[dict], list[BadLine]]:
    """Decode lines into message dicts; lines that are not messages are reported, not raised.

    ``first_line`` is the number of the first line, so that reports name stream positions. Lines
    orjson cannot represent exactly (NaN, Infinity, integers beyond 64 bits, lone surrogates) are
    parsed by Python's json module, as Dagster's reader would.
    """
    messages: list[dict] = []
    bad: list[BadLine] = []
    number = first_line
    for line in lines:
        message = _decode_line(line, number, bad)
        if message is not None:
            messages.append(message)
        number += 1
    return messages, bad


# ----- metadata values -----


class MetadataValue:
    """A typed metadata value: ``type`` is a Pipes metadata type (never ``__infer__``).

    ``value`` is the raw JSON value as the external process sent it, except for ``asset``,
    whose value is an :class:`AssetKey`. Immutable; equal to the other implementation's
    ``MetadataValue`` with the same type and value.
    """

    __slots__ = ("_type", "_value")

    def __init__(self, type: str, value: Any) -> None:  # noqa: A002 - the wire name
        if type not in RESOLVED_METADATA_TYPES:
            raise ValueError(f"unknown metadata type {type!r}; expected one of {sorted(RESOLVED_METADATA_TYPES)}")
        self._type = type
        self._value = value

    @property
    def type(self) -> str:
        return self._type

    @property
    def value(self) -> Any:
        return self._value

    @classmethod
    def infer(cls, value: Any) -> MetadataValue:
        """The value with the type Dagster infers for it (str -> text, dict -> json, ...)."""
        if is_metadata_value(value):
            return value
        if isinstance(value, AssetKey):
            return cls("asset", value)
        kind = INFERRED_METADATA_TYPE.get(type(value))
        if kind is None:
            raise TypeError(f"cannot infer a metadata type for {type(value).__name__}; wrap it in MetadataValue(type, value)")
        return cls(kind, value)

    def __eq__(self, other: object) -> bool:
        return is_metadata_value(other) and other.type == self._type and other.value == self._value  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self._type, repr(self._value)))

    def __repr__(self) -> str:
        return f"MetadataValue({self._type!r}, {self._value!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (MetadataValue, (self._type, self._value))


def is_metadata_value(value: object) -> bool:
    """True for a ``MetadataValue`` of either hot-path implementation."""
    return _is_twin(value, "MetadataValue")


def _is_twin(value: object, name: str) -> bool:
    """True if ``value`` is an instance of the hot-path type ``name``, of either implementation."""
    kind = type(value)
    return kind.__name__ == name and kind.__module__ in HOT_PATH_MODULES


def _trusted_value(kind: str, value: Any) -> MetadataValue:
    """A ``MetadataValue`` whose type is known to be valid."""
    resolved = _new_object(MetadataValue)
    resolved._type = kind
    resolved._value = value
    return resolved


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
            kind = INFERRED_METADATA_TYPE.get(type(value), "json")
        elif kind == "asset":
            if type(value) is not str:
                raise MalformedParams(f"metadata entry {name!r} of type 'asset' must be a string, got {value!r:.100}")
            value = AssetKey.from_user_string(value)
        elif type(kind) is not str or kind not in RESOLVED_METADATA_TYPES:
            warn(f"metadata entry {name!r} has unknown type {kind!r:.50}; inferring its type from the value")
            kind = INFERRED_METADATA_TYPE.get(type(value), "json")
        resolved[name] = _trusted_value(kind, value)
    return resolved


# ----- results -----


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class AssetCheckResult:
    """The outcome of an asset check reported by the external process."""

    asset_key: Optional[AssetKey]
    check_name: str
    passed: bool
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def replace(self, **changes: Any) -> AssetCheckResult:
        """A copy with the given fields changed."""
        return dataclasses.replace(self, **changes)

    def __eq__(self, other: object) -> bool:
        return _is_twin(other, "AssetCheckResult") and _check_fields(self) == _check_fields(other)

    __hash__ = None  # type: ignore[assignment]


def _check_fields(result: Any) -> tuple[Any, ...]:
    return (result.asset_key, result.check_name, result.passed, result.severity, result.metadata)


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class MaterializeResult:
    """An asset materialization reported by the external process (or implied for a selected asset)."""

    asset_key: Optional[AssetKey] = None
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    data_version: Optional[str] = None
    check_results: tuple[AssetCheckResult, ...] = ()

    def replace(self, **changes: Any) -> MaterializeResult:
        """A copy with the given fields changed."""
        return dataclasses.replace(self, **changes)

    def __eq__(self, other: object) -> bool:
        return _is_twin(other, "MaterializeResult") and _materialization_fields(self) == _materialization_fields(other)

    __hash__ = None  # type: ignore[assignment]


def _materialization_fields(result: Any) -> tuple[Any, ...]:
    return (result.asset_key, result.metadata, result.data_version, result.check_results)


# ----- message routing -----


class MessageRouter:
    """Handles the bulk of a message stream: materializations, asset checks and custom messages.

    Results go to ``results`` and custom payloads to ``custom_messages`` (deques, oldest first),
    and the keys of materialized assets to ``materialized``; every other method goes to
    ``other(message)``. A message that cannot be handled (``other``
    may raise :class:`MalformedParams` too) is reported through ``warn`` and skipped.
    ``asset_keys`` maps the step's escaped asset keys to keys (None for an op step).
    """

    def __init__(
        self,
        asset_keys: Optional[dict[str, AssetKey]],
        other: Callable[[dict], None],
        warn: Callable[[str], None],
    ) -> None:
        self.results: deque[Any] = deque()
        self.custom_messages: deque[Any] = deque()
        self.materialized: set[AssetKey] = set()
        self.closed = False
        """Set once the ``closed`` message arrived: later messages are handled with a warning."""
        self._keys = asset_keys or {}
        self._op_step = asset_keys is None
        self._other = other
        self._warn = warn

    def route(self, messages: list[dict]) -> None:
        """Handle decoded messages in order."""
        for message in messages:
            if type(message) is not dict:
                message = dict(message)
            self._route(message.get("method"), message.get("params"), message)

    def route_lines(self, lines: list[bytes], first_line: int = 1) -> list[BadLine]:
        """Decode lines (as ``decode_batch`` does) and handle each message as soon as it is decoded.

        Lines in a canonical envelope are handled from their params alone, custom messages from
        their payload alone. Returns the lines that were not messages, as ``BadLine`` reports.
        """
        bad: list[BadLine] = []
        number = first_line - 1
        for line in lines:
            number += 1
            method, start = _canonical_method(line)
            if method is not None:
                if method is _CUSTOM and not self.closed:
                    payload_start = _payload_start(line, start)
                    if payload_start >= 0:
                        value = _loads_part(line, payload_start, len(line) - 2)
                        if value is not _NOT_PARSED:
                            self.custom_messages.append(value)
                            continue
                value = _loads_part(line, start, len(line) - 1)
                if value is not _NOT_PARSED:
                    self._route(method, value, None)
                    continue
            message = _decode_general(line, number, bad)  # the envelope shortcut was tried above
            if message is not None:
                self._route(message.get("method"), message.get("params"), message)
        return bad

    def _route(self, method: Any, params: Any, message: Optional[dict]) -> None:
        """Handle one message; ``message`` is its dict, or None to build it only if needed."""
        if self.closed:
            if message is None:
                message = _message(method, params)
            self._warn(f"[pipes] unexpected message received after closed: {message!r:.300}")
        try:
            if method == "report_custom_message":
                if type(params) is not dict or "payload" not in params:
                    raise MalformedParams("missing param 'payload'")
                self.custom_messages.append(params["payload"])
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

    def _asset_key(self, params: Any) -> AssetKey:
        try:
            return self._keys[params["asset_key"]]
        except (KeyError, TypeError, IndexError):
            escaped = require_param(params, "asset_key", str)
            selected = "none (an op step)" if self._op_step else sorted(self._keys)
            raise MalformedParams(f"asset key {escaped!r} is not one of the step's assets: {selected}") from None

    def _build_materialization(self, params: Any) -> Any:
        key = self._asset_key(params)
        data_version = params.get("data_version")
        if data_version is not None and type(data_version) is not str:
            raise MalformedParams(f"param 'data_version' must be str or null, got {data_version!r:.100}")
        result = MaterializeResult(key, resolve_metadata(params.get("metadata"), self._warn), data_version)
        self.materialized.add(key)
        return result

    def _build_check(self, params: Any) -> Any:
        key = self._asset_key(params)
        check_name = require_param(params, "check_name", str)
        passed = require_param(params, "passed", bool)
        severity_name = params.get("severity", "ERROR")
        severity = _SEVERITIES.get(severity_name) if type(severity_name) is str else None
        if severity is None:
            raise MalformedParams(f"param 'severity' must be 'WARN' or 'ERROR', got {severity_name!r:.100}")
        metadata = resolve_metadata(params.get("metadata"), self._warn)
        return AssetCheckResult(key, check_name, passed, severity, metadata)


# ----- appending message lines -----


class JsonLineAppender:
    """Appends messages to an open (``O_APPEND``) file descriptor as JSON lines, one write each.

    Lines are orjson's (``options`` must include ``OPT_APPEND_NEWLINE``), except where orjson
    refuses the message (``TypeError``) or may have written a NaN or infinity as ``null``
    (``has_non_finite(message)`` says so): then ``fallback(message)`` makes the line.
    """

    def __init__(
        self, fd: int, options: int, has_non_finite: Callable[[Any], bool], fallback: Callable[[Any], bytes]
    ) -> None:
        self._fd = fd
        self._options = options
        self._has_non_finite = has_non_finite
        self._fallback = fallback

    def append(self, message: Any) -> None:
        """Write ``message`` as one line; it is in the file when this returns."""
        try:
            data = orjson.dumps(message, None, self._options)
        except TypeError:
            data = self._fallback(message)
        else:
            if b"null" in data and self._has_non_finite(message):
                data = self._fallback(message)
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
