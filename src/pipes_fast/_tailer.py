"""Follows a file the external process appends messages to.

One source for both hot-path implementations: waiting on a file is I/O-bound, and compiling it
gains nothing.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from typing import Callable, Optional

from pipes_fast._files import READ_FLAGS, FileId, file_id, why_not_regular

_MIN_POLL_SECONDS = 0.001
_MAX_POLL_SECONDS = 0.05

_log = logging.getLogger(__name__)


def _version(info: os.stat_result) -> tuple[int, int, int]:
    """A file and its last change: a refused file that changes, or an inode reused, is looked at again."""
    return info.st_dev, info.st_ino, info.st_ctime_ns


class FileTailer:
    """Reads what was appended to a file since the last call; the file may not exist yet.

    Follows the path like ``tail -F``: once the file is read to its end, a new regular file at
    the path (the old one removed, renamed or replaced) is read from its start, and so is a file
    that was truncated; each such restart counts in ``restarts`` and is reported through
    ``warn`` (default: this module's logger). A path that names anything but a regular file
    (a symbolic link, a FIFO, ...) is never opened.

    ``wait`` blocks until there is more to read, ``stop`` is called, or the timeout passes,
    polling with a bounded adaptive sleep (never a busy spin). Reads are ``chunk_bytes`` at a
    time: small enough that the messages decoded from one read are dispatched before the garbage
    collector's first generation fills up, which keeps decoding at full speed.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        chunk_bytes: int = 16 * 1024,
        warn: Optional[Callable[[str], None]] = None,
    ) -> None:
        self.path = os.fspath(path)
        self.chunk_bytes = chunk_bytes
        self.warn = _log.warning if warn is None else warn
        self.position = 0
        """Bytes read from the current file."""
        self.restarts = 0
        """How many times reading started over: a new file at the path, or the file truncated."""
        self._file_id: Optional[FileId] = None
        self._fd = -1
        self._refused: Optional[tuple[int, int, int]] = None
        self._stop = threading.Event()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        """Wake any ``wait`` now and make later ones return at once."""
        self._stop.set()

    def read(self) -> bytes:
        """Return up to ``chunk_bytes`` bytes appended since the last call (``b""`` if none)."""
        while True:
            if self._fd >= 0:
                data = os.read(self._fd, self.chunk_bytes)
                if data:
                    self.position += len(data)
                    return data
                if os.fstat(self._fd).st_size < self.position:
                    self._start_over(f"{self.path} was truncated: reading it again from its start")
                    continue
            if not self._open_next():
                return b""

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Wait until ``read`` has something (new data, a truncated file, a new file at the path);
        True if so, False on stop or timeout."""
        delay = _MIN_POLL_SECONDS
        remaining = timeout
        while True:
            if self._ready():
                return True
            if remaining is not None:
                if remaining <= 0:
                    return False
                delay = min(delay, remaining)
            if self._stop.wait(delay):
                return self._ready()
            if remaining is not None:
                remaining -= delay
            delay = min(delay * 2, _MAX_POLL_SECONDS)

    def fileno(self) -> int:
        """The descriptor of the file being read, or -1 before one was opened."""
        return self._fd

    def close(self) -> None:
        """Close the file being read; ``read`` opens the path again if called after."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        if getattr(self, "_fd", -1) >= 0:  # not set if __init__ failed
            self.close()

    def _ready(self) -> bool:
        if self._fd >= 0 and os.fstat(self._fd).st_size != self.position:
            return True  # appended to, or truncated
        return self._next_file() is not None

    def _next_file(self) -> Optional[os.stat_result]:
        """What the path names, if it is a regular file other than the current one and not refused."""
        try:
            info = os.lstat(self.path)
        except OSError:
            return None
        if file_id(info) == self._file_id or _version(info) == self._refused:
            return None
        if not stat.S_ISREG(info.st_mode):
            self._refuse(info, why_not_regular(info.st_mode))
            return None
        return info

    def _open_next(self) -> bool:
        """Switch to the new regular file at the path, if there is one."""
        seen = self._next_file()
        if seen is None:
            return False
        try:
            fd = os.open(self.path, READ_FLAGS)
        except FileNotFoundError:
            return False  # removed since
        except OSError as exc:
            self._refuse(seen, f"cannot open it: {exc.strerror}")
            return False
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # replaced since
            os.close(fd)
            self._refuse(info, why_not_regular(info.st_mode))
            return False
        previous = self._file_id
        self.close()
        self._fd, self._file_id = fd, file_id(info)
        if previous is not None:
            self._start_over(f"{self.path} was removed or replaced: reading the new file there from its start")
        return True

    def _start_over(self, why: str) -> None:
        os.lseek(self._fd, 0, os.SEEK_SET)
        self.position = 0
        self.restarts += 1
        self.warn(why)

    def _refuse(self, info: os.stat_result, why: str) -> None:
        """Warn once about what the path names now, and never open it."""
        self._refused = _version(info)
        self.warn(f"not following {self.path}: {why}")

    def __enter__(self) -> FileTailer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
