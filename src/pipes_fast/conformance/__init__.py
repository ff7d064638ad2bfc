r"""Protocol conformance for Pipes clients in any language: the engine of ``pipes-fast check``.

``check_command(COMMAND)`` runs COMMAND as a Pipes external process once per case of
:data:`STANDARD_CASES` (single asset, several assets, partitioned, op without assets, extras with
unicode and nesting), each time with a real bootstrap (``DAGSTER_PIPES_CONTEXT`` and
``DAGSTER_PIPES_MESSAGES`` naming a fresh message file), and judges every line the process wrote
against the protocol. It returns a :class:`CaseReport` per case; the ``check`` command prints
:func:`format_report` (or :func:`reports_as_json` with ``--json``) and exits non-zero when any
case has a violation.

The rules (:data:`RULES` names each by a stable id) follow what the two orchestration sides,
Dagster's and pipes_fast's, do: a violation is what either would refuse or misread (Dagster's file
reader stops reading at a line its handler cannot take, and its step fails on an asset or check
reported twice); what both accept is a warning (:data:`WARNING_RULES`, marked * below), reported
but failing no case:

- every line is UTF-8 (``not-utf8``), one JSON value (``not-json``), at most pipes_fast's line
  limit long (``line-too-long``): a JSON object with ``method`` and ``params`` (``envelope``;
  another field is ``extra-field``\*) and ``__dagster_pipes_version`` (``missing-version``), which
  is ``"0.1"`` (``version``\*), and a method the protocol defines (``unknown-method``);
- ``opened`` comes (``missing-opened``), first (``opened-first``\*) and once (``opened-twice``\*),
  with ``{"extras": {...}}`` (``ignored-param``\*); ``closed`` comes last (``missing-closed``,
  ``after-closed``\*), optionally with a dagster-pipes shaped ``exception``;
- every method's params are exactly its own, with their types (``params``; ``null`` for an
  optional value, since Dagster calls its handlers with ``**params``); a check's severity is
  ``ERROR`` or ``WARN`` (``check-severity``);
- metadata is ``{name: {"raw_value": V, "type": T}}`` (``metadata-entry``) with T one of the 17
  types (``metadata-type``) and V of T's shape (``metadata-value``);
- materializations and checks name an asset of the step (``missing-asset-key``,
  ``asset-key-outside-step``), each asset is materialized once (``duplicate-materialization``) and
  each check reported once (``duplicate-check``);
- the process exits 0 (``exit-status``) in time (``timeout``); a crash shown on its stderr is
  ``stderr-traceback``\* (a client may log a handled exception's traceback).

:func:`validate_stream` applies the stream rules to lines alone, without running anything.
"""

from __future__ import annotations

from pipes_fast.conformance.cases import STANDARD_CASES, Case
from pipes_fast.conformance.report import CaseReport, format_report, reports_as_json
from pipes_fast.conformance.rules import StreamValidator, validate_stream
from pipes_fast.conformance.runner import check_command, run_case
from pipes_fast.conformance.violations import RULES, WARNING_RULES, Violation

__all__ = [
    "RULES",
    "STANDARD_CASES",
    "WARNING_RULES",
    "Case",
    "CaseReport",
    "StreamValidator",
    "Violation",
    "check_command",
    "format_report",
    "reports_as_json",
    "run_case",
    "validate_stream",
]
