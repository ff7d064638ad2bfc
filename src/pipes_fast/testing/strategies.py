"""Hypothesis strategies for the values of the Pipes protocol: JSON values, asset keys, metadata,
messages of every method and context data, each shaped as the protocol (and Dagster) accepts it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Optional, cast

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from pipes_fast.assets import AssetKey
from pipes_fast.protocol import (
    METADATA_TYPES,
    METHODS,
    PipesContextData,
    PipesMessage,
    PipesMetadataValue,
    make_message,
)

DEFAULT_ASSET_KEYS: tuple[str, ...] = ("orders", "db/events", "odd\\/name")
"""The escaped asset keys messages report on unless told otherwise (and the harness's step's)."""

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
"""The level names a ``log`` message carries (dagster-pipes writes ``record.levelname``)."""

_texts = st.text(max_size=20)
_names = st.text(min_size=1, max_size=12)


def json_scalars() -> SearchStrategy[Any]:
    """None, booleans, integers within 64 bits, finite floats and text: the scalars every JSON
    library (orjson included) reads back exactly."""
    return (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**63), max_value=2**63 - 1)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text()
    )


def json_values() -> SearchStrategy[Any]:
    """JSON values: :func:`json_scalars` nested in small lists and objects (up to 12 leaves)."""
    return st.recursive(
        json_scalars(),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
        max_leaves=12,
    )


def asset_keys() -> SearchStrategy[str]:
    """Asset keys as they travel: escaped user strings (``/`` between parts, ``\\`` escaping the
    next character), from keys of one to three non-empty parts of any text, slashes and
    backslashes included."""
    parts = st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=3)
    return parts.map(lambda path: AssetKey(path).to_escaped_user_string())


def _columns() -> SearchStrategy[list[dict[str, Any]]]:
    constraints = st.fixed_dictionaries(
        {}, optional={"nullable": st.booleans(), "unique": st.booleans(), "other": st.lists(_texts, max_size=2)}
    )
    column = st.fixed_dictionaries(
        {"name": _names, "type": st.sampled_from(["int", "float", "string", "bool", "date", "json"])},
        optional={
            "description": st.none() | _texts,
            "tags": st.dictionaries(_names, _texts, max_size=2),
            "constraints": constraints,
        },
    )
    return st.lists(column, max_size=4, unique_by=lambda c: c["name"])


def _table(columns: list[dict[str, Any]]) -> SearchStrategy[dict[str, Any]]:
    """A table of ``columns``: records with a value for each column (Dagster requires every
    record to have the same fields)."""
    record = st.fixed_dictionaries({column["name"]: json_scalars() for column in columns})
    return st.fixed_dictionaries({"records": st.lists(record, max_size=3), "schema": st.just(columns)})


def _raw_values() -> dict[str, SearchStrategy[Any]]:
    """The raw value of each metadata type, shaped as Dagster's ``metadata_value_from_external``
    accepts it."""
    user_string = st.lists(
        st.text(st.characters(exclude_characters="/", exclude_categories=["Cs"]), min_size=1, max_size=8),
        min_size=1,
        max_size=3,
    )
    dependency = st.fixed_dictionaries({"asset_key": st.lists(_names, min_size=1, max_size=3), "column_name": _names})
    host = st.from_regex(r"[a-z0-9]{1,10}(\.[a-z]{2,5}){1,2}", fullmatch=True)
    numbers = st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    return {
        "__infer__": json_values(),
        "text": st.text(),
        "url": st.builds(
            lambda scheme, h, path: f"{scheme}://{h}/{path}", st.sampled_from(["http", "https", "s3"]), host, _texts
        ),
        "path": st.text(),
        "notebook": st.text(),
        "json": st.dictionaries(st.text(max_size=8), json_values(), max_size=4) | st.lists(json_values(), max_size=4),
        "md": st.text(),
        "float": st.floats(allow_nan=False, allow_infinity=False),
        "int": st.integers(min_value=-(2**63), max_value=2**63 - 1),
        "bool": st.booleans(),
        "dagster_run": st.uuids().map(str),
        "asset": user_string.map("/".join),
        "null": st.none(),
        "table": _columns().flatmap(_table),
        "table_schema": st.fixed_dictionaries({"columns": _columns()}),
        "table_column_lineage": st.fixed_dictionaries(
            {"deps_by_column": st.dictionaries(_names, st.lists(dependency, max_size=2), max_size=3)}
        ),
        "timestamp": numbers,
    }


def metadata_values(types: Optional[Iterable[str]] = None) -> SearchStrategy[PipesMetadataValue]:
    """One metadata value as it travels, ``{"raw_value": V, "type": T}``, for every type of the
    protocol (or those in ``types``), with a raw value of the shape Dagster accepts for T:
    strings for text, url, path, notebook, md and dagster_run (a UUID), a slash-separated user
    string for asset, numbers for float, int and timestamp, a JSON object or list for json,
    ``None`` for null, ``{records, schema}`` for table, ``{columns}`` for table_schema,
    ``{deps_by_column}`` for table_column_lineage and any JSON value for ``__infer__``."""
    raw = _raw_values()
    chosen = sorted(METADATA_TYPES if types is None else set(types))
    unknown = set(chosen) - METADATA_TYPES
    if unknown or not chosen:
        raise ValueError(f"not metadata types: {sorted(unknown) or 'none given'}")
    entries = [st.fixed_dictionaries({"raw_value": raw[kind], "type": st.just(kind)}) for kind in chosen]
    return cast("SearchStrategy[PipesMetadataValue]", st.one_of(entries))


def metadata(types: Optional[Iterable[str]] = None, max_size: int = 4) -> SearchStrategy[dict[str, PipesMetadataValue]]:
    """A metadata mapping as a report carries it: up to ``max_size`` names, each with a
    :func:`metadata_values` value (of every type, or those in ``types``)."""
    return st.dictionaries(st.text(max_size=12), metadata_values(types), max_size=max_size)


def exceptions() -> SearchStrategy[dict[str, Any]]:
    """What a ``closed`` message reports about an exception: message, stack, name, and the
    exceptions it was caused by or raised while handling (nested up to three deep)."""
    leaf = st.fixed_dictionaries(
        {
            "message": _texts,
            "stack": st.lists(_texts, max_size=3),
            "name": st.none() | _names,
            "cause": st.none(),
            "context": st.none(),
        }
    )
    return st.recursive(
        leaf,
        lambda inner: st.builds(
            lambda e, cause, context: {**e, "cause": cause, "context": context},
            leaf,
            st.none() | inner,
            st.none() | inner,
        ),
        max_leaves=3,
    )


def _params(method: str, keys: Sequence[str]) -> SearchStrategy[dict[str, Any]]:
    """Valid params of ``method`` for a step of assets ``keys`` (escaped)."""
    extras = st.dictionaries(st.text(max_size=8), json_values(), max_size=3)
    if method == "opened":
        return st.fixed_dictionaries({"extras": extras})
    if method == "closed":
        return st.just({}) | st.fixed_dictionaries({"exception": exceptions()})
    if method == "log":
        message = st.text().filter(lambda text: not text.startswith("[pipes]"))
        return st.fixed_dictionaries({"message": message, "level": st.sampled_from(LOG_LEVELS)})
    if method == "report_custom_message":
        return st.fixed_dictionaries({"payload": json_values()})
    if method == "log_external_stream":
        return st.fixed_dictionaries(
            {"stream": st.sampled_from(["stdout", "stderr"]), "text": st.text(), "extras": extras}
        )
    key = st.sampled_from(list(keys))
    if method == "report_asset_materialization":
        return st.fixed_dictionaries(
            {"asset_key": key, "metadata": st.none() | metadata(), "data_version": st.none() | _texts}
        )
    return st.fixed_dictionaries(
        {
            "asset_key": key,
            "check_name": _names,
            "passed": st.booleans(),
            "severity": st.sampled_from(["WARN", "ERROR"]),
            "metadata": metadata(),
        }
    )


_ASSET_METHODS = frozenset({"report_asset_materialization", "report_asset_check"})


def messages(
    methods: Optional[Iterable[str]] = None, asset_keys: Sequence[str] = DEFAULT_ASSET_KEYS
) -> SearchStrategy[PipesMessage]:
    """Valid Pipes messages as dicts (``__dagster_pipes_version``, ``method``, ``params``), of every
    method (or those in ``methods``), with params a Pipes orchestrator (pipes_fast's or Dagster's)
    handles without a warning: ``opened`` with extras, ``closed`` with or without an exception,
    ``log`` at a standard level (its text never starts with ``[pipes]``, which pipes_fast's own
    log lines do), materializations and checks on one of ``asset_keys`` (escaped user strings;
    none given: no such reports) with metadata of every type, custom messages with any JSON
    payload, ``log_external_stream`` to stdout or stderr."""
    chosen = set(METHODS if methods is None else methods)
    if chosen - METHODS:
        raise ValueError(f"not Pipes methods: {sorted(chosen - METHODS)}")
    if not asset_keys:
        chosen -= _ASSET_METHODS
    if not chosen:
        raise ValueError("no method left to generate (reports on assets need asset_keys)")
    return st.one_of(
        [st.builds(make_message, st.just(method), _params(method, asset_keys)) for method in sorted(chosen)]
    )


def context_data(keys: Optional[SearchStrategy[Optional[list[str]]]] = None) -> SearchStrategy[PipesContextData]:
    """``PipesContextData`` dicts as an orchestrator injects them: asset keys (escaped, or None for
    an op step; ``keys`` draws them, by default from :func:`asset_keys`), code versions and
    provenance by key, partitions (none; one key, its range of one and maybe a time window of ISO
    timestamps; or a range with maybe a window), a run id (a UUID), job name, retry number and
    extras."""
    if keys is None:
        keys = st.none() | st.lists(asset_keys(), min_size=1, max_size=3, unique=True)
    timestamps = st.datetimes(timezones=st.none() | st.timezones()).map(lambda moment: moment.isoformat())
    provenance = st.fixed_dictionaries(
        {
            "code_version": _texts,
            "input_data_versions": st.dictionaries(_texts, _texts, max_size=2),
            "is_user_provided": st.booleans(),
        }
    )

    window = st.none() | st.fixed_dictionaries({"start": timestamps, "end": timestamps})
    # as Dagster fills them in: no partitions, one partition (a range of one), or a range of them
    partitions = st.one_of(
        st.just({"partition_key": None, "partition_key_range": None, "partition_time_window": None}),
        st.builds(
            lambda key, w: {
                "partition_key": key,
                "partition_key_range": {"start": key, "end": key},
                "partition_time_window": w,
            },
            _names,
            window,
        ),
        st.builds(
            lambda start, end, w: {
                "partition_key": None,
                "partition_key_range": {"start": start, "end": end},
                "partition_time_window": w,
            },
            _names,
            _names,
            window,
        ),
    )

    @st.composite
    def build(draw: st.DrawFn) -> PipesContextData:
        selected = draw(keys)

        def by_key(values: SearchStrategy[Any]) -> SearchStrategy[Optional[dict[str, Any]]]:
            return st.none() if selected is None else st.fixed_dictionaries({key: values for key in selected})

        data: dict[str, Any] = {
            "asset_keys": selected,
            "code_version_by_asset_key": draw(by_key(st.none() | _texts)),
            "provenance_by_asset_key": draw(by_key(st.none() | provenance)),
            **draw(partitions),
            "run_id": str(draw(st.uuids())),
            "job_name": draw(st.none() | _names),
            "retry_number": draw(st.integers(0, 10)),
            "extras": draw(st.dictionaries(st.text(max_size=8), json_values(), max_size=4)),
        }
        return data  # type: ignore[return-value]

    return build()
