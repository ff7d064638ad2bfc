"""How ``run`` shows what came back on stdout: a readable table at the end, or with ``--json`` one
JSON object per line as results arrive (each with a ``"type"``), closed by a ``"summary"``."""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Optional, TextIO

from pipes_fast.assets import AssetKey
from pipes_fast.handler import format_exception
from pipes_fast.results import AssetCheckResult, MetadataValue, PipesExecutionResult

SHOWN_CUSTOM_MESSAGES = 3
"""How many custom message payloads the table shows (the rest are counted)."""
MAX_DEPTH = 100
"""Objects and arrays nested deeper than this in one output line are cut there, replaced by ``CUT``."""
CUT = f"<cut: nested deeper than {MAX_DEPTH} levels>"
_CELL_CHARS = 60  # a table cell longer than this is cut, ending in "..."
_SURROGATE = re.compile(r"[\ud800-\udfff]")  # a lone surrogate: not valid Unicode, cannot be written as UTF-8
_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}  # by repr(): strict JSON has no such number


def _key(key: Optional[AssetKey]) -> Optional[str]:
    return None if key is None else key.to_user_string()


def _escaped(surrogate: re.Match[str]) -> str:
    return f"\\u{ord(surrogate[0]):04x}"


def _plain(value: Any, depth: int = 0) -> Any:
    """``value`` as strict JSON holds it, whatever came from the wire: asset keys as user strings,
    metadata values as their value, a lone surrogate as the text ``\\udXXX``, NaN and infinities as
    the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``, what is nested deeper than ``MAX_DEPTH``
    as ``CUT``, any other object as its ``str()``."""
    if isinstance(value, str):
        return _SURROGATE.sub(_escaped, value)
    if value is None or isinstance(value, int):  # bool included
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _NON_FINITE[repr(value)]
    if isinstance(value, AssetKey):
        return _plain(value.to_user_string())
    if isinstance(value, MetadataValue):
        return _plain(value.value, depth)
    if isinstance(value, (Mapping, list, tuple)) and depth >= MAX_DEPTH:
        return CUT
    if isinstance(value, Mapping):
        return {_plain(str(k)): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value]
    return _plain(str(value))


def _is_check(result: PipesExecutionResult) -> bool:
    return hasattr(result, "check_name")  # either implementation's AssetCheckResult


def result_record(result: PipesExecutionResult) -> dict[str, Any]:
    """A result as a JSON object (see :func:`_plain`): ``materialization`` or ``check``, metadata
    as ``{name: {type, value}}``."""
    metadata = {name: {"type": m.type, "value": m.value} for name, m in result.metadata.items()}
    if _is_check(result):
        check: AssetCheckResult = result  # type: ignore[assignment]
        record = {
            "type": "check",
            "asset_key": _key(check.asset_key),
            "check_name": check.check_name,
            "passed": check.passed,
            "severity": check.severity.value,
            "metadata": metadata,
        }
    else:
        record = {
            "type": "materialization",
            "asset_key": _key(result.asset_key),
            "data_version": getattr(result, "data_version", None),
            "metadata": metadata,
        }
    plain: dict[str, Any] = _plain(record)
    return plain


def _json(value: Any) -> str:
    return json.dumps(_plain(value), ensure_ascii=False)


def _cell(text: str) -> str:
    """``text``, cut to ``_CELL_CHARS``."""
    return text if len(text) <= _CELL_CHARS else text[: _CELL_CHARS - 3] + "..."


def _shown(value: Any) -> str:
    """A metadata value in a table: a string as it is, anything else as JSON."""
    return value if isinstance(value, str) else _json(value)


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """Aligned columns, indented by two spaces, the header first."""
    lines = [list(header), *map(list, rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return ["  " + "  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines]


class Report:
    """Collects what came back and writes it to ``stream``: as a table (see :meth:`finish`)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.materializations = 0
        self.checks = 0
        self.custom_messages = 0
        self._results: list[dict[str, Any]] = []
        self._first_payloads: list[Any] = []
        self._gone = False  # the reader of the stream went away

    def _emit(self, text: str) -> None:
        """Write ``text`` and flush, unless the stream's reader has gone (a closed pipe, as with
        ``| head``): from then on what is written goes to the null device."""
        if self._gone:
            return
        try:
            self._stream.write(text)
            self._stream.flush()
        except BrokenPipeError:
            self._gone = True
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())  # what is still buffered is flushed there
            os.close(devnull)

    def add_results(self, results: Iterable[PipesExecutionResult]) -> None:
        """Results, as they arrive."""
        for result in results:
            record = result_record(result)
            if record["type"] == "check":
                self.checks += 1
            else:
                self.materializations += 1
            self._result(record)

    def add_custom_messages(self, payloads: Sequence[Any]) -> None:
        """Custom message payloads, as they arrive."""
        self.custom_messages += len(payloads)
        self._custom(payloads)

    def _result(self, record: dict[str, Any]) -> None:
        self._results.append(record)

    def _custom(self, payloads: Sequence[Any]) -> None:
        self._first_payloads += payloads[: SHOWN_CUSTOM_MESSAGES - len(self._first_payloads)]

    def finish(self, exception: Any, summary: Mapping[str, Any]) -> None:
        """Write the results, the exception the process reported (if any) and the summary."""
        lines: list[str] = []
        for kind, title, header in (
            ("materialization", "Materializations", ("ASSET", "DATA VERSION", "METADATA")),
            ("check", "Checks", ("ASSET", "CHECK", "PASSED", "SEVERITY", "METADATA")),
        ):
            records = [r for r in self._results if r["type"] == kind]
            lines.append(f"{title}: {len(records)}")
            if records:
                lines += _table(header, (self._row(r) for r in records))
        lines.append(f"Custom messages: {self.custom_messages}")
        lines += [f"  {_cell(_json(payload))}" for payload in self._first_payloads]
        if self.custom_messages > len(self._first_payloads):
            lines.append(f"  ... and {self.custom_messages - len(self._first_payloads)} more")
        if exception:
            lines.append("Exception reported by the process:")
            lines += [f"  {line}" for line in format_exception(_plain(exception)).splitlines()]
        lines.append(f"Exit status: {summary['exit_status']} ({summary['outcome']})")
        self._emit("\n".join(lines) + "\n")

    @staticmethod
    def _row(record: Mapping[str, Any]) -> list[str]:
        metadata = ", ".join(f"{name}={_cell(_shown(m['value']))}" for name, m in record["metadata"].items())
        asset = record["asset_key"] or "-"
        if record["type"] == "check":
            return [
                asset,
                record["check_name"],
                "yes" if record["passed"] else "NO",
                record["severity"],
                _cell(metadata),
            ]
        return [asset, record["data_version"] or "-", _cell(metadata)]


class JsonReport(Report):
    """Writes one JSON object per line: each result and custom message as it arrives, then the
    reported exception (if any) and the summary."""

    def _result(self, record: dict[str, Any]) -> None:
        self._emit(_json(record) + "\n")

    def _custom(self, payloads: Sequence[Any]) -> None:
        self._emit("".join(_json({"type": "custom_message", "payload": payload}) + "\n" for payload in payloads))

    def finish(self, exception: Any, summary: Mapping[str, Any]) -> None:
        records: list[Mapping[str, Any]] = []
        if exception:
            fields = exception if isinstance(exception, Mapping) else {"message": exception}
            records.append({"type": "exception", **{k: v for k, v in fields.items() if k != "type"}})  # "type" is ours
        records.append({"type": "summary", **summary})
        self._emit("".join(_json(record) + "\n" for record in records))
