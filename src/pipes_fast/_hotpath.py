"""Picks the hot-path implementation: the compiled extension, or its pure-Python twin.

``PIPES_FAST_NO_EXTENSIONS=1`` forces the twin; so does an install where the extension could not
be compiled. ``EXTENSION`` is True exactly when the compiled one is in use.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

MODULES = {"compiled": "pipes_fast._speedups", "pure": "pipes_fast._fallback"}


def load(name: str) -> ModuleType:
    """The implementation called ``name`` ("compiled" or "pure"), in use or not (for tests and
    benchmarks); ImportError if the compiled one is not built."""
    return importlib.import_module(MODULES[name])


def _select() -> tuple[ModuleType, bool]:
    if os.environ.get("PIPES_FAST_NO_EXTENSIONS", "") not in ("", "0"):
        return load("pure"), False
    try:
        return load("compiled"), True
    except ImportError:
        return load("pure"), False


implementation, EXTENSION = _select()

LineFramer = implementation.LineFramer
decode_batch = implementation.decode_batch
resolve_metadata = implementation.resolve_metadata
MetadataValue = implementation.MetadataValue
MessageRouter = implementation.MessageRouter
MaterializeResult = implementation.MaterializeResult
AssetCheckResult = implementation.AssetCheckResult
JsonLineAppender = implementation.JsonLineAppender

__all__ = [
    "EXTENSION",
    "AssetCheckResult",
    "MaterializeResult",
    "JsonLineAppender",
    "LineFramer",
    "MessageRouter",
    "MetadataValue",
    "decode_batch",
    "implementation",
    "resolve_metadata",
]
