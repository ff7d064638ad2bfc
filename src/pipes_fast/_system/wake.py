"""Wakes a thread waiting for a file to change, as soon as it changes: inotify on its directory.

One source for both hot-path implementations. :meth:`DirectoryWatch.open` gives None where
inotify is not to be used: not Linux, ``PIPES_FAST_NO_INOTIFY=1`` in the environment (read on
each open), or inotify failed (no inotify in libc, too many inotify instances or watches, ...;
warned once per process and reason); the caller then polls. ``ctypes`` (a few ms to import) is
imported on the first open, not with the package.

The directory is watched, not the file: the file may not exist yet, or be replaced, renamed or
truncated, and the directory sees all of that, and writes to a file of its own even once
removed. What it cannot see (a file renamed into another directory, writes over NFS from another
host) is for the caller to notice by looking again now and then, woken or not.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import select
import struct
import sys
import threading
from typing import Any, Optional

_IN_MODIFY, _IN_ATTRIB, _IN_MOVED_FROM, _IN_MOVED_TO, _IN_CREATE, _IN_DELETE = 0x2, 0x4, 0x40, 0x80, 0x100, 0x200
_IN_DELETE_SELF, _IN_MOVE_SELF, _IN_IGNORED, _IN_ONLYDIR = 0x400, 0x800, 0x8000, 0x1000000
_MASK = (
    _IN_MODIFY | _IN_ATTRIB | _IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE | _IN_DELETE | _IN_DELETE_SELF | _IN_MOVE_SELF
)
"""Writes (truncation too), attribute changes, and names coming and going in the directory; the
directory itself moved or removed."""
_LOST = _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_IGNORED
"""Events after which the watch no longer watches the directory the path names."""
_NOT_THERE = (errno.ENOENT, errno.ENOTDIR)
"""Errors of adding the watch that mean the directory is not there (yet): tried again later."""
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len (then len bytes of name)
_READ_BYTES = 64 * 1024

MAX_IDLE = 8
"""Closed watches whose inotify instance and eventfd are kept for the next one: closing an inotify
instance takes the kernel about 80 µs here, a tenth of a whole session around a trivial process."""

_libc: Any = None
_warned: set[str] = set()
_log = logging.getLogger(__name__)
_idle: list[tuple[int, int]] = []
"""(inotify instance, eventfd) pairs of closed watches, watching nothing, the eventfd at zero."""
_idle_lock = threading.Lock()


def disabled() -> bool:
    """True if inotify is not to be used: not Linux, or ``PIPES_FAST_NO_INOTIFY`` set (not "0")."""
    return sys.platform != "linux" or os.environ.get("PIPES_FAST_NO_INOTIFY", "") not in ("", "0")


def _call(name: str, *args: object) -> int:
    """Call libc's ``name``; its result, or OSError from errno."""
    global _libc
    import ctypes

    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    result: int = getattr(_libc, name)(*args)
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def _new_descriptors() -> Optional[tuple[int, int]]:
    """A new inotify instance and eventfd; None (and a warning) if either cannot be made."""
    try:
        inotify_fd = _call("inotify_init1", os.O_NONBLOCK | os.O_CLOEXEC)
    except (ImportError, AttributeError, OSError) as exc:  # no ctypes, no inotify in libc, a limit
        _fall_back(f"inotify is not available ({exc})")
        return None
    try:
        wake_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
    except OSError as exc:
        os.close(inotify_fd)
        _fall_back(f"no eventfd to wake a waiting reader ({exc})")
        return None
    return inotify_fd, wake_fd


def close_idle() -> None:
    """Close the inotify instances and eventfds kept for the next watches."""
    with _idle_lock:
        idle = _idle[:]
        _idle.clear()
    for fds in idle:
        for fd in fds:
            os.close(fd)


def _after_fork_in_child() -> None:
    """The kept descriptors are the parent's instances too: a forked child closes its copies."""
    global _idle_lock
    _idle_lock = threading.Lock()  # a thread of the parent may have held it at the fork
    close_idle()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _fall_back(why: str) -> None:
    """Say once per process and reason that file readers poll instead of being woken."""
    if why not in _warned:
        _warned.add(why)
        _log.warning("[pipes] %s: message files are polled instead", why)


