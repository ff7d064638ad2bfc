"""Picks the hot-path implementation, once: the compiled one (``ext/``), or the pure-Python one
(``pure/``).

``PIPES_FAST_NO_EXTENSIONS=1`` forces the pure one; so does an install where the extension could not
be compiled. ``IMPLEMENTATION`` names the one in use ("compiled" or "pure"), ``EXTENSION`` is True
exactly when it is the compiled one, and ``REASON`` says why the pure one is in use (None for the
compiled one). Everything else in the package takes the hot path's names from here, so one process
uses one implementation.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Literal, Optional

MODULES = {"compiled": "pipes_fast._hotpath.compiled", "pure": "pipes_fast._hotpath.pure"}


def load(name: str) -> ModuleType:
    """The implementation called ``name`` ("compiled" or "pure"), in use or not (for tests and
    benchmarks that compare the two); ImportError if the compiled one is not built."""
    __import__(MODULES[name])  # not importlib.import_module: importing importlib costs start-up
    return sys.modules[MODULES[name]]


def _select() -> tuple[Literal["compiled", "pure"], Optional[str]]:
    """The implementation to use, and why the pure one (None: the compiled one)."""
    forced = os.environ.get("PIPES_FAST_NO_EXTENSIONS", "")
    if forced not in ("", "0"):
        return "pure", f"PIPES_FAST_NO_EXTENSIONS={forced}"
    try:
        load("compiled")
    except ImportError as exc:
        built = exc.name != MODULES["compiled"]
        return (
            "pure",
            f"the compiled extension does not import: {exc}" if built else "the compiled extension is not built",
        )
    return "compiled", None


IMPLEMENTATION: Literal["compiled", "pure"]
REASON: Optional[str]
IMPLEMENTATION, REASON = _select()
implementation = load(IMPLEMENTATION)
EXTENSION = IMPLEMENTATION == "compiled"

LineFramer = implementation.LineFramer
MessageRouter = implementation.MessageRouter
MetadataValue = implementation.MetadataValue
MaterializeResult = implementation.MaterializeResult
AssetCheckResult = implementation.AssetCheckResult
JsonLineAppender = implementation.JsonLineAppender
StdioDemux = implementation.StdioDemux
resolve_metadata = implementation.resolve_metadata

__all__ = ["EXTENSION", "IMPLEMENTATION", "REASON", "implementation", *implementation.__all__]
