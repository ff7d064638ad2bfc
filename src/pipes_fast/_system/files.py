"""Files that may hold secrets: owner-only, created without following links, never blocking."""

from __future__ import annotations

import itertools
import os
import shutil
import stat
import tempfile
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Optional

from pipes_fast._system.fdio import write_all
from pipes_fast.errors import PipesError

FileId = tuple[int, int]
"""A file's identity: ``(st_dev, st_ino)``."""

READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
"""How a file the other side wrote is opened for reading: a link is not followed, a FIFO never blocks."""

_KINDS = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISREG, "a regular file"),
)


def describe(mode: int) -> str:
    """What kind of file ``mode`` (an ``st_mode``) is, in words: "a symbolic link", "a FIFO", ..."""
    return next((name for is_kind, name in _KINDS if is_kind(mode)), "a special file")


def why_not_regular(mode: int) -> str:
    """Why a file of mode ``mode`` is refused: "it is a FIFO, not a regular file"."""
    return f"it is {describe(mode)}, not a regular file"


def file_id(info: os.stat_result) -> FileId:
    """The identity of the file ``info`` describes."""
    return info.st_dev, info.st_ino


def open_private_file(path: str, data: bytes = b"", *, what: str, exclusive: bool = False) -> int:
    """Create ``path`` readable and writable by its owner only, holding ``data``; return a
    descriptor open on it for writing (the caller closes it).

    A symbolic link at ``path`` is never followed and a FIFO never blocks: anything but a regular
    file is refused with a :class:`PipesError` naming ``what`` (e.g. "message file"), the path and
    what is there. An existing regular file is truncated, or refused if ``exclusive``.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags | (os.O_EXCL if exclusive else 0), 0o600)
    except OSError as exc:
        raise PipesError(_cannot_create(path, what, exc)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PipesError(_not_regular(path, what, info.st_mode))
        os.ftruncate(fd, 0)  # only now: truncating is safe once fstat shows a regular file
        os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
        write_all(fd, data)
    except BaseException:
        os.close(fd)
        raise
    return fd


def temp_private_file(prefix: str, data: bytes = b"") -> tuple[int, str]:
    """Create a file of a fresh name in the temporary folder, owner-only, holding ``data``; return a
    descriptor open on it and its path (the caller closes and removes it: see :func:`removed_on_exit`).

    Its name is new (``O_EXCL``) and links are not followed, as ``tempfile.mkstemp`` does; a
    temporary folder is sticky, so no one else can replace the file once it is there.
    """
    fd, path = tempfile.mkstemp(prefix=prefix)
    try:
        write_all(fd, data)
    except BaseException:
        os.close(fd)
        os.remove(path)
        raise
    return fd, path


class PrivateFolder:
    """An owner-only temporary folder for one process's files, made when first needed.

    It is removed when this object goes away, or at interpreter exit, by the process that made it
    (not by a forked child), and made again if something removed it meanwhile. Making and removing a
    folder costs more than the file in it (about 0.1 ms on ext4), so sessions share one.
    """

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._path: Optional[str] = None
        self._numbers = itertools.count(1)

    def new_path(self, stem: str) -> str:
        """A path in the folder that no other call, in this process or a fork of it, returns."""
        path = self._path
        if path is None or not os.path.isdir(path):
            path = self._path = tempfile.mkdtemp(prefix=self._prefix)
            weakref.finalize(self, _remove_folder, path, os.getpid())
        return os.path.join(path, f"{stem}-{os.getpid()}-{next(self._numbers)}")


def _remove_folder(path: str, owner: int) -> None:
    if os.getpid() == owner:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def removed_on_exit(path: str, fd: int) -> Iterator[None]:
    """Close ``fd`` after the block and remove ``path`` if it still names that file."""
    try:
        yield
    finally:
        try:
            remove_if_same(path, fd)
        finally:
            os.close(fd)


def remove_if_same(path: str, fd: int) -> None:
    """Remove ``path`` if it still names the file open as ``fd``; leave whatever replaced it, and do
    nothing if it is gone. The open descriptor keeps the file's inode from being reused, so a
    replacement is never taken for it (one made between the check and the removal is not seen)."""
    try:
        if file_id(os.lstat(path)) == file_id(os.fstat(fd)):
            os.remove(path)
    except FileNotFoundError:
        pass


def _cannot_create(path: str, what: str, exc: OSError) -> str:
    """Why ``open`` failed: what is at ``path`` if that is not a regular file, else the OS's reason."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        mode = None
    if mode is None or stat.S_ISREG(mode):
        return f"cannot create the {what} {path}: {exc.strerror}"
    return _not_regular(path, what, mode)


def _not_regular(path: str, what: str, mode: int) -> str:
    why = "; pipes_fast does not follow links to write its files" if stat.S_ISLNK(mode) else ""
    return f"refusing to use {path} as the {what}: {why_not_regular(mode)}{why}"
