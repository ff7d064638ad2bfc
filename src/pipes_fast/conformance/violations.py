"""What a conformance check finds: one ``Violation`` per broken rule, named by a stable rule id."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Optional

from pipes_fast.protocol import bad_line

RULES: Mapping[str, str] = {
    "not-utf8": "every message line is UTF-8",
    "not-json": "every message line is one JSON value",
    "line-too-long": "a message line is at most pipes_fast's line limit (128 MiB)",
    "envelope": "a message is a JSON object with method and params",
    "missing-version": "a message has the __dagster_pipes_version field",
    "version": '__dagster_pipes_version is "0.1"',
    "unknown-method": "the method is one the protocol defines",
    "params": "params have exactly the names and types their method defines",
    "extra-field": "no field the protocol does not define (in the envelope, closed's params, a metadata entry)",
    "ignored-param": "opened's params are {\"extras\": {...}}; log_external_stream's extras is an object or null",
    "metadata-entry": "a metadata entry is an object of raw_value and type",
    "metadata-type": "a metadata type is one of the protocol's 17",
    "metadata-value": "a metadata raw_value matches its type",
    "missing-asset-key": "materializations and checks name their asset",
    "asset-key-outside-step": "a reported asset key is one of the step's assets",
    "duplicate-materialization": "an asset is materialized at most once per step",
    "duplicate-check": "an asset check (asset key and check name) is reported at most once per step",
    "check-severity": 'a check\'s severity is "ERROR" or "WARN"',
    "missing-opened": "the stream has an opened message",
    "opened-first": "opened is the first message",
    "opened-twice": "opened is sent once",
    "missing-closed": "the stream has a closed message",
    "after-closed": "nothing follows closed",
    "stderr-traceback": "the process shows no crash (traceback, panic) on stderr",
    "exit-status": "the process exits with status 0",
    "timeout": "the process finishes within the time allowed",
}
"""Every rule id, with what the rule asks of a Pipes client."""

WARNING_RULES: frozenset[str] = frozenset(
    ("version", "extra-field", "ignored-param", "opened-first", "opened-twice", "after-closed", "stderr-traceback")
)
"""The rules whose breach both orchestration sides, Dagster's and pipes_fast's, accept and read
right (they ignore it, or log a warning and go on): reported as warnings, which fail no case. A
breach of any other rule is a violation: an orchestrator refuses the message (Dagster's file
reader stops reading at it), fails the step, or misreads the run."""


@dataclasses.dataclass(frozen=True)
class Violation:
    """A broken rule (a warning if the rule is one of :data:`WARNING_RULES`): ``line`` is the
    1-based number of the offending message line (None for what concerns the whole stream or the
    process), ``text`` an excerpt of that line."""

    rule: str
    line: Optional[int]
    text: str
    message: str

    @property
    def warning(self) -> bool:
        return self.rule in WARNING_RULES

    def __str__(self) -> str:
        where = "" if self.line is None else f"line {self.line}: "
        return f"{where}[{self.rule}] {self.message}"


def violation(rule: str, message: str, line: Optional[int] = None, text: bytes = b"") -> Violation:
    """A ``Violation`` of a known rule, ``text`` cut to a short printable excerpt."""
    if rule not in RULES:
        raise ValueError(f"unknown conformance rule {rule!r}")
    return Violation(rule, line, bad_line(line or 0, text, "").excerpt if text else "", message)
