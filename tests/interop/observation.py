"""Plain, comparable records of what an orchestrator made of one run of the external script.

Both orchestrators' results are normalised to the wire vocabulary: asset keys as path tuples,
metadata as ``{name: (wire type, canonical JSON of the raw value)}``, data versions as strings,
severities as "WARN"/"ERROR", custom messages as canonical JSON.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from interop.scripts import payloads

AssetPath = tuple[str, ...]
Metadata = dict[str, tuple[str, str]]


def canonical(value: Any) -> str:
    """Canonical JSON: sorted keys, NaN/Infinity spelled as Python's json writes them.

    Keeps ``1`` apart from ``1.0`` and ``True``, which plain ``==`` would not.
    """
    return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=True)


@dataclass(frozen=True)
class Materialization:
    """One reported (or implicit) materialization."""

    asset_key: AssetPath
    metadata: Metadata
    data_version: str | None


@dataclass(frozen=True)
class CheckEvaluation:
    """One asset check result."""

    asset_key: AssetPath
    check_name: str
    passed: bool
    severity: str
    metadata: Metadata


@dataclass(frozen=True)
class ExternalError:
    """The exception the external process reported in its ``closed`` message."""

    name: str | None
    message: str
    stack: tuple[str, ...]
    cause: ExternalError | None


@dataclass
class Observation:
    """Everything one orchestrator run produced, normalised."""

    orchestrator: str
    run_id: str | None = None  # what the orchestrator injected
    job_name: str | None = None
    materializations: list[Materialization] = field(default_factory=list)
    checks: list[CheckEvaluation] = field(default_factory=list)
    context: dict[str, Any] | None = None  # the script's context report, run_id/job_name removed
    seen_run_id: str | None = None
    seen_job_name: str | None = None
    custom_messages: list[str] = field(default_factory=list)
    logs: list[tuple[int, str]] = field(default_factory=list)  # (level, message), marked ones
    stdout: list[str] = field(default_factory=list)  # marked lines written to the stream
    stderr: list[str] = field(default_factory=list)
    failed: bool = False
    error: BaseException | None = None
    error_logs: list[str] = field(default_factory=list)  # ERROR+ log text not from the script
    external_error: ExternalError | None = None
    leftovers: list[str] = field(default_factory=list)  # files left in the run's work dir
    captured: dict[str, str | None] = field(default_factory=dict)  # forward_stdio=False capture

    def take_custom_messages(self, messages: list[Any]) -> None:
        """Split the script's context report (first message) from the other custom messages."""
        rest = list(messages)
        if rest and isinstance(rest[0], dict) and payloads.CONTEXT_KEY in rest[0]:
            report = dict(rest.pop(0)[payloads.CONTEXT_KEY])
            self.seen_run_id = report.pop("run_id")
            self.seen_job_name = report.pop("job_name")
            self.context = report
        self.custom_messages = [canonical(message) for message in rest]

    def take_logs(self, records: list[tuple[int, str]]) -> None:
        """Keep the script's log messages, and the text of other ERROR+ records."""
        self.logs = [(level, msg) for level, msg in records if msg.startswith(payloads.LOG_MARKER)]
        self.error_logs = [
            msg for level, msg in records if level >= logging.ERROR and not msg.startswith(payloads.LOG_MARKER)
        ]

    def take_streams(self, stdout: str, stderr: str) -> None:
        """Keep the lines of each stream that the script sent (marked ones)."""
        markers = (payloads.STREAM_MARKER, payloads.STDIO_MARKER)
        self.stdout = [line for line in stdout.splitlines() if line.startswith(markers)]
        self.stderr = [line for line in stderr.splitlines() if line.startswith(markers)]


def wire_column(column: Any) -> dict[str, Any]:
    """A Dagster ``TableColumn`` as the full raw dict the scripts send."""
    return {
        "name": column.name,
        "type": column.type,
        "description": column.description,
        "tags": dict(column.tags),
        "constraints": {
            "nullable": column.constraints.nullable,
            "unique": column.constraints.unique,
            "other": list(column.constraints.other),
        },
    }


