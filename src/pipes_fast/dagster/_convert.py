"""pipes_fast's results as Dagster's own types, resolved exactly as Dagster's message handler does.

Scalar metadata goes straight to the ``dagster.MetadataValue`` constructor Dagster's handler
calls for its type; the structured types (tables, schemas, lineage, timestamps) go through
Dagster's own ``metadata_value_from_external``, so both sides agree by construction.

A materialization is the bulk of a stream, and Dagster's checked constructor is most of the cost
of converting one (about 4 µs of 6.5 here). Its fields are already of the checked types, so
:func:`materialize_result` builds the record's tuple directly — the same value Dagster's
constructor returns (``tests/in_dagster/test_dagster_convert.py`` compares the two) — when the record has the
fields this module knows, and falls back to the constructor otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Optional, Union

import dagster

from pipes_fast.assets import AssetKey
from pipes_fast.dagster._internals import NoValueSentinel, metadata_value_from_external
from pipes_fast.errors import MalformedParams
from pipes_fast.results import AssetCheckResult, MaterializeResult, MetadataValue

DagsterResult = Union[dagster.MaterializeResult[Any], dagster.AssetCheckResult]

_MAX_CACHED_KEYS = 10_000  # an op step accepts any key: a hostile stream must not grow the cache forever

_DIRECT: dict[str, Callable[[Any], dagster.MetadataValue]] = {
    "text": dagster.MetadataValue.text,
    "url": dagster.MetadataValue.url,
    "path": dagster.MetadataValue.path,
    "notebook": dagster.MetadataValue.notebook,
    "json": dagster.MetadataValue.json,
    "md": dagster.MetadataValue.md,
    "float": dagster.MetadataValue.float,
    "int": dagster.MetadataValue.int,
    "bool": dagster.MetadataValue.bool,
    "dagster_run": dagster.MetadataValue.dagster_run,
}
_SEVERITY = {severity.value: severity for severity in dagster.AssetCheckSeverity}
_new_tuple: Callable[..., Any] = tuple.__new__
_MATERIALIZE_RESULT_FIELDS = ("asset_key", "metadata", "check_results", "data_version", "tags", "value")


def checked_materialize_result(
    asset_key: Optional[dagster.AssetKey], metadata: dict[str, dagster.MetadataValue], data_version: Optional[str]
) -> dagster.MaterializeResult[Any]:
    """Dagster's ``MaterializeResult`` through its own constructor."""
    version = None if data_version is None else dagster.DataVersion(data_version)
    return dagster.MaterializeResult(asset_key=asset_key, metadata=metadata, data_version=version)


def _trusted_materialize_result(
    asset_key: Optional[dagster.AssetKey], metadata: dict[str, dagster.MetadataValue], data_version: Optional[str]
) -> dagster.MaterializeResult[Any]:
    version = None if data_version is None else dagster.DataVersion(data_version)
    result: dagster.MaterializeResult[Any] = _new_tuple(
        dagster.MaterializeResult, (asset_key, metadata, [], version, None, NoValueSentinel)
    )
    return result


materialize_result = (
    _trusted_materialize_result
    if getattr(dagster.MaterializeResult, "_fields", None) == _MATERIALIZE_RESULT_FIELDS
    else checked_materialize_result
)
"""Dagster's ``MaterializeResult`` of a converted key, metadata and data version."""


class ToDagster:
    """Converts results; Dagster asset keys are made once per key and reused."""

    def __init__(self) -> None:
        self._keys: dict[AssetKey, dagster.AssetKey] = {}

    def asset_key(self, key: AssetKey) -> dagster.AssetKey:
        """Dagster's ``AssetKey`` with the same path."""
        converted = self._keys.get(key)
        if converted is None:
            if len(self._keys) >= _MAX_CACHED_KEYS:
                self._keys.clear()
            converted = self._keys[key] = dagster.AssetKey(list(key.path))
        return converted

    def metadata_value(self, value: MetadataValue) -> dagster.MetadataValue:
        """Dagster's metadata value of the same type."""
        kind, raw = value.type, value.value
        direct = _DIRECT.get(kind)
        if direct is not None:
            return direct(raw)
        if kind == "asset":
            return dagster.MetadataValue.asset(self.asset_key(raw))
        return metadata_value_from_external(raw, kind)  # type: ignore[arg-type]

    def metadata(self, metadata: Mapping[str, Any]) -> dict[str, dagster.MetadataValue]:
        """A metadata mapping of Dagster metadata values."""
        convert = self.metadata_value
        try:
            return {name: convert(value) for name, value in metadata.items()}
        except Exception:
            for name, value in metadata.items():  # name the entry Dagster refused
                try:
                    convert(value)
                except Exception as exc:
                    raise MalformedParams(
                        f"Dagster refuses metadata entry {name!r} of type {value.type!r:.50}"
                        f" = {value.value!r:.100}: {type(exc).__name__}: {exc}"
                    ) from exc
            raise

    def result(self, result: Union[MaterializeResult, AssetCheckResult]) -> DagsterResult:
        """Dagster's ``MaterializeResult`` or ``AssetCheckResult`` for a pipes_fast one."""
        key: Optional[dagster.AssetKey] = None if result.asset_key is None else self.asset_key(result.asset_key)
        metadata = self.metadata(result.metadata) if result.metadata else {}
        if isinstance(result, MaterializeResult):
            converted = materialize_result(key, metadata, result.data_version)
            if result.check_results:
                return converted._replace(check_results=[self.result(check) for check in result.check_results])
            return converted
        return dagster.AssetCheckResult(
            asset_key=key,
            check_name=result.check_name,
            passed=result.passed,
            severity=_SEVERITY[result.severity.value],
            metadata=metadata,
        )
