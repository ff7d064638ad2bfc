"""Daemon threads kept between sessions: a session's reader starts on a thread already running.

Starting a thread makes the starting one wait until the new thread runs: 0.1-0.25 ms on these
machines, a quarter of a whole session around a trivial process. A finished job's thread waits
:data:`IDLE_SECONDS` for the next one (at most :data:`MAX_IDLE` threads wait), then ends; a waiting
thread is named :data:`IDLE_NAME`. A forked child forgets its parent's threads (they do not exist
in it).
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Callable, Optional

IDLE_SECONDS = 10.0
"""How long a thread that finished a job waits for the next one before it ends."""
MAX_IDLE = 8
"""Threads waiting for a job at most; one finishing a job when as many wait ends."""
IDLE_NAME = "pipes_fast idle thread"

_idle: list[_Worker] = []
_idle_lock = threading.Lock()


class Job:
    """A function running on a kept thread; :meth:`wait` for it to return."""

    def __init__(self, target: Callable[[], object], name: str) -> None:
        self.target = target
        self.name = name
        self._running = threading.Lock()
        self._running.acquire()  # released when the target has returned

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Wait until the target has returned (or raised); False if ``timeout`` passed first."""
        if not self._running.acquire(timeout=-1 if timeout is None else timeout):
            return False
        self._running.release()
        return True

    def done(self) -> bool:
        """True once the target has returned (or raised)."""
        return self.wait(0)

    def _run(self) -> None:
        try:
            self.target()
        except BaseException:  # reported like an uncaught exception of a thread of its own
            exc_type, exc_value, exc_tb = sys.exc_info()
            threading.excepthook(threading.ExceptHookArgs([exc_type, exc_value, exc_tb, threading.current_thread()]))
        finally:
            self.target = _nothing  # what the target holds is not kept alive by an idle thread


def _nothing() -> None:
    pass


class _Worker:
    """A daemon thread that runs the jobs handed to it, one after another."""

    def __init__(self, job: Job) -> None:
        self._job: Optional[Job] = job
        self._handed = threading.Lock()
        self._handed.acquire()  # released when a job is handed over
        self.thread = threading.Thread(target=self._serve, name=job.name, daemon=True)

    def hand(self, job: Job) -> None:
        self._job = job
        self._handed.release()

    def _serve(self) -> None:
        thread = threading.current_thread()
        while (job := self._job) is not None:
            self._job = None
            thread.name = job.name
            try:
                job._run()
            finally:
                thread.name = IDLE_NAME
                kept = self._keep()
                job._running.release()
            if not kept or not self._next_job():
                return

    def _keep(self) -> bool:
        """Wait among the idle threads, unless enough do."""
        with _idle_lock:
            if len(_idle) >= MAX_IDLE:
                return False
            _idle.append(self)
            return True

    def _next_job(self) -> bool:
        """Wait for a job; False (and no longer idle) if none came in :data:`IDLE_SECONDS`."""
        if self._handed.acquire(timeout=IDLE_SECONDS):
            return True
        with _idle_lock:
            if self in _idle:
                _idle.remove(self)
                return False
        return self._handed.acquire()  # taken just now: the job is being handed over


def start(target: Callable[[], object], name: str) -> Job:
    """Run ``target`` on a daemon thread named ``name`` (an idle one if there is one) and return its job."""
    job = Job(target, name)
    with _idle_lock:
        worker = _idle.pop() if _idle else None
    if worker is not None:
        worker.hand(job)
    else:
        _Worker(job).thread.start()
    return job


def _after_fork_in_child() -> None:
    """The parent's idle threads do not exist in a forked child."""
    global _idle_lock
    _idle_lock = threading.Lock()  # a thread of the parent may have held it at the fork
    _idle.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
