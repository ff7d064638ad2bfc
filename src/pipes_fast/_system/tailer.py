"""Follows a file the external process appends messages to.

One source for both hot-path implementations: waiting on a file is I/O-bound, and compiling it
gains nothing. On Linux a waiting tailer is woken by inotify (:mod:`pipes_fast._system.wake`); elsewhere,
with ``PIPES_FAST_NO_INOTIFY=1``, or where inotify fails, it polls.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from typing import Callable, Optional

from pipes_fast._system.files import READ_FLAGS, FileId, file_id, why_not_regular
from pipes_fast._system.wake import DirectoryWatch

_POLL_SECONDS = (0.001, 0.05)
"""A polling wait's first sleep, and the longest it doubles to."""
_SAFETY_POLL_SECONDS = (0.5, 2.0)
"""A watched wait's first look without being woken, and the longest it doubles to: an idle reader
wakes every 2 s (each such look costs 0.1-0.4 ms of CPU here, twice the wake-up of a bare thread).
A change such a look finds that inotify did not report (a write over NFS from another host, to a
file renamed into another folder) makes the tailer poll from then on: it is noticed within 500 ms
of the last data, 2 s at worst, and what follows as a polling tailer notices it."""

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

    ``wait`` blocks until there is more to read, ``stop`` is called, or the timeout passes. On
    Linux it is woken by inotify on the file's directory as soon as the file changes, and looks
    again after 500 ms, doubling up to 2 s, for changes inotify cannot see (finding one, it polls
    from then on); elsewhere, with ``PIPES_FAST_NO_INOTIFY=1`` in the environment when a wait
    first arms the watch, or where inotify fails, it polls with a sleep that starts at 1 ms and
    doubles up to 50 ms. Either way it never spins. The watch (two descriptors) is made by the
    first ``wait`` and closed by ``close``; a ``wait`` after that makes a new one. Reads are
    ``chunk_bytes`` at a time: small enough that the messages decoded from one read are dispatched
    before the garbage collector's first generation fills up, which keeps decoding at full speed.
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
        self._watch: Optional[DirectoryWatch] = None
        self._polling = False
        """True once a wait found inotify unavailable, or blind to this file: later waits poll
        without trying it again (until ``close``)."""
        self._watch_lock = threading.Lock()
        """Held to replace ``_watch`` and to wake it: ``stop`` never writes to a closed descriptor."""

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def watched(self) -> bool:
        """True if inotify wakes a ``wait`` now (False: it polls)."""
        watch = self._watch
        return watch is not None and watch.watching

    def stop(self) -> None:
        """Wake any ``wait`` now and make later ones return at once; safe from any thread."""
        self._stop.set()
        with self._watch_lock:
            if self._watch is not None:
                self._watch.wake()

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
        deadline = None if timeout is None else time.monotonic() + timeout
        watch = self._watch if self._watch is not None or self._polling else self._arm()
        delay = 0.0
        timed_out = False
        while True:
            watched = watch if watch is not None and watch.prepare() else None  # before the check: none missed
            if self._ready():
                if timed_out and watched is not None:
                    self._poll_instead(watched)
                return True
            if self._stop.is_set():
                return False
            shortest, longest = _POLL_SECONDS if watched is None else _SAFETY_POLL_SECONDS
            delay = seconds = min(max(delay * 2, shortest), longest)
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                seconds = min(seconds, remaining)
            if watched is not None:
                timed_out = not watched.block(seconds)
            else:
                self._stop.wait(seconds)

    def fileno(self) -> int:
        """The descriptor of the file being read, or -1 before one was opened."""
        return self._fd

    def close(self) -> None:
        """Close the file being read and the watch; a later ``read`` follows a new file at the path,
        a later ``wait`` watches again."""
        with self._watch_lock:
            watch, self._watch, self._polling = self._watch, None, False
        try:
            if watch is not None:
                watch.close()
        finally:
            self._close_file()

    def __del__(self) -> None:
        if hasattr(self, "_watch_lock"):  # not set if __init__ failed
            self.close()

    def _arm(self) -> Optional[DirectoryWatch]:
        """A watch on the path's directory for the first ``wait``, or None to poll."""
        if self._stop.is_set():
            return None  # the wait returns at once: no descriptors to make
        watch = DirectoryWatch.open(self.path)
        with self._watch_lock:
            self._watch, self._polling = watch, watch is None
        return watch

    def _poll_instead(self, watch: DirectoryWatch) -> None:
        """A look after a block that ran out found a change inotify never reported: poll from now on."""
        _log.info("[pipes] inotify does not see the changes to %s (a network filesystem?): polling it", self.path)
        with self._watch_lock:
            self._watch, self._polling = None, True
        watch.close()

    def _close_file(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

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
        self._close_file()
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
