"""A relaxed garbage-collector threshold while messages stream in.

Each read of a message stream decodes a batch of dicts that live only until they are dispatched,
and the results kept for the consumer survive. With CPython's default first-generation threshold
(700 allocations) the collector runs every hundred or so messages and re-traverses that live
batch each time, which doubled the cost of handling a materialization when measured. While at
least one reader is active, the first-generation threshold is raised to ``RELAXED_THRESHOLD``;
the previous thresholds come back when the last reader stops (unless someone changed them
meanwhile). Cyclic garbage is still collected, only in larger steps.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Optional

RELAXED_THRESHOLD = 20_000

_lock = threading.Lock()
_active = 0
_saved: Optional[tuple[int, ...]] = None


def relax() -> None:
    """A reader starts streaming: raise the first-generation threshold unless another one did;
    :func:`restore` undoes it."""
    global _active, _saved
    with _lock:
        if _active == 0:
            current = gc.get_threshold()
            if 0 < current[0] < RELAXED_THRESHOLD:
                _saved = current
                gc.set_threshold(RELAXED_THRESHOLD, *current[1:])
        _active += 1


def restore() -> None:
    """A reader stops streaming: the last one puts the previous thresholds back."""
    global _active, _saved
    with _lock:
        _active -= 1
        if _active == 0 and _saved is not None:
            if gc.get_threshold()[0] == RELAXED_THRESHOLD:
                gc.set_threshold(*_saved)
            _saved = None


@contextmanager
def relaxed_gc() -> Iterator[None]:
    """Raise the first-generation threshold for the span of the block (re-entrant, thread-safe)."""
    relax()
    try:
        yield
    finally:
        restore()
