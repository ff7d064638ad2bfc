"""Picks the hot-path implementation, once: the compiled extension, or its pure-Python twin.

``PIPES_FAST_NO_EXTENSIONS=1`` forces the twin; so does an install where the extension could not
be compiled. ``EXTENSION`` is True exactly when the compiled one is in use. Everything else in the
package takes the hot path's names from here, so one process uses one implementation.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

MODULES = {"compiled": "pipes_fast._hotpath.compiled", "pure": "pipes_fast._hotpath.pure"}


def load(name: str) -> ModuleType:
    """The implementation called ``name`` ("compiled" or "pure"), in use or not (for tests and
    benchmarks that compare the two); ImportError if the compiled one is not built."""
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
MessageRouter = implementation.MessageRouter
MetadataValue = implementation.MetadataValue
MaterializeResult = implementation.MaterializeResult
AssetCheckResult = implementation.AssetCheckResult
JsonLineAppender = implementation.JsonLineAppender
StdioDemux = implementation.StdioDemux
resolve_metadata = implementation.resolve_metadata

__all__ = ["EXTENSION", "implementation", *implementation.__all__]
