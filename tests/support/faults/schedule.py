"""Faults on a schedule: actions run after a delay or once a condition holds, on threads that
:meth:`Scheduler.close` stops and joins."""

from __future__ import annotations

import threading
from collections.abc import Callable

POLL_SECONDS = 0.01
"""How often :meth:`Scheduler.when` looks at its condition."""


class Scheduler:
    """Runs actions later, each on a thread of its own; nothing runs once :meth:`close` is called."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.closing = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def after(self, seconds: float, action: Callable[[], object]) -> None:
        """Run ``action`` in ``seconds``."""
        self._start(lambda: self.closing.wait(seconds) or action(), f"after {seconds:g} s")

    def when(self, condition: Callable[[], bool], action: Callable[[], object]) -> None:
        """Run ``action`` as soon as ``condition()`` is true (looked at every ``POLL_SECONDS``)."""

        def watch() -> None:
            while not self.closing.is_set():
                if condition():
                    action()
                    return
                self.closing.wait(POLL_SECONDS)

        self._start(watch, "watch")

    def close(self, timeout: float = 5.0) -> None:
        """Stop waiting and join every thread; RuntimeError if one is still running after ``timeout``."""
        self.closing.set()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)
        left = [thread.name for thread in threads if thread.is_alive()]
        if left:
            raise RuntimeError(f"{self.name}: threads still running after close: {left}")

    def _start(self, target: Callable[[], object], what: str) -> None:
        thread = threading.Thread(target=target, name=f"{self.name} {what}", daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()
