"""What the external process reports: metadata values, materializations and check results.

Twin of ``ext/results.pyx``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Callable, Optional

from pipes_fast._logic.contract import metadata_type
from pipes_fast.assets import AssetKey
from pipes_fast.errors import MalformedParams
from pipes_fast.protocol import (
    INFERRED_METADATA_TYPE,
    PIPES_METADATA_TYPE_INFER,
    RESOLVED_METADATA_TYPES,
    AssetCheckSeverity,
)

_new_object = object.__new__


class MetadataValue:
    """A typed metadata value: ``type`` is a Pipes metadata type (never ``__infer__``).

    ``value`` is the raw JSON value as the external process sent it, except for ``asset``,
    whose value is an :class:`AssetKey`. Immutable.
    """

    __slots__ = ("_type", "_value")

    def __init__(self, type: str, value: Any) -> None:  # noqa: A002 - the wire name
        self._type = metadata_type(type, RESOLVED_METADATA_TYPES)
        self._value = value

    @property
    def type(self) -> str:
        return self._type

    @property
    def value(self) -> Any:
        return self._value

    @classmethod
    def infer(cls, value: Any) -> MetadataValue:
        """The value with the type Dagster infers for it (str -> text, dict -> json, ...)."""
        if type(value) is MetadataValue:
            return value
        if isinstance(value, AssetKey):
            return cls("asset", value)
        kind = INFERRED_METADATA_TYPE.get(type(value))
        if kind is None:
            raise TypeError(
                f"cannot infer a metadata type for {type(value).__name__}; wrap it in MetadataValue(type, value)"
            )
        return cls(kind, value)

    def __eq__(self, other: object) -> bool:
        if type(other) is not MetadataValue:
            return NotImplemented
        return self._type == other._type and self._value == other._value

    def __hash__(self) -> int:
        return hash((self._type, repr(self._value)))

    def __repr__(self) -> str:
        return f"MetadataValue({self._type!r}, {self._value!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (MetadataValue, (self._type, self._value))


def _trusted_value(kind: str, value: Any) -> MetadataValue:
    """A ``MetadataValue`` whose type is known to be valid."""
    resolved = _new_object(MetadataValue)
    resolved._type = kind
    resolved._value = value
    return resolved


def resolve_metadata(raw: Any, warn: Callable[[str], None]) -> dict[str, MetadataValue]:
    """Metadata from the wire (``{name: {"raw_value": V, "type": T}}``) to ``MetadataValue`` objects.

    ``__infer__`` resolves from the raw value's type; an unknown type is reported through ``warn``
    and inferred too. A malformed entry raises :class:`MalformedParams`.
    """
    if type(raw) is not dict:
        if raw is None:
            return {}
        raise MalformedParams(f"metadata must be an object, got {type(raw).__name__}")
    resolved: dict[str, MetadataValue] = {}
    for name, entry in raw.items():
        try:
            kind = entry["type"]
            value = entry["raw_value"]
        except (TypeError, KeyError, IndexError):
            raise MalformedParams(
                f"metadata entry {name!r} must be an object with 'raw_value' and 'type', got {entry!r:.100}"
            ) from None
        if kind == PIPES_METADATA_TYPE_INFER:
            kind = INFERRED_METADATA_TYPE.get(type(value), "json")
        elif kind == "asset":
            if type(value) is not str:
                raise MalformedParams(f"metadata entry {name!r} of type 'asset' must be a string, got {value!r:.100}")
            value = AssetKey.from_user_string(value)
        elif type(kind) is not str or kind not in RESOLVED_METADATA_TYPES:
            warn(f"metadata entry {name!r} has unknown type {kind!r:.50}; inferring its type from the value")
            kind = INFERRED_METADATA_TYPE.get(type(value), "json")
        resolved[name] = _trusted_value(kind, value)
    return resolved


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class AssetCheckResult:
    """The outcome of an asset check reported by the external process."""

    asset_key: Optional[AssetKey]
    check_name: str
    passed: bool
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR
    metadata: Mapping[str, Any] = None  # type: ignore[assignment]  # None means {}, as in the twin

    def __post_init__(self) -> None:
        if self.metadata is None:
            object.__setattr__(self, "metadata", {})

    def replace(self, **changes: Any) -> AssetCheckResult:
        """A copy with the given fields changed."""
        return dataclasses.replace(self, **changes)

    def __eq__(self, other: object) -> bool:
        if type(other) is not AssetCheckResult:
            return NotImplemented
        return _fields(self) == _fields(other)

    __hash__ = None  # type: ignore[assignment]


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class MaterializeResult:
    """An asset materialization reported by the external process (or implied for a selected asset)."""

    asset_key: Optional[AssetKey] = None
    metadata: Mapping[str, Any] = None  # type: ignore[assignment]  # None means {}, as in the twin
    data_version: Optional[str] = None
    check_results: tuple[AssetCheckResult, ...] = ()

    def __post_init__(self) -> None:
        if self.metadata is None:
            object.__setattr__(self, "metadata", {})

    def replace(self, **changes: Any) -> MaterializeResult:
        """A copy with the given fields changed."""
        return dataclasses.replace(self, **changes)

    def __eq__(self, other: object) -> bool:
        if type(other) is not MaterializeResult:
            return NotImplemented
        return _fields(self) == _fields(other)

    __hash__ = None  # type: ignore[assignment]


def _fields(result: Any) -> tuple[Any, ...]:
    return tuple(getattr(result, field.name) for field in dataclasses.fields(result))
