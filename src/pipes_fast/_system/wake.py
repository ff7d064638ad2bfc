"""The process's one waiting mechanism: an inotify instance and a thread that wakes the waiter of
the file that changed, and runs timers.

Every file tailer of the process shares them (:func:`watcher`): a write wakes only the reader of
its own file, the per-user inotify limit (128 instances by default) bounds processes, not
sessions, and the work grows with the messages, not with the square of the sessions. A
:class:`Subscription` watches two things for its waiter, who arms it before each look at the file:

- the file's folder, for names coming and going (the file created, removed, renamed or replaced)
  and the folder itself moved or removed; one watch per folder, shared by its subscriptions;
- the open file itself, one-shot (``IN_ONESHOT``), for writes and truncation: a write raises one
  event per arming, not one per write, and a folder full of busy files costs its watcher nothing
  while their readers are busy reading (the folder watch asks for no event on its files' data).

Where inotify is not to be used (not Linux, ``PIPES_FAST_NO_INOTIFY=1`` in the environment, read
on each arming) or fails (no inotify in libc, the instance or watch limit reached; warned once per
process and reason), a subscription is not ``watching`` and its waiter polls. ``ctypes`` (a few
ms to import) is imported with the watcher, not with the package. What inotify cannot see (a file
renamed into another folder, writes over NFS from another host) is for the waiter to notice by
looking again now and then, woken or not.
"""

from __future__ import annotations

import errno
import heapq
import itertools
import logging
import os
import select
import struct
import sys
import threading
import time
from typing import Callable, Optional

_IN_MODIFY, _IN_MOVED_FROM, _IN_MOVED_TO, _IN_CREATE, _IN_DELETE = 0x2, 0x40, 0x80, 0x100, 0x200
_IN_DELETE_SELF, _IN_MOVE_SELF, _IN_UNMOUNT, _IN_Q_OVERFLOW, _IN_IGNORED = 0x400, 0x800, 0x2000, 0x4000, 0x8000
_IN_ONLYDIR, _IN_ONESHOT = 0x1000000, 0x80000000
_FOLDER_MASK = _IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE | _IN_DELETE | _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_ONLYDIR
"""Names coming and going in the folder, and the folder itself moved or removed: no event on its
files' data, so writes to them do not even look at the folder's watch."""
_FILE_MASK = _IN_MODIFY | _IN_ONESHOT
"""Writes and truncation, once: the watch goes after its first event and is made again at the next arming."""
_LOST = _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_UNMOUNT | _IN_IGNORED
"""Events after which a folder watch no longer watches the folder its path names."""
_NOT_THERE = (errno.ENOENT, errno.ENOTDIR)
"""Errors of adding a watch that mean the folder or file is not there (any more): tried again later."""
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len (then len bytes of name)
_READ_BYTES = 64 * 1024
RETRY_INSTANCE_SECONDS = 30.0
"""How long a process whose inotify instance could not be made (a limit) polls before trying again."""

_log = logging.getLogger(__name__)
_warned: set[str] = set()


def disabled() -> bool:
    """True if inotify is not to be used: not Linux, or ``PIPES_FAST_NO_INOTIFY`` set (not "0")."""
    return sys.platform != "linux" or os.environ.get("PIPES_FAST_NO_INOTIFY", "") not in ("", "0")


def _fall_back(why: str) -> None:
    """Say once per process and reason that file readers poll instead of being woken."""
    if why not in _warned:
        _warned.add(why)
        _log.warning("[pipes] %s: message files are polled instead", why)


class _Libc:
    """libc's inotify calls, raising OSError from errno."""

    def __init__(self) -> None:
        import ctypes

        self._ctypes = ctypes
        self._libc = ctypes.CDLL(None, use_errno=True)

    def call(self, name: str, *args: object) -> int:
        result: int = getattr(self._libc, name)(*args)
        if result < 0:
            code = self._ctypes.get_errno()
            raise OSError(code, os.strerror(code))
        return result


_libc: Optional[_Libc] = None


def _call(name: str, *args: object) -> int:
    """Call libc's ``name``; its result, or OSError from errno (ImportError/AttributeError: no inotify)."""
    global _libc
    if _libc is None:
        _libc = _Libc()
    return _libc.call(name, *args)


class Timer:
    """A call the watcher's thread makes at a time to come, unless cancelled first."""

    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], object]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
        self.callback = _nothing  # what it would call is not kept alive until its time