def dagster_metadata_value(value: Any) -> tuple[str, Any]:
    """A Dagster ``MetadataValue`` back as (wire type, raw value)."""
    import dagster as dg

    converters: list[tuple[type, str, Any]] = [
        (dg.TextMetadataValue, "text", lambda v: v.text),
        (dg.UrlMetadataValue, "url", lambda v: v.url),
        (dg.PathMetadataValue, "path", lambda v: v.value),
        (dg.NotebookMetadataValue, "notebook", lambda v: v.value),
        (dg.JsonMetadataValue, "json", lambda v: v.data),
        (dg.MarkdownMetadataValue, "md", lambda v: v.md_str),
        (dg.FloatMetadataValue, "float", lambda v: v.value),
        (dg.IntMetadataValue, "int", lambda v: v.value),
        (dg.BoolMetadataValue, "bool", lambda v: v.value),
        (dg.DagsterRunMetadataValue, "dagster_run", lambda v: v.run_id),
        (dg.DagsterAssetMetadataValue, "asset", lambda v: list(v.asset_key.path)),
        (dg.NullMetadataValue, "null", lambda v: None),
        (
            dg.TableMetadataValue,
            "table",
            lambda v: {
                "records": [dict(record.data) for record in v.records],
                "schema": [wire_column(column) for column in v.schema.columns],
            },
        ),
        (
            dg.TableSchemaMetadataValue,
            "table_schema",
            lambda v: {"columns": [wire_column(column) for column in v.schema.columns]},
        ),
        (
            dg.TableColumnLineageMetadataValue,
            "table_column_lineage",
            lambda v: {
                "deps_by_column": {
                    column: [
                        {
                            "asset_key": dep.asset_key.to_user_string(),
                            "column_name": dep.column_name,
                        }
                        for dep in deps
                    ]
                    for column, deps in v.column_lineage.deps_by_column.items()
                }
            },
        ),
        (dg.TimestampMetadataValue, "timestamp", lambda v: v.value),
    ]
    for cls, wire_type, raw in converters:
        if type(value) is cls:
            return wire_type, raw(value)
    raise TypeError(f"no wire type for Dagster metadata value {value!r}")


def dagster_metadata(metadata: Any) -> Metadata:
    """A Dagster metadata mapping, normalised."""
    out: Metadata = {}
    for name, value in (metadata or {}).items():
        wire_type, raw = dagster_metadata_value(value)
        out[name] = (wire_type, canonical(raw))
    return out


def pipes_fast_metadata(metadata: Any) -> Metadata:
    """A pipes_fast metadata mapping (``MetadataValue(type, value)``), normalised."""
    out: Metadata = {}
    for name, value in (metadata or {}).items():
        raw = value.value
        if value.type == "asset":
            raw = list(raw.path)
        out[name] = (value.type, canonical(raw))
    return out


def data_version_str(data_version: Any) -> str | None:
    """A data version (str, or an object with ``.value``) as a plain string."""
    if data_version is None:
        return None
    return str(getattr(data_version, "value", data_version))


def severity_str(severity: Any) -> str:
    """A severity enum (or string) as "WARN"/"ERROR"."""
    return str(getattr(severity, "value", severity))


def normalise_results(results: Any, metadata_of: Any) -> tuple[list[Materialization], list[CheckEvaluation]]:
    """Split ``get_results()`` (either package) into normalised materializations and checks."""
    materializations: list[Materialization] = []
    checks: list[CheckEvaluation] = []
    for result in results:
        path = tuple(result.asset_key.path)
        if hasattr(result, "check_name"):
            checks.append(
                CheckEvaluation(
                    asset_key=path,
                    check_name=result.check_name,
                    passed=result.passed,
                    severity=severity_str(result.severity),
                    metadata=metadata_of(result.metadata),
                )
            )
        else:
            materializations.append(
                Materialization(
                    asset_key=path,
                    metadata=metadata_of(result.metadata),
                    data_version=data_version_str(result.data_version),
                )
            )
    return materializations, checks


def external_error_from_dagster(error: Any) -> ExternalError:
    """A Dagster ``SerializableErrorInfo`` built from a pipes exception."""
    return ExternalError(
        name=error.cls_name,
        message=error.message,
        stack=tuple(error.stack),
        cause=None if error.cause is None else external_error_from_dagster(error.cause),
    )
