"""What a conformance check finds: one ``Violation`` per broken rule, named by a stable rule id."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Optional

from pipes_fast.protocol import bad_line

RULES: Mapping[str, str] = {
    "not-utf8": "every message line is UTF-8",
    "not-json": "every message line is one JSON value",
    "envelope": "a message is a JSON object of exactly __dagster_pipes_version, method and params",
    "version": '__dagster_pipes_version is present and is "0.1"',
    "unknown-method": "the method is one the protocol defines",
    "params": "params have exactly the names and types their method defines",
    "metadata-entry": "a metadata entry is an object of exactly raw_value and type",
    "metadata-type": "a metadata type is one of the protocol's 17",
    "metadata-value": "a metadata raw_value matches its type",
    "missing-asset-key": "materializations and checks name their asset (clients fill in a step's only asset)",
    "asset-key-outside-step": "a reported asset key is one of the step's assets",
    "duplicate-materialization": "an asset is materialized at most once per step",
    "check-severity": 'a check\'s severity is "ERROR" or "WARN"',
    "missing-opened": "the stream has an opened message",
    "opened-first": "opened is the first message",
    "opened-twice": "opened is sent once",
    "missing-closed": "the stream has a closed message",
    "after-closed": "nothing follows closed",
    "stderr-traceback": "the process reports no crash (traceback, panic) on stderr",
    "exit-status": "the process exits with status 0",
    "timeout": "the process finishes within the time allowed",
}
"""Every rule id, with what the rule asks of a Pipes client."""


@dataclasses.dataclass(frozen=True)
class Violation:
    """A broken rule: ``line`` is the 1-based number of the offending message line (None for what
    concerns the whole stream or the process), ``text`` an excerpt of that line."""

    rule: str
    line: Optional[int]
    text: str
    message: str

    def __str__(self) -> str:
        where = "" if self.line is None else f"line {self.line}: "
        return f"{where}[{self.rule}] {self.message}"


def violation(rule: str, message: str, line: Optional[int] = None, text: bytes = b"") -> Violation:
    """A ``Violation`` of a known rule, ``text`` cut to a short printable excerpt."""
    if rule not in RULES:
        raise ValueError(f"unknown conformance rule {rule!r}")
    return Violation(rule, line, bad_line(line or 0, text, "").excerpt if text else "", message)
