"""The pure implementation of the hot path: Python, mirroring the compiled one (``ext/compiled.pyx``).

Used where the compiled one is not built or when ``PIPES_FAST_NO_EXTENSIONS=1``. Mirrored file for
file: ``held.py`` ~ ``ext/held.pxi`` (the base of the framer and the demux), ``framing.py`` ~
``ext/framing.pyx``, ``results.py`` ~ ``ext/results.pyx``, ``routing.py`` ~ ``ext/routing.pyx``,
``stdio.py`` ~ ``ext/stdio.pyx``, ``appender.py`` ~ ``ext/appender.pyx``. The interface and
bad-argument tests hold the two to one contract.
"""

from pipes_fast._hotpath.pure.appender import JsonLineAppender
from pipes_fast._hotpath.pure.framing import LineFramer
from pipes_fast._hotpath.pure.results import AssetCheckResult, MaterializeResult, MetadataValue, resolve_metadata
from pipes_fast._hotpath.pure.routing import MessageRouter
from pipes_fast._hotpath.pure.stdio import StdioDemux

__all__ = [
    "AssetCheckResult",
    "JsonLineAppender",
    "LineFramer",
    "MaterializeResult",
    "MessageRouter",
    "MetadataValue",
    "StdioDemux",
    "resolve_metadata",
]
