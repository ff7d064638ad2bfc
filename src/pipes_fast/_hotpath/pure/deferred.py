"""orjson, imported when first used rather than when the hot path loads: importing it takes about
20 ms (it loads dataclasses, inspect, uuid, ...), which a session around a process that sends nothing
(``pipes-fast run -- true``) need not pay. The compiled implementation's is ``ext/orjson.pxi``."""

from __future__ import annotations

from types import ModuleType

_module: ModuleType | None = None


def orjson() -> ModuleType:
    """The orjson module, imported on the first call."""
    global _module
    if _module is None:
        import orjson as module

        _module = module
    return _module
