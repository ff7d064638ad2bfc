"""Protocol conformance for Pipes clients in any language: the engine of ``pipes-fast check``.

``check_command(COMMAND)`` runs COMMAND as a Pipes external process once per case of
:data:`STANDARD_CASES` (single asset, several assets, partitioned, op without assets, extras with
unicode and nesting), each time with a real bootstrap (``DAGSTER_PIPES_CONTEXT`` and
``DAGSTER_PIPES_MESSAGES`` naming a fresh message file), and judges every line the process wrote
against the protocol. It returns a :class:`CaseReport` per case; the ``check`` command prints
:func:`format_report` (or :func:`reports_as_json` with ``--json``) and exits non-zero when any
case has a violation.

The rules (:data:`RULES` names each by a stable id) follow what both orchestration sides, Dagster's
and pipes_fast's, accept:

- every line is UTF-8 (``not-utf8``) and one JSON value (``not-json``): a JSON object of exactly
  ``__dagster_pipes_version``, ``method`` and ``params`` (``envelope``), the version ``"0.1"``
  (``version``), a method the protocol defines (``unknown-method``);
- ``opened`` comes first (``opened-first``, ``opened-twice``, ``missing-opened``) with
  ``{"extras": {...}}``; ``closed`` comes last (``after-closed``, ``missing-closed``), optionally
  with a dagster-pipes shaped ``exception``;
- every method's params are exactly its own, with their types (``params``; ``null`` for an
  optional value, since Dagster calls its handlers with ``**params``); a check's severity is
  ``ERROR`` or ``WARN`` (``check-severity``);
- metadata is ``{name: {"raw_value": V, "type": T}}`` (``metadata-entry``) with T one of the 17
  types (``metadata-type``) and V of T's shape (``metadata-value``);
- materializations and checks name an asset of the step (``missing-asset-key``,
  ``asset-key-outside-step``; clients fill in a step's only asset themselves), and each asset is
  materialized once (``duplicate-materialization``);
- the process does not crash (``stderr-traceback``), exits 0 (``exit-status``) and finishes in
  time (``timeout``).

:func:`validate_stream` applies the stream rules to lines alone, without running anything.
"""

from __future__ import annotations

from pipes_fast.conformance.cases import STANDARD_CASES, Case
from pipes_fast.conformance.report import CaseReport, format_report, reports_as_json
from pipes_fast.conformance.rules import StreamValidator, validate_stream
from pipes_fast.conformance.runner import check_command, run_case
from pipes_fast.conformance.violations import RULES, Violation

__all__ = [
    "RULES",
    "STANDARD_CASES",
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
