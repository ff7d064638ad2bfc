"""The protocol's rules over a message stream: pure logic, no I/O.

``StreamValidator`` takes the stream's lines one at a time (as read, without their newline) and
says what each breaks; ``validate_stream`` runs one over a whole stream. Each rule follows what
Dagster's orchestration side does with the line (its handler, and the step that yields the
results: an asset materialized twice, or a check reported twice, fails the step) and what
pipes_fast's does; a breach both accept is a warning (see ``WARNING_RULES``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Optional

from pipes_fast.conformance.metadata import Problem
from pipes_fast.conformance.params import param_problems
from pipes_fast.conformance.violations import Violation, violation
from pipes_fast.protocol import METHODS, PIPES_PROTOCOL_VERSION, PIPES_PROTOCOL_VERSION_FIELD, PipesContextData

_ENVELOPE_KEYS = frozenset((PIPES_PROTOCOL_VERSION_FIELD, "method", "params"))
_ASSET_METHODS = frozenset(("report_asset_materialization", "report_asset_check"))


class StreamValidator:
    """Checks a message stream line by line against the protocol, for a step of ``context``."""

    def __init__(self, context: PipesContextData) -> None:
        keys = context["asset_keys"]
        self._step_keys: Optional[frozenset[str]] = None if keys is None else frozenset(keys)
        self._messages = 0
        self._opened_line: Optional[int] = None
        self._closed_line: Optional[int] = None
        self._materialized: dict[str, int] = {}
        self._checked: dict[tuple[str, Any], int] = {}

    def feed(self, number: int, line: bytes) -> list[Violation]:
        """What line ``number`` (1-based) of the stream breaks."""
        problems: list[Problem] = []
        if self._closed_line is not None:  # both sides warn and handle it still
            problems.append(("after-closed", f"a line follows closed (line {self._closed_line})"))
        problems += self._message_problems(number, line)
        return [violation(rule, message, number, line) for rule, message in problems]

    def finish(self) -> list[Violation]:
        """What the stream as a whole breaks, once it has ended."""
        found: list[Violation] = []
        if self._opened_line is None:
            found.append(violation("missing-opened", "the stream has no opened message"))
        if self._closed_line is None:
            found.append(violation("missing-closed", "the stream ends without a closed message"))
        return found

    def _message_problems(self, number: int, line: bytes) -> list[Problem]:
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as error:
            return [("not-utf8", f"not UTF-8 ({error.reason} at byte {error.start})")]
        try:
            message = json.loads(text)
        except (ValueError, RecursionError) as error:
            return [("not-json", f"not JSON ({error})")]
        if type(message) is not dict:
            return [("envelope", f"a message is a JSON object, got {type(message).__name__}")]
        if PIPES_PROTOCOL_VERSION_FIELD not in message:
            return [("missing-version", f"no {PIPES_PROTOCOL_VERSION_FIELD!r} field")]
        if not _ENVELOPE_KEYS <= message.keys():
            return [("envelope", f"the envelope needs {sorted(_ENVELOPE_KEYS - message.keys())}")]
        envelope: list[Problem] = [
            ("extra-field", f"the envelope has field {name!r:.40}, which the protocol does not define")
            for name in sorted(message.keys() - _ENVELOPE_KEYS)
        ]
        version = message[PIPES_PROTOCOL_VERSION_FIELD]
        if version != PIPES_PROTOCOL_VERSION:  # neither side reads the value
            envelope.append(
                ("version", f"{PIPES_PROTOCOL_VERSION_FIELD} is {version!r:.40}, not {PIPES_PROTOCOL_VERSION!r}")
            )
        return envelope + self._method_problems(number, message)

    def _method_problems(self, number: int, message: dict[str, Any]) -> list[Problem]:
        method = message["method"]
        if type(method) is not str:
            return [("envelope", f"method must be a string, got {method!r:.40}")]
        if method not in METHODS:
            return [("unknown-method", f"unknown method {method!r:.60} (known: {', '.join(sorted(METHODS))})")]
        params = message["params"]
        problems = self._order_problems(number, method) + param_problems(method, params)
        return problems + self._asset_problems(number, method, params)

    def _order_problems(self, number: int, method: str) -> list[Problem]:
        self._messages += 1
        if method == "closed":
            self._closed_line = number
        if method != "opened":
            return []
        if self._opened_line is not None:
            return [("opened-twice", f"opened again (first at line {self._opened_line})")]
        self._opened_line = number
        if self._messages > 1:
            return [("opened-first", f"opened must be the first message; {self._messages - 1} came before it")]
        return []

    def _asset_problems(self, number: int, method: str, params: Any) -> list[Problem]:
        key = params.get("asset_key") if method in _ASSET_METHODS and type(params) is dict else None
        if type(key) is not str:
            return []
        if self._step_keys is None:
            return [("asset-key-outside-step", f"asset key {key!r:.60} reported in an op step (no assets)")]
        if key not in self._step_keys:
            return [
                ("asset-key-outside-step", f"asset key {key!r:.60} is not one of the step's {sorted(self._step_keys)}")
            ]
        if method == "report_asset_materialization":
            first = self._materialized.setdefault(key, number)
            if first != number:
                return [("duplicate-materialization", f"asset {key!r:.60} was materialized at line {first}")]
        else:
            check_name = params.get("check_name")
            first = self._checked.setdefault((key, check_name), number) if type(check_name) is str else number
            if first != number:
                return [("duplicate-check", f"check {check_name!r:.60} of {key!r:.60} was reported at line {first}")]
        return []


def validate_stream(lines: Iterable[bytes], context: PipesContextData) -> list[Violation]:
    """Every rule a message stream (its lines, without newlines) breaks for a step of ``context``,
    in stream order, then those of the stream as a whole."""
    validator = StreamValidator(context)
    found = [found for number, line in enumerate(lines, 1) for found in validator.feed(number, line)]
    return found + validator.finish()