class Watcher:
    """The inotify instance (-1 if there is none) and the thread that reads it and runs the timers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fd = -1
        self._wake_read, self._wake_write = os.pipe()
        for fd in (self._wake_read, self._wake_write):
            os.set_blocking(fd, False)
        self._folders: dict[int, dict[bytes, set[Subscription]]] = {}
        """Folder watches: the subscriptions of each name in the folder."""
        self._files: dict[int, set[Subscription]] = {}
        """One-shot watches on open files: their subscriptions."""
        self._timers: list[tuple[float, int, Timer]] = []
        self._order = itertools.count()
        self._poll = select.poll()
        self._poll.register(self._wake_read, select.POLLIN)
        self._polled_fd = -1
        """The instance as the thread's poll knows it: registered by the thread, between polls."""
        self._retry_at = 0.0
        threading.Thread(target=self._serve, name="pipes_fast watcher", daemon=True).start()

    def ensure_instance(self) -> bool:
        """True if the process has its inotify instance, made now if need be. A failure for a
        limit (the user's instances used up) is tried again :data:`RETRY_INSTANCE_SECONDS` later;
        no inotify at all, never."""
        if self._fd >= 0:
            return True
        with self._lock:
            if self._fd >= 0:
                return True
            if time.monotonic() < self._retry_at:
                return False
            try:
                self._fd = _call("inotify_init1", os.O_NONBLOCK | os.O_CLOEXEC)
            except (ImportError, AttributeError) as exc:  # no ctypes, no inotify in libc
                _fall_back(f"inotify is not available ({exc})")
                self._retry_at = float("inf")
                return False
            except OSError as exc:  # a limit
                _fall_back(f"inotify is not available ({exc})")
                self._retry_at = time.monotonic() + RETRY_INSTANCE_SECONDS
                return False
        self._wake()  # its poll takes the instance in
        return True

    def descriptors(self) -> tuple[int, ...]:
        """The descriptors the watcher holds open for the life of the process."""
        return (self._fd, self._wake_read, self._wake_write) if self._fd >= 0 else (self._wake_read, self._wake_write)

    def call_later(self, seconds: float, callback: Callable[[], object]) -> Timer:
        """Call ``callback`` on the watcher's thread in ``seconds``; it must be quick (hand work on)."""
        timer = Timer(callback)
        deadline = time.monotonic() + seconds
        with self._lock:
            heapq.heappush(self._timers, (deadline, next(self._order), timer))
            first = self._timers[0][2] is timer
        if first:
            self._wake()
        return timer

    def _wake(self) -> None:
        try:
            os.write(self._wake_write, b"\0")
        except BlockingIOError:
            pass  # full: the thread wakes anyway

    # ----- watches, for Subscription (under self._lock) -----

    def _add_watch(self, path: bytes, mask: int, what: str) -> int:
        """A watch's descriptor, -1 if the path is not there; -2 (and a warning) if inotify failed."""
        try:
            return _call("inotify_add_watch", self._fd, path, mask)
        except OSError as exc:
            if exc.errno in _NOT_THERE:
                return -1
            _fall_back(f"cannot watch {what} with inotify ({exc})")
            return -2

    def _remove_watch(self, wd: int) -> None:
        try:
            _call("inotify_rm_watch", self._fd, wd)
        except OSError:
            pass  # gone already: its folder removed, its one shot fired

    # ----- the thread -----

    def _serve(self) -> None:
        while True:
            try:
                self._turn()
            except Exception:  # never seen; the thread must outlive it, or every reader waits for its timer
                _log.exception("[pipes] the watcher of message files failed; it goes on")
                time.sleep(0.01)

    def _turn(self) -> None:
        if self._polled_fd != self._fd:
            self._poll.register(self._fd, select.POLLIN)
            self._polled_fd = self._fd
        with self._lock:
            timeout = -1 if not self._timers else max(0, 1000 * (self._timers[0][0] - time.monotonic()))
        for fd, _ in self._poll.poll(timeout if timeout < 0 else int(timeout) + 1):
            if fd == self._fd:
                self._read_events()
            else:
                self._drain_wake_pipe()
        self._run_timers()

    def _drain_wake_pipe(self) -> None:
        try:
            while os.read(self._wake_read, 4096):
                pass
        except BlockingIOError:
            pass

    def _read_events(self) -> None:
        try:
            events = os.read(self._fd, _READ_BYTES)
        except BlockingIOError:
            return
        woken: set[Subscription] = set()
        with self._lock:
            offset = 0
            while offset < len(events):
                wd, mask, _, length = _EVENT.unpack_from(events, offset)
                name = events[offset + _EVENT.size : offset + _EVENT.size + length].rstrip(b"\0")
                offset += _EVENT.size + length
                self._dispatch(wd, mask, name, woken)
        for subscription in woken:
            subscription._fire()

    def _dispatch(self, wd: int, mask: int, name: bytes, woken: set[Subscription]) -> None:
        if mask & _IN_Q_OVERFLOW:  # events were dropped: whoever waits looks again
            for folder in self._folders.values():
                for subscriptions in folder.values():
                    woken.update(subscriptions)
            for subscriptions in self._files.values():
                woken.update(subscriptions)
            return
        if wd in self._files:
            subscriptions = self._files.pop(wd)  # one shot: fired (IN_MODIFY) or gone (IN_IGNORED)
            for subscription in subscriptions:
                if subscription._file_wd == wd:
                    subscription._file_wd = -1
            woken.update(subscriptions)
            return
        names = self._folders.get(wd)
        if names is None:
            return
        if mask & _LOST:
            del self._folders[wd]
            if not mask & _IN_IGNORED:
                self._remove_watch(wd)
            for subscriptions in names.values():
                for subscription in subscriptions:
                    subscription._folder_wd = -1
                woken.update(subscriptions)
        elif name in names:
            woken.update(names[name])

    def _run_timers(self) -> None:
        due: list[Timer] = []
        now = time.monotonic()
        with self._lock:
            while self._timers and self._timers[0][0] <= now:
                due.append(heapq.heappop(self._timers)[2])
        for timer in due:
            if not timer.cancelled:
                _call_back(timer.callback)

    def _close_in_fork(self) -> None:
        """A forked child has the descriptors but not the thread: it closes its copies."""
        for fd in self.descriptors():
            try:
                os.close(fd)
            except OSError:
                pass


