"""Follows a file the external process appends messages to.

One source for both hot-path implementations: waiting on a file is I/O-bound, and compiling it
gains nothing. On Linux a waiting tailer is woken by the process's one inotify watcher
(:mod:`pipes_fast._system.wake`); elsewhere, with ``PIPES_FAST_NO_INOTIFY=1``, or where inotify
fails, it polls.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
import weakref
from typing import Callable, Optional

from pipes_fast._system.files import READ_FLAGS, FileId, file_id, why_not_regular
from pipes_fast._system.wake import Subscription, disabled

_POLL_SECONDS = (0.001, 0.05)
"""A polling wait's first sleep, and the longest it doubles to."""
_SAFETY_POLL_SECONDS = (0.5, 2.0)
"""A watched wait's first look without being woken, and the longest it doubles to: an idle reader
looks every 2 s (each such look costs 0.1-0.4 ms of CPU here, twice the wake-up of a bare thread).
A change such a look finds that inotify did not report (a write over NFS from another host, to a
file renamed into another folder) makes the tailer poll from then on: it is noticed within 500 ms
of the last data, 2 s at worst, and what follows as a polling tailer notices it."""

_log = logging.getLogger(__name__)


def _wake_waiter_of(tailer: Optional[FileTailer]) -> None:
    if tailer is not None:
        tailer._wake_waiter()


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

    A waiter either blocks in :meth:`wait`, or calls :meth:`look` and, when told to wait, waits for
    its callback or the time :meth:`look` gives, whichever comes first (a reader on a pool does,
    holding no thread while it waits). On Linux the process's inotify watcher calls back as soon
    as the file changes, and the waiter looks again after 500 ms, doubling up to 2 s, for changes
    inotify cannot see (finding one, the tailer polls from then on); elsewhere, with
    ``PIPES_FAST_NO_INOTIFY=1`` in the environment when a look first subscribes, or where inotify
    fails, it polls with a delay that starts at 1 ms and doubles up to 50 ms. Either way it never
    spins. The subscription is made by the first look and ended by ``close``; a look after that
    subscribes again. Reads are ``chunk_bytes`` at a time: small enough that the messages decoded
    from one read are dispatched before the garbage collector's first generation fills up, which
    keeps decoding at full speed.
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
        self._subscription: Optional[Subscription] = None
        self._polling = False
        """True once a look found inotify disabled, or blind to this file: later looks poll
        without trying it again (until ``close``)."""
        self._waiter: Optional[Callable[[], object]] = None
        self._delay = 0.0
        self._waited_watched = False
        """True if the last look that found nothing was watched: a wait after it that runs out
        is a safety look, and a change it finds was not reported."""
        self._woken = threading.Event()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def watched(self) -> bool:
        """True if inotify wakes a waiter now (False: it polls)."""
        subscription = self._subscription
        return subscription is not None and subscription.watching

    def stop(self) -> None:
        """Wake the waiter now and make later waits return at once; safe from any thread."""
        self._stop.set()
        self._wake_waiter()

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

    def look(self, waiter: Callable[[], object], timed_out: bool = False) -> Optional[float]:
        """None if ``read`` has something (new data, a truncated file, a new file at the path).
        Otherwise ``waiter`` is called (on another thread; it must be quick) after the next change
        or :meth:`stop`, and the result is how many seconds to wait at most before looking again.
        ``timed_out`` says the last wait ended without a call: a change found now was not reported."""
        self._waiter = waiter
        subscription = self._subscribe()
        watched = subscription is not None and subscription.arm(self._fd)  # before the check: none missed
        unreported = timed_out and watched and self._waited_watched  # a watched wait ran out
        if self._ready():
            self._delay, self._waited_watched = 0.0, False
            if unreported:
                self._poll_instead()
            return None
        shortest, longest = _SAFETY_POLL_SECONDS if watched else _POLL_SECONDS
        self._delay = min(max(self._delay * 2, shortest), longest)
        self._waited_watched = watched
        return self._delay

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Wait until ``read`` has something (new data, a truncated file, a new file at the path);
        True if so, False on stop or timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._delay = 0.0
        timed_out = False
        woken = self._woken
        while True:
            woken.clear()
            seconds = self.look(woken.set, timed_out)
            if seconds is None:
                return True
            if self._stop.is_set():
                return False
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                seconds = min(seconds, remaining)
            timed_out = not woken.wait(seconds)

    def fileno(self) -> int:
        """The descriptor of the file being read, or -1 before one was opened."""
        return self._fd

    def close(self) -> None:
        """Close the file being read and the subscription; a later ``read`` follows a new file at the
        path, a later look subscribes again."""
        subscription, self._subscription, self._polling = self._subscription, None, False
        try:
            if subscription is not None:
                subscription.close()
        finally:
            self._close_file()

    def __del__(self) -> None:
        if hasattr(self, "_woken"):  # not set if __init__ failed
            self.close()

    def _subscribe(self) -> Optional[Subscription]:
        """The subscription a look arms, or None to poll."""
        if self._subscription is None and not self._polling:
            if self._stop.is_set():
                return None  # the wait returns at once: no watch to make
            if disabled():
                self._polling = True
                return None
            tailer = weakref.ref(self)  # a tailer forgotten while watched still goes away (and closes)
            self._subscription = Subscription(self.path, lambda: _wake_waiter_of(tailer()))
        return self._subscription

    def _wake_waiter(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            waiter()

    def _poll_instead(self) -> None:
        """A look after a wait that ran out found a change inotify never reported: poll from now on."""
        _log.info("[pipes] inotify does not see the changes to %s (a network filesystem?): polling it", self.path)
        subscription, self._subscription, self._polling = self._subscription, None, True
        if subscription is not None:
            subscription.close()

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
