"""What the external process reports back: metadata values, materializations and check results."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any, Optional, Union

from pipes_fast.assets import AssetKey
from pipes_fast.protocol import METADATA_TYPES, PIPES_METADATA_TYPE_INFER

RESOLVED_METADATA_TYPES: frozenset[str] = METADATA_TYPES - {PIPES_METADATA_TYPE_INFER}

INFERRED_TYPE: dict[type, str] = {
    str: "text",
    float: "float",
    bool: "bool",
    int: "int",
    list: "json",
    dict: "json",
    type(None): "null",
}


class MetadataValue:
    """A typed metadata value: ``type`` is a Pipes metadata type (never ``__infer__``).

    ``value`` is the raw JSON value as the external process sent it, except for ``asset``,
    whose value is an :class:`AssetKey`.
    """

    __slots__ = ("type", "value")

    def __init__(self, type: str, value: Any) -> None:  # noqa: A002 - the wire name
        if type not in RESOLVED_METADATA_TYPES:
            raise ValueError(
                f"unknown metadata type {type!r}; expected one of {sorted(RESOLVED_METADATA_TYPES)}"
            )
        self.type = type
        self.value = value

    @classmethod
    def infer(cls, value: Any) -> MetadataValue:
        """The value with the type Dagster infers for it (str -> text, dict -> json, ...)."""
        if isinstance(value, MetadataValue):
            return value
        if isinstance(value, AssetKey):
            return cls("asset", value)
        inferred = INFERRED_TYPE.get(type(value))
        if inferred is None:
            raise TypeError(
                f"cannot infer a metadata type for {type(value).__name__}; wrap it in MetadataValue(type, value)"
            )
        return cls(inferred, value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MetadataValue) and other.type == self.type and other.value == self.value

    def __hash__(self) -> int:
        return hash((self.type, repr(self.value)))

    def __repr__(self) -> str:
        return f"MetadataValue({self.type!r}, {self.value!r})"


class AssetCheckSeverity(str, enum.Enum):
    """How bad a failed asset check is."""

    WARN = "WARN"
    ERROR = "ERROR"


@dataclasses.dataclass(slots=True)
class AssetCheckResult:
    """The outcome of an asset check reported by the external process."""

    asset_key: Optional[AssetKey]
    check_name: str
    passed: bool
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR
    metadata: Mapping[str, MetadataValue] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(slots=True)
class MaterializeResult:
    """An asset materialization reported by the external process (or implied for a selected asset)."""

    asset_key: Optional[AssetKey] = None
    metadata: Mapping[str, MetadataValue] = dataclasses.field(default_factory=dict)
    data_version: Optional[str] = None
    check_results: tuple[AssetCheckResult, ...] = ()


PipesExecutionResult = Union[MaterializeResult, AssetCheckResult]


class MalformedParams(ValueError):
    """The params of a message do not have the shape their method requires."""


def normalize_metadata(metadata: Optional[Mapping[str, Any]]) -> dict[str, MetadataValue]:
    """User-supplied metadata (``MetadataValue`` objects or raw values) as ``MetadataValue`` objects."""
    return {name: MetadataValue.infer(value) for name, value in (metadata or {}).items()}