class DirectoryWatch:
    """An inotify instance watching the directory of ``path``, and an eventfd for :meth:`wake`.

    The caller calls :meth:`prepare`, checks whether what it waits for has happened, and if not
    calls :meth:`block`: a change made after ``prepare`` ends the block at once, so none is missed.
    Not thread-safe, but for :meth:`wake`, which must not run at the same time as :meth:`close`.
    """

    def __init__(self, inotify_fd: int, wake_fd: int, directory: str) -> None:
        self._fd = inotify_fd
        self._wake_fd = wake_fd
        self._directory = os.fsencode(directory)
        self._wd = -1
        self._broken = False
        self._poll = select.poll()
        self._poll.register(inotify_fd, select.POLLIN)
        self._poll.register(wake_fd, select.POLLIN)

    @classmethod
    def open(cls, path: str) -> Optional[DirectoryWatch]:
        """Watch the directory of ``path``; None if inotify is disabled or failed."""
        if disabled():
            return None
        with _idle_lock:
            fds = _idle.pop() if _idle else _new_descriptors()
        if fds is None:
            return None
        watch = cls(*fds, os.path.dirname(path) or ".")
        watch.prepare()
        if watch._broken:
            watch.close()
            return None
        return watch

    @property
    def watching(self) -> bool:
        """True if a change in the directory ends :meth:`block` now (False: it is not there)."""
        return self._wd >= 0

    def prepare(self) -> bool:
        """Forget the changes seen so far and watch the directory again if it was lost (moved,
        removed); True if a change from now on ends :meth:`block` at once."""
        lost = False
        while True:
            try:
                events = os.read(self._fd, _READ_BYTES)
            except BlockingIOError:
                break
            lost = lost or self._lost(events)
        if lost:
            self._unwatch()
        if self._wd < 0 and not self._broken:
            self._watch()
        return self._wd >= 0

    def block(self, seconds: float) -> bool:
        """Return after a change since :meth:`prepare`, a :meth:`wake`, or ``seconds``; False if
        the time ran out."""
        return bool(self._poll.poll(math.ceil(seconds * 1000)))

    def wake(self) -> None:
        """End a :meth:`block` now, and every later one at once."""
        os.eventfd_write(self._wake_fd, 1)

    def close(self) -> None:
        """Stop watching (once; later calls do nothing): the inotify instance and the eventfd are
        kept for the next watch, up to :data:`MAX_IDLE` of them, or closed."""
        if self._fd < 0:
            return
        self._unwatch()
        try:
            os.eventfd_read(self._wake_fd)  # back to zero, or the next block would never block
        except BlockingIOError:
            pass
        fds, self._fd, self._wake_fd = (self._fd, self._wake_fd), -1, -1
        with _idle_lock:
            if len(_idle) < MAX_IDLE:
                _idle.append(fds)
                return
        for fd in fds:
            os.close(fd)

    def __del__(self) -> None:
        if getattr(self, "_wake_fd", -1) >= 0:  # not set if __init__ failed
            self.close()

    def _watch(self) -> None:
        try:
            self._wd = _call("inotify_add_watch", self._fd, self._directory, _MASK | _IN_ONLYDIR)
        except OSError as exc:
            if exc.errno not in _NOT_THERE:
                self._broken = True
                _fall_back(f"cannot watch a directory with inotify ({exc})")

    def _unwatch(self) -> None:
        if self._wd >= 0:
            try:
                _call("inotify_rm_watch", self._fd, self._wd)
            except OSError:
                pass  # removed with the directory already
            self._wd = -1

    def _lost(self, events: bytes) -> bool:
        """True if ``events`` (read from the instance) say the directory watched is not the path's any more."""
        offset = 0
        while offset < len(events):
            wd, mask, _, length = _EVENT.unpack_from(events, offset)
            if wd == self._wd and mask & _LOST:
                return True
            offset += _EVENT.size + length
        return False
