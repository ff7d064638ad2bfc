"""The exceptions and warnings of pipes_fast; every error derives from :class:`PipesError`."""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (it costs the external side)
if TYPE_CHECKING:
    from typing import Any


class PipesError(Exception):
    """Base class of every error raised by pipes_fast."""


class PipesParamError(PipesError, ValueError):
    """A bootstrap param could not be decoded (bad base64, zlib, size or JSON)."""


class MalformedParams(PipesError, ValueError):
    """The params of a message do not have the shape its method requires."""


def require_param(params: Any, name: str, kind: type) -> Any:
    """``params[name]``, which must be exactly of type ``kind``; else :class:`MalformedParams`."""
    try:
        value = params[name]
    except (KeyError, TypeError, IndexError):
        raise MalformedParams(f"missing param {name!r}") from None
    if type(value) is not kind:
        raise MalformedParams(f"param {name!r} must be {kind.__name__}, got {value!r:.100}")
    return value


class PipesInvariantViolationError(PipesError, ValueError):
    """pipes_fast's classes were put together in a way they do not support (a composite reader
    without readers, or inside another)."""


class PipesExecutionError(PipesError):
    """The external process failed: it exited non-zero, was killed, or could not start."""


class PipesWarning(UserWarning):
    """A recoverable problem with the Pipes stream (a bad line, an unexpected message, ...)."""
