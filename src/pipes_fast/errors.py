"""The exceptions and warnings of pipes_fast; every error derives from :class:`PipesError`."""

from __future__ import annotations


class PipesError(Exception):
    """Base class of every error raised by pipes_fast."""


class PipesParamError(PipesError, ValueError):
    """A bootstrap param could not be decoded (bad base64, zlib, size or JSON)."""


class PipesExecutionError(PipesError):
    """The external process failed: it exited non-zero, was killed, or could not start."""


class PipesWarning(UserWarning):
    """A recoverable problem with the Pipes stream (a bad line, an unexpected message, ...)."""
