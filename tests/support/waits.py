"""How a thread's bounded waits end: woken by their event, or run out. Tests assert on that, never on
how long something took.

``recording_waits(module)`` makes each ``threading.Event()`` that ``module`` creates while the block
runs a :class:`RecordingEvent`: a real event that notes, in one log with the test's own marks, each
wait it serves and how that wait ended. A test marks the moment it cares about (``waits.mark("closing")``)
and asserts on the waits that ended after it: the code under test is not replaced, only watched.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal, Optional, Union

WOKEN: Literal["woken"] = "woken"
"""A wait that ended because its event was set."""
RAN_OUT: Literal["ran out"] = "ran out"
"""A wait that ended because its timeout ran out."""


@dataclass(frozen=True)
class Wait:
    """One wait on a recorded event: its timeout, and how it ended."""

    timeout: Optional[float]
    how: Literal["woken", "ran out"]


class Waits:
    """The log: the waits on the recorded events as they ended, and the test's marks, in order."""

    def __init__(self) -> None:
        self.log: list[Union[Wait, str]] = []
        self.begun = 0
        """How many waits have started (ended or not)."""
        self._lock = threading.Lock()

    def mark(self, label: str) -> None:
        """Note ``label`` in the log, between the waits that ended before and after it."""
        with self._lock:
            self.log.append(label)

    def after(self, label: str) -> list[Wait]:
        """The waits that ended after the mark ``label``, in order."""
        with self._lock:
            log = self.log[self.log.index(label) + 1 :]
        return [entry for entry in log if isinstance(entry, Wait)]

    def ended_after(self, label: str) -> list[str]:
        """How the waits that ended after the mark ``label`` ended (:data:`WOKEN`, :data:`RAN_OUT`)."""
        return [wait.how for wait in self.after(label)]

    def _began(self) -> None:
        with self._lock:
            self.begun += 1

    def _ended(self, wait: Wait) -> None:
        with self._lock:
            self.log.append(wait)


class RecordingEvent(threading.Event):
    """A ``threading.Event`` that notes each of its waits in ``waits``."""

    def __init__(self, waits: Waits) -> None:
        super().__init__()
        self._waits = waits

    def wait(self, timeout: Optional[float] = None) -> bool:
        self._waits._began()
        woken = super().wait(timeout)
        self._waits._ended(Wait(timeout, WOKEN if woken else RAN_OUT))
        return woken


class _Threading:
    """``threading`` as a module sees it while its events are recorded."""

    def __init__(self, waits: Waits) -> None:
        self._waits = waits

    def Event(self) -> RecordingEvent:  # noqa: N802 - threading's name
        return RecordingEvent(self._waits)

    def __getattr__(self, name: str) -> Any:
        return getattr(threading, name)


@contextmanager
def recording_waits(module: ModuleType) -> Iterator[Waits]:
    """Record the waits on the events ``module`` creates (with ``threading.Event()``) in the block."""
    assert module.threading is threading, f"{module.__name__} does not use threading.Event as expected"
    waits = Waits()
    module.threading = _Threading(waits)
    try:
        yield waits
    finally:
        module.threading = threading
