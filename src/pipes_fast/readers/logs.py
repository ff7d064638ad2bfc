"""Log readers: copy the external process's stdout/stderr from where it uploads them.

A blob-store message reader starts its log readers once the external process has opened the
pipes (and a reader's target is readable), and stops them when the session closes: each reads
what is left, once, before it stops.
"""

from __future__ import annotations

import logging
import sys
import threading
from abc import ABC, abstractmethod
from typing import IO, Optional

from pipes_fast.protocol import PipesParams

_log = logging.getLogger("pipes_fast")
_MAX_WARNINGS = 10

STOP_TIMEOUT_SECONDS = 60.0
"""How long ``stop`` waits for a log reader's last read before it gives up on the thread."""


class PipesLogReader(ABC):
    """Reads one log of the external process while the session runs."""

    @abstractmethod
    def start(self, params: PipesParams, is_session_closed: threading.Event) -> None:
        """Start reading (``params``: the message reader's, merged with the opened payload)."""

    @abstractmethod
    def stop(self) -> None:
        """Read what is left, then stop (bounded: see ``STOP_TIMEOUT_SECONDS``)."""

    @abstractmethod
    def is_running(self) -> bool:
        """Whether it was started and has not stopped."""

    @abstractmethod
    def target_is_readable(self, params: PipesParams) -> bool:
        """Whether the log exists yet, so that reading can start."""

    @property
    def name(self) -> str:
        """How warnings name this reader."""
        return type(self).__name__

    @property
    def debug_info(self) -> Optional[str]:
        """Extra detail for warnings about this reader, if any."""
        return None

    def with_debug_info(self, message: str) -> str:
        """``message``, followed by :attr:`debug_info` when there is some."""
        return f"{message}\nDebug info: {self.debug_info}" if self.debug_info else message


class PipesChunkedLogReader(PipesLogReader):
    """Polls :meth:`download_log_chunk` every ``interval`` seconds on a thread and writes what it
    returns to ``target_stream`` (this process's stdout by default); at ``stop``, one last read."""

    def __init__(
        self, *, interval: float = 10, target_stream: Optional[IO[str]] = None, debug_info: Optional[str] = None
    ) -> None:
        self.interval = interval
        self.target_stream = target_stream
        self._debug_info = debug_info
        self._thread: Optional[threading.Thread] = None
        self._stopping = threading.Event()

    @property
    def debug_info(self) -> Optional[str]:
        return self._debug_info

    @abstractmethod
    def download_log_chunk(self, params: PipesParams) -> Optional[str]:
        """The log text written since the last call, or None if there is none."""

    def finish_log(self) -> Optional[str]:
        """Text held back until the log is complete (e.g. the start of a character split between
        reads), called once after the last read; None by default."""
        return None

    def start(self, params: PipesParams, is_session_closed: threading.Event) -> None:
        self._thread = threading.Thread(target=self._read, args=(params,), name=f"pipes_fast {self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_SECONDS)

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _read(self, params: PipesParams) -> None:
        failures = 0
        while True:
            last = self._stopping.is_set()  # seen before the read: what was written before is read now
            try:
                chunk = self.download_log_chunk(params)
                if last:
                    chunk = (chunk or "") + (self.finish_log() or "")
                if chunk:
                    (self.target_stream or sys.stdout).write(chunk)
            except Exception as exc:  # a store that fails now and then must not end the log
                failures += 1
                if failures <= _MAX_WARNINGS:
                    _log.warning(self.with_debug_info(f"[pipes] {self.name} could not read its log: {exc!r:.300}"))
            if last:
                return
            self._stopping.wait(self.interval)
