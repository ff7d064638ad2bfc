"""Signals while a client runs an external process: SIGTERM as an interrupt, interrupts held
while a child is being started."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def sigterm_as_keyboard_interrupt() -> Iterator[None]:
    """While open, SIGTERM raises KeyboardInterrupt (main thread, default handler only)."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"received signal {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextmanager
def interrupts_held() -> Iterator[None]:
    """While open, SIGINT and SIGTERM are noted, not handled; on exit they are raised again for the
    handlers in place. Holds them while a child is being started: an interrupt inside ``Popen``
    would lose the child (main thread only; elsewhere no Python handler runs)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous: dict[signal.Signals, Any] = {}
    for interrupt in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(interrupt) is not None:  # None: installed outside Python, left alone
            previous[interrupt] = signal.signal(interrupt, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        for interrupt, handler in previous.items():
            signal.signal(interrupt, handler)
        for signum in held:
            signal.raise_signal(signum)
