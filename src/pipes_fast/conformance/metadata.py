"""Metadata on the wire: ``{name: {"raw_value": V, "type": T}}``, each V checked against its T.

The shapes are those Dagster's orchestration side reads (``metadata_value_from_external``):
a table is ``{"records": [{column: scalar}], "schema": [column]}``, a table schema
``{"columns": [column]}``, a column ``{"name": str, "type": str}`` with optional
``description``, ``tags`` and ``constraints``, and a column lineage
``{"deps_by_column": {column: [{"asset_key": key, "column_name": str}]}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

from pipes_fast.protocol import METADATA_TYPES, PIPES_METADATA_TYPE_INFER

Problem = tuple[str, str]
"""A broken rule found in a message: its rule id and what is wrong."""

_ENTRY_KEYS = frozenset(("raw_value", "type"))


def _is_str(value: Any) -> bool:
    return type(value) is str


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def _is_list_of(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: type(value) is list and all(check(item) for item in value)


def _is_optional(kind: type) -> Callable[[Any], bool]:
    return lambda value: value is None or type(value) is kind


def _is_column(value: Any) -> bool:
    return (
        type(value) is dict
        and _is_str(value.get("name"))
        and _is_str(value.get("type"))
        and _is_optional(str)(value.get("description"))
        and _is_optional(dict)(value.get("tags"))
        and _is_optional(dict)(value.get("constraints"))
    )


def _is_record(value: Any) -> bool:
    return type(value) is dict and all(item is None or type(item) in (str, int, float, bool) for item in value.values())


def _is_column_dep(value: Any) -> bool:
    key = value.get("asset_key") if type(value) is dict else None
    return (_is_str(key) or (_is_list_of(_is_str)(key) and bool(key))) and _is_str(value.get("column_name"))


def _is_table(value: Any) -> bool:
    return (
        type(value) is dict
        and _is_list_of(_is_record)(value.get("records"))
        and _is_list_of(_is_column)(value.get("schema"))
    )


def _is_table_schema(value: Any) -> bool:
    return type(value) is dict and _is_list_of(_is_column)(value.get("columns"))


def _is_column_lineage(value: Any) -> bool:
    deps = value.get("deps_by_column") if type(value) is dict else None
    return type(deps) is dict and all(_is_list_of(_is_column_dep)(item) for item in deps.values())


_STRING = (_is_str, "a string")
VALUE_CHECKS: Mapping[str, tuple[Callable[[Any], bool], str]] = {
    PIPES_METADATA_TYPE_INFER: (lambda value: True, "any JSON value"),
    "text": _STRING,
    "url": _STRING,
    "path": _STRING,
    "notebook": _STRING,
    "md": _STRING,
    "dagster_run": _STRING,
    "asset": _STRING,
    "json": (lambda value: type(value) in (dict, list), "a JSON object or array"),
    "float": (_is_number, "a number"),
    "int": (lambda value: type(value) is int, "an integer"),
    "bool": (lambda value: type(value) is bool, "true or false"),
    "null": (lambda value: value is None, "null"),
    "timestamp": (_is_number, "a number (seconds since the epoch)"),
    "table": (_is_table, '{"records": [{column: scalar}], "schema": [column]}'),
    "table_schema": (_is_table_schema, '{"columns": [{"name": str, "type": str, ...}]}'),
    "table_column_lineage": (
        _is_column_lineage,
        '{"deps_by_column": {column: [{"asset_key": str, "column_name": str}]}}',
    ),
}
"""For each metadata type: whether a raw value fits it, and the shape it needs, in words."""
assert VALUE_CHECKS.keys() == METADATA_TYPES


def metadata_problems(metadata: Any) -> list[Problem]:
    """What is wrong with a message's ``metadata`` param (null or an object of typed entries)."""
    if metadata is None:
        return []
    if type(metadata) is not dict:
        return [("params", f"param 'metadata' must be an object or null, got {metadata!r:.60}")]
    problems: list[Problem] = []
    for name, entry in metadata.items():
        if type(entry) is not dict or not _ENTRY_KEYS <= entry.keys():
            problems.append(
                ("metadata-entry", f"metadata {name!r} must be an object of 'raw_value' and 'type', got {entry!r:.60}")
            )
            continue
        problems += [
            ("extra-field", f"metadata {name!r} has field {extra!r:.40}, which the protocol does not define")
            for extra in entry.keys() - _ENTRY_KEYS
        ]
        kind, value = entry["type"], entry["raw_value"]
        if type(kind) is not str or kind not in METADATA_TYPES:
            problems.append(("metadata-type", f"metadata {name!r} has unknown type {kind!r:.40}"))
            continue
        fits, shape = VALUE_CHECKS[kind]
        if not fits(value):
            problems.append(("metadata-value", f"metadata {name!r} of type {kind!r} needs {shape}, got {value!r:.60}"))
    return problems
