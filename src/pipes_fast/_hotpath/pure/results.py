"""What the external process reports: metadata values, materializations and check results.

The pure implementation of ``ext/results.pyx``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Optional

from pipes_fast._hotpath.pure.final import final
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
PUBLIC_MODULE = "pipes_fast.results"  # where users import the classes from: they pickle by that name


@final
class MetadataValue:
    """A typed metadata value: ``type`` is a Pipes metadata type (never ``__infer__``).

    ``value`` is the raw JSON value as the external process sent it, except for ``asset``,
    whose value is an :class:`AssetKey`. Immutable.
    """

    __module__ = PUBLIC_MODULE
    __slots__ = ("_type", "_value")
    __match_args__ = ("type", "value")

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


@final
class AssetCheckResult:
    """The outcome of an asset check reported by the external process."""

    __module__ = PUBLIC_MODULE
    __slots__ = ("_asset_key", "_check_name", "_passed", "_severity", "_metadata")
    __match_args__ = ("asset_key", "check_name", "passed", "severity", "metadata")

    def __init__(
        self,
        asset_key: Optional[AssetKey],
        check_name: str,
        passed: bool,
        severity: AssetCheckSeverity = AssetCheckSeverity.ERROR,
        metadata: Optional[Mapping[str, Any]] = None,
    ) -> None:
        self._asset_key = asset_key
        self._check_name = check_name
        self._passed = passed
        self._severity = severity
        self._metadata: Mapping[str, Any] = {} if metadata is None else metadata

    @property
    def asset_key(self) -> Optional[AssetKey]:
        return self._asset_key

    @property
    def check_name(self) -> str:
        return self._check_name

    @property
    def passed(self) -> bool:
        return self._passed

    @property
    def severity(self) -> AssetCheckSeverity:
        return self._severity

    @property
    def metadata(self) -> Mapping[str, Any]:
        return self._metadata

    def replace(self, **changes: Any) -> AssetCheckResult:
        """A copy with the given fields changed."""
        return AssetCheckResult(**{**_fields(self), **changes})

    def __eq__(self, other: object) -> bool:
        if type(other) is not AssetCheckResult:
            return NotImplemented
        return _values(self) == _values(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return _repr(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (AssetCheckResult, _values(self))


@final
class MaterializeResult:
    """An asset materialization reported by the external process (or implied for a selected asset)."""

    __module__ = PUBLIC_MODULE
    __slots__ = ("_asset_key", "_metadata", "_data_version", "_check_results")
    __match_args__ = ("asset_key", "metadata", "data_version", "check_results")

    def __init__(
        self,
        asset_key: Optional[AssetKey] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        data_version: Optional[str] = None,
        check_results: tuple[AssetCheckResult, ...] = (),
    ) -> None:
        self._asset_key = asset_key
        self._metadata: Mapping[str, Any] = {} if metadata is None else metadata
        self._data_version = data_version
        self._check_results = check_results

    @property
    def asset_key(self) -> Optional[AssetKey]:
        return self._asset_key

    @property
    def metadata(self) -> Mapping[str, Any]:
        return self._metadata

    @property
    def data_version(self) -> Optional[str]:
        return self._data_version

    @property
    def check_results(self) -> tuple[AssetCheckResult, ...]:
        return self._check_results

    def replace(self, **changes: Any) -> MaterializeResult:
        """A copy with the given fields changed."""
        return MaterializeResult(**{**_fields(self), **changes})

    def __eq__(self, other: object) -> bool:
        if type(other) is not MaterializeResult:
            return NotImplemented
        return _values(self) == _values(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return _repr(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (MaterializeResult, _values(self))


def _values(result: Any) -> tuple[Any, ...]:
    """A result's fields' values, in ``__match_args__`` order."""
    return tuple(getattr(result, name) for name in result.__match_args__)


def _fields(result: Any) -> dict[str, Any]:
    return dict(zip(result.__match_args__, _values(result)))


def _repr(result: Any) -> str:
    fields = ", ".join(f"{name}={value!r}" for name, value in _fields(result).items())
    return f"{type(result).__name__}({fields})"
