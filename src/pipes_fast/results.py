"""What the external process reports back: metadata values, materializations and check results.

The three value types are part of the hot path (compiled where available, with pure-Python twins
that compare equal to them); this module is where users import them from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional, TypeGuard, Union

from pipes_fast import _hotpath
from pipes_fast.protocol import HOT_PATH_MODULES, AssetCheckSeverity

if TYPE_CHECKING:  # the pure twin carries the annotations of both
    from pipes_fast._fallback import AssetCheckResult, MaterializeResult, MetadataValue
else:
    MetadataValue = _hotpath.MetadataValue
    MaterializeResult = _hotpath.MaterializeResult
    AssetCheckResult = _hotpath.AssetCheckResult
PipesExecutionResult = Union[MaterializeResult, AssetCheckResult]

__all__ = [
    "AssetCheckResult",
    "AssetCheckSeverity",
    "MaterializeResult",
    "MetadataValue",
    "PipesExecutionResult",
    "is_check_result",
    "is_materialization",
    "normalize_metadata",
]


def _is_hot_path_type(value: Any, name: str) -> bool:
    kind = type(value)
    return kind.__name__ == name and kind.__module__ in HOT_PATH_MODULES


def is_materialization(result: Any) -> TypeGuard[MaterializeResult]:
    """True for a ``MaterializeResult`` of either hot-path implementation."""
    return _is_hot_path_type(result, "MaterializeResult")


def is_check_result(result: Any) -> TypeGuard[AssetCheckResult]:
    """True for an ``AssetCheckResult`` of either hot-path implementation."""
    return _is_hot_path_type(result, "AssetCheckResult")


def normalize_metadata(metadata: Optional[Mapping[str, Any]]) -> dict[str, Any]:
    """User-supplied metadata (``MetadataValue`` objects or raw values) as ``MetadataValue`` objects."""
    return {name: MetadataValue.infer(value) for name, value in (metadata or {}).items()}
