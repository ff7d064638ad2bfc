"""Flow control between a reader thread and a consumer that drains custom messages in batches.

Until the consumer drains with a bound (``take``), nothing waits: results and payloads queue up as
they arrive, and closing the session reads the stream to its end. Once it does, memory stays
bounded, through close too: the reader waits between chunks while ``limit`` payloads are queued
(the rest stays in the file), and a session that closes leaves the end of the stream to be read
as the consumer drains it (``defer``). Whatever needs the whole stream calls ``finish``.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Callable, Optional

MAX_QUEUED_CUSTOM_MESSAGES = 65_536
"""Payloads queued for a bounded consumer before the reader waits for it."""

_SLICE_SECONDS = 0.05
"""Longest single wait: every wait re-checks its condition at least this often."""
RETRY_SECONDS = _SLICE_SECONDS
"""How soon a reader that found no room (:meth:`DrainGate.has_room`) looks again."""


def take_oldest(queue: deque[Any], count: Optional[int] = None) -> list[Any]:
    """Up to ``count`` items (all if None) from the front of ``queue``, taken out of it; safe while
    another thread appends."""
    available = len(queue)
    return [queue.popleft() for _ in range(available if count is None else min(count, available))]


class DrainGate:
    """Flow control for one session's queue of custom message payloads."""

    def __init__(self, queue: deque[Any]) -> None:
        self._queue = queue
        self._limit = MAX_QUEUED_CUSTOM_MESSAGES
        self._bounded = False
        self._released = False
        self._deferred = False
        self._reader_done = False
        self._finished = False
        self._on_finish: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._room = threading.Event()
        self._arrived = threading.Event()
        self._done = threading.Event()

    @property
    def queued(self) -> int:
        """Payloads waiting for the consumer now."""
        return len(self._queue)

    # ----- the reader's side -----

    def wait_for_room(self) -> None:
        """Between chunks: while a bounded consumer has ``limit`` payloads queued, wait for it."""
        while not self.has_room():
            self._room.wait(_SLICE_SECONDS)
            self._room.clear()

    def has_room(self) -> bool:
        """Between chunks, for a reader that must not block: False while a bounded consumer has
        ``limit`` payloads queued (look again in :data:`RETRY_SECONDS`)."""
        self._arrived.set()
        return not (self._bounded and not self._released and len(self._queue) >= self._limit)

    def defer(self) -> bool:
        """At session close: True if the rest of the stream is left to read as the consumer drains
        it (a bounded consumer, a reader still running); the reader then cleans up after itself."""
        with self._lock:
            self._deferred = self._bounded and not self._reader_done
            return self._deferred

    def reader_finished(self) -> bool:
        """The reader read its stream to the end; True if it must clean up itself (deferred)."""
        with self._lock:
            self._reader_done = True
            self._done.set()
            self._arrived.set()
            return self._deferred

    # ----- the consumer's side -----

    def take(self, max_messages: int) -> list[Any]:
        """Up to ``max_messages`` payloads, oldest first. After a deferred close, waits until some
        arrive; an empty list then means the stream has ended (and ``finish`` has run)."""
        self._bounded = True
        while True:
            self._arrived.clear()
            batch = take_oldest(self._queue, max_messages)
            self._room.set()
            if batch or not self._deferred:
                return batch
            if self._reader_done and not self._queue:
                self.finish()
                return batch
            self._arrived.wait(_SLICE_SECONDS)

    def when_finished(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the whole stream has been read: now, unless the close was deferred."""
        with self._lock:
            if self._deferred and not self._finished:
                self._on_finish.append(callback)
                return
        callback()

    def release(self) -> None:
        """No more waiting for the consumer: it needs the whole stream, or has gone away."""
        self._released = True
        self._room.set()

    def finish(self) -> None:
        """Read the rest of a deferred stream into the queues (no bound any more), then run the
        ``when_finished`` callbacks. Does nothing unless the close was deferred."""
        if not self._deferred:
            return
        self.release()
        self._done.wait()
        with self._lock:
            callbacks, self._on_finish = self._on_finish, []
            self._finished = True
        for callback in callbacks:
            callback()
