"""A bounded pool of daemon threads for the readers' work, and the serial task each reader runs on it.

A thousand sessions do not hold a thousand threads: a reader waiting for its file holds none, and
when its file changes its :class:`SerialTask` runs on one of at most :data:`MAX_WORKERS` threads,
reads what is there, and gives the thread back. Threads are started when work is queued and none
is idle, and end after :data:`IDLE_SECONDS` without work. A forked child forgets its parent's
threads and queue.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import deque
from typing import Callable

MAX_WORKERS = min(16, 2 * (os.cpu_count() or 1))
"""Threads at most: readers are CPU-bound under the GIL, so more threads than cores only hand the
GIL around (1,000 sessions delivered later with 8 threads than with 1 or 2 on 2 cores); twice the
cores keep one whose handler blocks on I/O (Dagster's event log writes) from holding the others up."""
IDLE_SECONDS = 10.0
"""How long a thread waits for work before it ends."""
WORKER_NAME = "pipes_fast reader"


class _Pool:
    def __init__(self) -> None:
        self._work: deque[Callable[[], object]] = deque()
        self._ready = threading.Condition(threading.Lock())
        self._threads = 0
        self._idle = 0

    def submit(self, work: Callable[[], object]) -> None:
        with self._ready:
            self._work.append(work)
            if self._idle > len(self._work) - 1:
                self._ready.notify()
                return
            if self._threads >= MAX_WORKERS:
                return  # the next thread to finish its work takes it
            self._threads += 1
        threading.Thread(target=self._serve, name=WORKER_NAME, daemon=True).start()

    def _serve(self) -> None:
        while True:
            with self._ready:
                while not self._work:
                    self._idle += 1
                    woken = self._ready.wait(IDLE_SECONDS)
                    self._idle -= 1
                    if not woken and not self._work:
                        self._threads -= 1
                        return
                work = self._work.popleft()
            _run(work)
            del work  # not kept alive while the thread waits for the next


def _run(work: Callable[[], object]) -> None:
    try:
        work()
    except BaseException:  # reported like an uncaught exception of a thread of its own
        exc_type, exc_value, exc_tb = sys.exc_info()
        threading.excepthook(threading.ExceptHookArgs([exc_type, exc_value, exc_tb, threading.current_thread()]))


_pool = _Pool()


def submit(work: Callable[[], object]) -> None:
    """Run ``work`` on one of the pool's threads, after the work queued before it."""
    _pool.submit(work)


class SerialTask:
    """``work`` run on the pool when :meth:`schedule` d, never twice at once: a ``schedule`` while it
    runs runs it once more after. ``work`` returns when it has nothing more to do now."""

    __slots__ = ("_work", "_lock", "_state")

    _IDLE, _QUEUED, _RUNNING, _AGAIN = range(4)

    def __init__(self, work: Callable[[], object]) -> None:
        self._work = work
        self._lock = threading.Lock()
        self._state = self._IDLE

    def schedule(self) -> None:
        """Run ``work`` soon (safe from any thread, and cheap if it is queued already)."""
        with self._lock:
            if self._state == self._IDLE:
                self._state = self._QUEUED
            else:
                if self._state == self._RUNNING:
                    self._state = self._AGAIN
                return
        _pool.submit(self._run)

    def _run(self) -> None:
        with self._lock:
            self._state = self._RUNNING
        try:
            self._work()
        finally:
            with self._lock:
                again = self._state == self._AGAIN
                self._state = self._QUEUED if again else self._IDLE
            if again:
                _pool.submit(self._run)


def _after_fork_in_child() -> None:
    global _pool
    _pool = _Pool()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
