"""What the external process reports back: metadata values, materializations and check results."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any, Optional, Union

from pipes_fast import _hotpath
from pipes_fast.assets import AssetKey

MetadataValue = _hotpath.MetadataValue
"""A typed metadata value (``.type``, ``.value``); compiled with the hot path where available."""


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


def normalize_metadata(metadata: Optional[Mapping[str, Any]]) -> dict[str, MetadataValue]:
    """User-supplied metadata (``MetadataValue`` objects or raw values) as ``MetadataValue`` objects."""
    return {name: MetadataValue.infer(value) for name, value in (metadata or {}).items()}
