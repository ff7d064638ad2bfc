"""What the external process reports back: metadata values, materializations and check results.

The three value types are part of the hot path (the compiled implementation where it is built,
else the pure one: one of the two per process); this module is where users import them from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional, TypeGuard, Union

from pipes_fast import _hotpath
from pipes_fast.protocol import AssetCheckSeverity

if TYPE_CHECKING:  # the pure implementation carries the annotations of both
    from pipes_fast._hotpath.pure.results import AssetCheckResult, MaterializeResult, MetadataValue
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


def is_materialization(result: Any) -> TypeGuard[MaterializeResult]:
    """True for a ``MaterializeResult``."""
    return isinstance(result, MaterializeResult)


def is_check_result(result: Any) -> TypeGuard[AssetCheckResult]:
    """True for an ``AssetCheckResult``."""
    return isinstance(result, AssetCheckResult)


def normalize_metadata(metadata: Optional[Mapping[str, Any]]) -> dict[str, Any]:
    """User-supplied metadata (``MetadataValue`` objects or raw values) as ``MetadataValue`` objects."""
    return {name: MetadataValue.infer(value) for name, value in (metadata or {}).items()}
