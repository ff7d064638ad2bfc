"""pipes_fast: a fast, wire-compatible implementation of the Dagster Pipes protocol.

The orchestration-side API is loaded lazily on first attribute access, so that
``import pipes_fast.external`` in an external process stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pipes_fast._version import __version__

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "EXTENSION": "pipes_fast._hotpath",
    "encode_param": "pipes_fast._hotpath",
    "decode_param": "pipes_fast._hotpath",
    "PipesError": "pipes_fast.errors",
    "PipesParamError": "pipes_fast.errors",
    "PipesExecutionError": "pipes_fast.errors",
    "PipesWarning": "pipes_fast.errors",
}

if TYPE_CHECKING:
    from pipes_fast._hotpath import EXTENSION, decode_param, encode_param
    from pipes_fast.errors import PipesError, PipesExecutionError, PipesParamError, PipesWarning


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pipes_fast' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = ["__version__", *_LAZY]
