# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The compiled implementation of pipes_fast's hot path; ``pipes_fast._hotpath.pure`` is the pure one.

One compiled module built from one file per idea, each mirrored by a module of the pure one:
``held.pxi`` ~ ``_hotpath/pure/held.py`` (the held line, the base of the framer and the demux),
``framing.pyx`` ~ ``_hotpath/pure/framing.py``, ``results.pyx`` ~ ``_hotpath/pure/results.py``,
``routing.pyx`` ~ ``_hotpath/pure/routing.py``, ``stdio.pyx`` ~ ``_hotpath/pure/stdio.py``,
``appender.pyx`` ~ ``_hotpath/pure/appender.py`` (which writes with orjson where ``appender.pyx``
uses its own encoder, ``jsonline.pyx``).
The interface and bad-argument tests hold the two to one contract.
"""

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

include "orjson.pxi"
include "held.pxi"
include "framing.pyx"
include "stdio.pyx"
include "results.pyx"
include "routing.pyx"
include "jsonline.pyx"
include "appender.pyx"
