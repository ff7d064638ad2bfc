"""Routing: message lines decoded and handled in one pass, results and payloads built directly.

The pure implementation of ``ext/routing.pyx``.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, Callable, Optional

from pipes_fast._hotpath.pure.deferred import orjson
from pipes_fast._hotpath.pure.final import final
from pipes_fast._hotpath.pure.results import AssetCheckResult, MaterializeResult, resolve_metadata
from pipes_fast._logic.contract import callable_argument, line_number, not_picklable
from pipes_fast._logic.huge import HUGE_LINE_BYTES, decode_huge
from pipes_fast.assets import AssetKey
from pipes_fast.errors import MalformedParams, require_param
from pipes_fast.protocol import (
    CANONICAL_ENVELOPES,
    LONG_INTEGER_PATTERN,
    METHODS,
    PIPES_PROTOCOL_VERSION,
    PIPES_PROTOCOL_VERSION_FIELD,
    AssetCheckSeverity,
    BadLine,
    bad_line,
    not_a_message_reason,
    skipped_message,
)

Message = dict[str, Any]
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
        return orjson().loads(part)
    except ValueError:
        return _NOT_PARSED


def _message(method: Any, params: Any) -> Message:
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


def _decode_general(line: bytes, number: int, bad: list[BadLine]) -> Optional[Message]:
    """The message a line holds, parsed whole; None after appending a ``BadLine`` to ``bad``."""
    try:
        value = _loads_exactly(line) if _LONG_INTEGER.search(line) else orjson().loads(line)
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


@final
class MessageRouter:
    """Handles the bulk of a message stream: materializations, asset checks and custom messages.

    Results go to ``results`` and custom payloads to ``custom_messages`` (deques, oldest first),
    and the keys of materialized assets to ``materialized`` (a new set at each access); every
    other method goes to ``other(message)``. A message that cannot be handled, whatever ``other``
    raises included, is reported through ``warn`` (naming its line where there is one) and
    skipped: the stream goes on.
    ``asset_keys`` maps the step's escaped asset keys to keys (None for an op step).
    """

    __slots__ = ("_results", "_custom_messages", "_materialized", "_closed", "_keys", "_op_step", "_other", "_warn")

    def __init__(
        self,
        asset_keys: Optional[Mapping[str, AssetKey]],
        other: Callable[[Message], None],
        warn: Callable[[str], None],
    ) -> None:
        self._results: deque[Any] = deque()
        self._custom_messages: deque[Any] = deque()
        self._materialized: set[str] = set()  # escaped keys: a str's hash is cached, an AssetKey's is not
        self._closed = False
        self._keys = {} if asset_keys is None else dict(asset_keys)
        self._op_step = asset_keys is None
        self._other = callable_argument("other", other)
        self._warn = callable_argument("warn", warn)

    @property
    def closed(self) -> bool:
        """Set once the ``closed`` message arrived: later messages are handled with a warning. What
        is assigned is kept as its truth value."""
        return self._closed

    @closed.setter
    def closed(self, value: object) -> None:
        self._closed = bool(value)

    @property
    def results(self) -> deque[Any]:
        return self._results

    @property
    def custom_messages(self) -> deque[Any]:
        return self._custom_messages

    @property
    def materialized(self) -> set[AssetKey]:
        return {self._keys[escaped] for escaped in self._materialized}

    def route(self, messages: Iterable[Mapping[str, Any]]) -> None:
        """Handle decoded messages (mappings) in order."""
        for message in messages:
            if type(message) is not dict:
                if not isinstance(message, Mapping):
                    self._warn(skipped_message(0, message, f"not a message (got {type(message).__name__})"))
                    continue
                message = dict(message)
            self._route(message.get("method"), message.get("params"), message, 0)

    def route_lines(self, lines: Iterable[bytes], first_line: int = 1) -> list[BadLine]:
        """Decode message lines (bytes) and handle each message as soon as it is decoded.

        Lines in a canonical envelope are handled from their params alone, custom messages from
        their payload alone. A line of ``HUGE_LINE_BYTES`` or more is decoded by
        ``pipes_fast._logic.huge``, and let go of first: in a list, its item becomes None. Returns the
        lines that were not messages, as ``BadLine`` reports; ``first_line`` numbers the first line.
        """
        bad: list[BadLine] = []
        first = line_number("first_line", first_line)
        number = first - 1
        custom_messages = self._custom_messages
        for line in lines:
            if type(line) is not bytes:
                raise TypeError(f"Expected bytes, got {type(line).__name__}")
            number += 1
            if len(line) >= HUGE_LINE_BYTES:
                held = [line]
                del line  # let go of the huge line: decode_huge takes it from held
                if type(lines) is list:
                    lines[number - first] = None
                message = decode_huge(held, number, bad)
                if message is not None:
                    self._route(message.get("method"), message.get("params"), message, number)
                continue
            method, start = _canonical_method(line)
            if method is not None:
                if method is _CUSTOM and not self._closed:
                    payload_start = _payload_start(line, start)
                    if payload_start >= 0:
                        value = _loads_part(line, payload_start, len(line) - 2)
                        if value is not _NOT_PARSED:
                            custom_messages.append(value)
                            continue
                value = _loads_part(line, start, len(line) - 1)
                if value is not _NOT_PARSED:
                    self._route(method, value, None, number)
                    continue
            message = _decode_general(line, number, bad)
            if message is not None:
                self._route(message.get("method"), message.get("params"), message, number)
        return bad

    def __reduce__(self) -> tuple[object, ...]:
        raise not_picklable(self)

    def _route(self, method: Any, params: Any, message: Optional[Message], number: int) -> None:
        """Handle one message; ``message`` is its dict, or None to build it only if needed."""
        if self._closed:
            if message is None:
                message = _message(method, params)
            self._warn(skipped_message(number, message, "received after closed", handled=True))
        try:
            if method == "report_custom_message":
                if type(params) is not dict or "payload" not in params:
                    raise MalformedParams("missing param 'payload'")
                self._custom_messages.append(params["payload"])
            elif method == "report_asset_materialization":
                self._results.append(self._build_materialization(params))
            elif method == "report_asset_check":
                self._results.append(self._build_check(params))
            else:
                self._other(_message(method, params) if message is None else message)
        except Exception as error:
            if message is None:
                message = _message(method, params)
            self._warn(skipped_message(number, message, error))

    def _asset_key(self, params: Any) -> AssetKey:
        if type(params) is dict:
            try:
                key = self._keys.get(params.get("asset_key"))  # type: ignore[arg-type]
            except TypeError:  # an unhashable asset_key
                key = None
            if key is not None:
                return key
        escaped = require_param(params, "asset_key", str)
        selected = "none (an op step)" if self._op_step else sorted(self._keys)
        raise MalformedParams(f"asset key {escaped!r} is not one of the step's assets: {selected}")

    def _build_materialization(self, params: Any) -> MaterializeResult:
        key = self._asset_key(params)
        data_version = params.get("data_version")
        if data_version is not None and type(data_version) is not str:
            raise MalformedParams(f"param 'data_version' must be str or null, got {data_version!r:.100}")
        result = MaterializeResult(key, resolve_metadata(params.get("metadata"), self._warn), data_version)
        self._materialized.add(params["asset_key"])  # _asset_key found it there
        return result

    def _build_check(self, params: Any) -> AssetCheckResult:
        key = self._asset_key(params)
        check_name = require_param(params, "check_name", str)
        passed = require_param(params, "passed", bool)
        severity_name = params.get("severity", "ERROR")
        severity = _SEVERITIES.get(severity_name) if type(severity_name) is str else None
        if severity is None:
            raise MalformedParams(f"param 'severity' must be 'WARN' or 'ERROR', got {severity_name!r:.100}")
        metadata = resolve_metadata(params.get("metadata"), self._warn)
        return AssetCheckResult(key, check_name, passed, severity, metadata)
