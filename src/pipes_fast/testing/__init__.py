"""Hypothesis strategies and a harness for fuzzing Pipes code: readers, handlers and writers.

It needs hypothesis (``pip install hypothesis``, or ``pip install '.[testing]'`` in a pipes_fast
checkout); nothing else in pipes_fast imports this package.

- Values: :func:`json_values`, :func:`asset_keys`, :func:`metadata_values` and :func:`metadata`
  (every metadata type), :func:`messages` (every method, valid params), :func:`context_data`.
- Byte streams: :func:`message_lines`, :func:`message_streams` (valid streams as writers frame
  them), :func:`adversarial_streams` (with what a reader must deliver and report), each a
  :class:`StreamCase`; :func:`split_writes` cuts a stream into writes at every kind of boundary.
- The harness: :func:`feed` runs a stream, write by write, through pipes_fast's real file reader
  and handler; :func:`deliver` hands decoded messages straight to a handler. Both return a
  :class:`Delivered`, equal when they delivered the same.
"""

from __future__ import annotations

from pipes_fast.testing.harness import Delivered, deliver, feed
from pipes_fast.testing.strategies import (
    DEFAULT_ASSET_KEYS,
    LOG_LEVELS,
    asset_keys,
    context_data,
    exceptions,
    json_scalars,
    json_values,
    messages,
    metadata,
    metadata_values,
)
from pipes_fast.testing.streams import (
    ADVERSARIAL_KINDS,
    FRAMINGS,
    StreamCase,
    adversarial_streams,
    encode_message,
    message_lines,
    message_streams,
    split_writes,
)

__all__ = [
    "ADVERSARIAL_KINDS",
    "DEFAULT_ASSET_KEYS",
    "FRAMINGS",
    "LOG_LEVELS",
    "Delivered",
    "StreamCase",
    "adversarial_streams",
    "asset_keys",
    "context_data",
    "deliver",
    "encode_message",
    "exceptions",
    "feed",
    "json_scalars",
    "json_values",
    "message_lines",
    "message_streams",
    "messages",
    "metadata",
    "metadata_values",
    "split_writes",
]
