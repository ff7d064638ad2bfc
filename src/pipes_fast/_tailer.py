"""Follows a file the external process appends messages to.

One source for both hot-path implementations: waiting on a file is I/O-bound, and compiling it
gains nothing.
"""

from __future__ import annotations

import os
import threading
from typing import Optional

_MIN_POLL_SECONDS = 0.001
_MAX_POLL_SECONDS = 0.05


class FileTailer:
    """Reads what was appended to a file since the last call; the file may not exist yet.

    ``wait`` blocks until there is more to read, ``stop`` is called, or the timeout passes,
    polling with a bounded adaptive sleep (never a busy spin). Reads are ``chunk_bytes`` at a
    time: small enough that the messages decoded from one read are dispatched before the garbage
    collector's first generation fills up, which keeps decoding at full speed.
    """

    def __init__(self, path: str | os.PathLike[str], chunk_bytes: int = 16 * 1024) -> None:
        self.path = os.fspath(path)
        self.chunk_bytes = chunk_bytes
        self.position = 0
        self._fd = -1
        self._stop = threading.Event()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        """Wake any ``wait`` now and make later ones return at once."""
        self._stop.set()

    def read(self) -> bytes:
        """Return up to ``chunk_bytes`` bytes appended since the last call (``b""`` if none)."""
        if self._fd < 0 and not self._open():
            return b""
        data = os.read(self._fd, self.chunk_bytes)
        self.position += len(data)
        return data

    def available(self) -> int:
        """Bytes written to the file and not read yet."""
        if self._fd < 0 and not self._open():
            return 0
        return max(os.fstat(self._fd).st_size - self.position, 0)

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Wait for unread data; True if there is some, False on stop or timeout."""
        delay = _MIN_POLL_SECONDS
        remaining = timeout
        while True:
            if self.available() > 0:
                return True
            if remaining is not None:
                if remaining <= 0:
                    return False
                delay = min(delay, remaining)
            if self._stop.wait(delay):
                return self.available() > 0
            if remaining is not None:
                remaining -= delay
            delay = min(delay * 2, _MAX_POLL_SECONDS)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _open(self) -> bool:
        try:
            self._fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        return True

    def __enter__(self) -> FileTailer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


