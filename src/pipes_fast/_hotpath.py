"""Picks the hot-path implementation: the compiled extension, or its pure-Python twin.

``PIPES_FAST_NO_EXTENSIONS=1`` forces the twin; so does an install where the extension could not
be compiled. ``EXTENSION`` is True exactly when the compiled one is in use.
"""

from __future__ import annotations

import os
from types import ModuleType


def _select() -> tuple[ModuleType, bool]:
    if os.environ.get("PIPES_FAST_NO_EXTENSIONS", "") not in ("", "0"):
        from pipes_fast import _fallback

        return _fallback, False
    try:
        from pipes_fast import _speedups  # type: ignore[attr-defined]
    except ImportError:
        from pipes_fast import _fallback

        return _fallback, False
    return _speedups, True


implementation, EXTENSION = _select()

LineFramer = implementation.LineFramer
FileTailer = implementation.FileTailer
decode_batch = implementation.decode_batch
encode_param = implementation.encode_param
decode_param = implementation.decode_param
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
    "FileTailer",
    "JsonLineAppender",
    "LineFramer",
    "MessageRouter",
    "MetadataValue",
    "decode_batch",
    "decode_param",
    "encode_param",
    "implementation",
    "resolve_metadata",
]