def _nothing() -> None:
    pass


def _call_back(callback: Callable[[], object]) -> None:
    try:
        callback()
    except Exception:
        _log.exception("[pipes] a wake-up failed")


class Subscription:
    """A waiter's place in the watcher: ``on_change`` is called (on the watcher's thread; it must be
    quick) after a change to the file at ``path`` that follows an :meth:`arm`.

    The waiter calls :meth:`arm`, checks whether what it waits for has happened, and if not waits
    for ``on_change``: a change made after ``arm`` calls it, so none is missed. ``on_change`` may
    also be called for a change the waiter has already seen.
    """

    def __init__(self, path: str, on_change: Callable[[], object]) -> None:
        self._watcher = watcher()
        folder, name = os.path.split(path)
        self._folder = os.fsencode(folder or ".")
        self._name = os.fsencode(name)
        self._on_change = on_change
        self._folder_wd = -1
        self._file_wd = -1
        self._broken = False
        self._closed = False
        self._watching = False

    @property
    def watching(self) -> bool:
        """True if the last :meth:`arm` watched: a change after it calls ``on_change``."""
        return self._watching

    def arm(self, fd: int) -> bool:
        """Watch for the next change: the folder (again, if it was lost), and the file open as ``fd``
        (-1: none yet) for its next write; True if such a change from now on calls ``on_change``."""
        self._watching = False
        if self._broken or self._closed or disabled() or not self._watcher.ensure_instance():
            return False
        watcher = self._watcher
        with watcher._lock:
            if self._folder_wd < 0:
                wd = watcher._add_watch(self._folder, _FOLDER_MASK, "a folder")
                if wd == -2:
                    self._broken = True
                    return False
                if wd >= 0:
                    self._folder_wd = wd
                    watcher._folders.setdefault(wd, {}).setdefault(self._name, set()).add(self)
            if fd >= 0 and self._folder_wd >= 0:
                wd = watcher._add_watch(f"/proc/self/fd/{fd}".encode(), _FILE_MASK, "a message file")
                if wd == -2:
                    self._broken = True
                    self._unwatch()
                    return False
                if wd != self._file_wd:
                    self._leave_file()
                    self._file_wd = wd
                if wd >= 0:
                    watcher._files.setdefault(wd, set()).add(self)
            self._watching = self._folder_wd >= 0
            return self._watching

    _finalizing = staticmethod(sys.is_finalizing)  # kept by the class: module globals go first at exit

    def close(self) -> None:
        """Stop watching (later calls do nothing; a later :meth:`arm` watches no more). Not while
        the interpreter exits: the watcher's daemon thread may have stopped holding its lock, and
        the process's end closes the instance anyway."""
        if self._finalizing():
            return
        with self._watcher._lock:
            self._closed, self._watching = True, False
            self._unwatch()

    def _fire(self) -> None:
        if not self._closed:
            _call_back(self._on_change)

    def _unwatch(self) -> None:
        watcher = self._watcher
        self._leave_file()
        names = watcher._folders.get(self._folder_wd)
        if names is not None:
            subscriptions = names.get(self._name, set())
            subscriptions.discard(self)
            if not subscriptions:
                names.pop(self._name, None)
            if not names:
                del watcher._folders[self._folder_wd]
                watcher._remove_watch(self._folder_wd)
        self._folder_wd = -1

    def _leave_file(self) -> None:
        subscriptions = self._watcher._files.get(self._file_wd)
        if subscriptions is not None:
            subscriptions.discard(self)
            if not subscriptions:
                del self._watcher._files[self._file_wd]
                self._watcher._remove_watch(self._file_wd)
        self._file_wd = -1


_watcher: Optional[Watcher] = None
_watcher_lock = threading.Lock()


def watcher() -> Watcher:
    """The process's watcher, made on first use."""
    global _watcher
    current = _watcher
    if current is None:
        with _watcher_lock:
            if _watcher is None:
                _watcher = Watcher()
            current = _watcher
    return current


def _after_fork_in_child() -> None:
    global _watcher, _watcher_lock
    _watcher_lock = threading.Lock()  # a thread of the parent may have held it at the fork
    if _watcher is not None:
        _watcher._close_in_fork()
        _watcher = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
