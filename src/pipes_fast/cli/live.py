"""What ``run`` shows on stderr while the command runs: the logs it reports, as they arrive, and
on a terminal a progress line below them, rewritten in place."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from typing import TextIO

REDRAW_SECONDS = 0.1
"""The progress line is redrawn at most this often (ten times a second)."""

_ERASE_LINE = "\r\x1b[2K"  # back to the start of the line, and clear it


class LiveStatus:
    """Writes lines to ``stream`` and counts the messages received; when ``stream`` is a terminal
    it also keeps a progress line (messages received, rate, elapsed time) below the last line,
    cleared before each line written and by :meth:`clear`. Safe to use from several threads."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._interactive = stream.isatty()
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._drawn_at = float("-inf")
        self._shown = False  # a progress line is on screen
        self.messages = 0
        """Messages received so far: logs, results and custom messages."""

    def count(self, messages: int) -> None:
        """Add ``messages`` to the count."""
        with self._lock:
            self.messages += messages

    def write_line(self, text: str) -> None:
        """Write ``text`` and a newline, above the progress line (redrawn at the next tick)."""
        with self._lock:
            self._erase()
            self._stream.write(text + "\n")
            self._stream.flush()

    def tick(self) -> None:
        """Redraw the progress line, unless it was drawn less than ``REDRAW_SECONDS`` ago."""
        if not self._interactive:
            return
        with self._lock:
            now = time.monotonic()
            if now - self._drawn_at < REDRAW_SECONDS:
                return
            self._drawn_at = now
            elapsed = now - self._started
            self._draw(
                f"{self.messages:,} messages received, {self.messages / max(elapsed, 1e-3):,.0f}/s, {elapsed:.1f} s elapsed"
            )

    def show(self, line: str) -> None:
        """Draw ``line`` as the progress line now (on a terminal; elsewhere nothing)."""
        if self._interactive:
            with self._lock:
                self._draw(line)

    def _draw(self, line: str) -> None:
        width = shutil.get_terminal_size().columns - 1
        self._stream.write(_ERASE_LINE + line[:width])
        self._stream.flush()
        self._shown = True

    def clear(self) -> None:
        """Remove the progress line from the screen (the next tick draws it again)."""
        with self._lock:
            self._erase()
            self._stream.flush()

    def _erase(self) -> None:
        if self._shown:
            self._stream.write(_ERASE_LINE)
            self._shown = False


class LiveLogHandler(logging.Handler):
    """Writes each log record through a :class:`LiveStatus` as ``LEVEL message``; the logs the
    external process reports count as messages received (pipes_fast's own ``[pipes]`` notes do not)."""

    def __init__(self, status: LiveStatus) -> None:
        super().__init__(logging.DEBUG)
        self._status = status

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if not text.startswith("[pipes]"):
                self._status.count(1)
            self._status.write_line(f"{record.levelname} {text}")
        except Exception:
            self.handleError(record)


def live_logger(status: LiveStatus) -> logging.Logger:
    """A logger of its own (not registered, not propagating) writing through ``status``."""
    logger = logging.Logger("pipes_fast.cli", logging.DEBUG)
    logger.addHandler(LiveLogHandler(status))
    return logger
