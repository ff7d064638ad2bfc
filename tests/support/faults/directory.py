"""A directory message store with the faults of :mod:`faults.proxy`, for
``PipesDirectoryMessageReader`` and the directory chunk writers.

Real filesystem behaviour where a local filesystem can give it:

- outage (:meth:`FaultyDirectory.down`, :meth:`~FaultyDirectory.outage`): the directory the reader
  was given is renamed away (or replaced by a regular file) and moved back: both sides see the
  store vanish, with everything under it (the reader's per-session sub-directories too);
- a write that fails (:meth:`~FaultyDirectory.block_chunk`): a directory sits where the writer puts a
  chunk, so writing it fails (``IsADirectoryError``) until the directory is taken away.

What a local filesystem cannot do on demand (a read that fails once, hangs, or is slow) is done by
:class:`FaultyDirectoryMessageReader`, a subclass of the reader whose download hook raises, blocks
or sleeps: those faults are the reader's only, and a slow writer is not simulated at all.
"""

from __future__ import annotations

import errno
import os
import shutil
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Optional

from pipes_fast import PipesDirectoryMessageReader
from pipes_fast.protocol import PipesParams
from support.faults.schedule import Scheduler


class FaultyDirectory:
    """The directory ``root`` (created if missing) as a message store with faults; a context
    manager that stops every fault and puts the directory back at its end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.away = root.with_name(root.name + ".away")
        self.schedule = Scheduler(f"directory {root.name}")
        self.failing_reads: dict[int, int] = {}
        """Chunk number -> how many more reads of it raise (the reader's side)."""
        self.read_delay = 0.0
        """Seconds each chunk read waits first (the reader's side)."""
        self.blackholed = threading.Event()
        """Set: chunk reads block until the store is closed (the reader's side)."""
        self._outages = 0
        self._lock = threading.Lock()

    # ----- faults -----

    def down(self, how: Literal["missing", "file"] = "missing") -> None:
        """The store is unreachable: the directory renamed away; with ``"file"``, a regular file in its place."""
        with self._lock:
            if self.root.is_dir() and not self.away.exists():
                self.root.rename(self.away)
            if how == "file" and not self.root.exists():
                self.root.write_bytes(b"the store is down\n")

    def restore(self) -> None:
        """The directory back where it was."""
        with self._lock:
            if self.root.is_file():
                self.root.unlink()
            if self.away.is_dir():
                self.away.rename(self.root)

    def outage(self, seconds: float, how: Literal["missing", "file"] = "missing") -> None:
        """:meth:`down` now, :meth:`restore` after ``seconds`` (unless a later outage is on then)."""
        self._outages += 1
        this = self._outages

        def end() -> None:
            if this == self._outages:
                self.restore()

        self.down(how)
        self.schedule.after(seconds, end)

    def block_chunk(self, folder: Path, index: int, seconds: float) -> None:
        """Writing chunk ``index`` into ``folder`` fails from now until ``seconds`` after chunk
        ``index - 1`` exists there (at once for chunk 1): a directory sits at its path meanwhile."""
        blocker = folder / f"{index}.json"
        blocker.mkdir()
        previous = folder / f"{index - 1}.json"
        self.schedule.when(
            lambda: index == 1 or previous.is_file(),
            lambda: self.schedule.after(seconds, lambda: shutil.rmtree(blocker, ignore_errors=True)),
        )

    def fail_read(self, index: int, times: int = 1) -> None:
        """The reader's next ``times`` reads of chunk ``index`` raise an I/O error."""
        self.failing_reads[index] = times

    def slow(self, delay: float) -> None:
        """Every chunk read waits ``delay`` seconds first."""
        self.read_delay = delay

    def blackhole(self) -> None:
        """Chunk reads from now on never return (until :meth:`close`)."""
        self.blackholed.set()

    # ----- what is there -----

    def chunks(self, folder: Path) -> dict[int, bytes]:
        """The chunks in ``folder`` now, by number."""
        return {
            int(path.stem): path.read_bytes()
            for path in folder.glob("*.json")
            if path.stem.isdigit() and path.is_file()
        }

    def reader(self, **kwargs: Any) -> FaultyDirectoryMessageReader:
        """A reader of this store (``path=root``) that these faults reach."""
        return FaultyDirectoryMessageReader(self, path=str(self.root), **kwargs)

    # ----- life -----

    def close(self) -> None:
        """Every fault stopped, every blocked read released, the directory back."""
        self.schedule.close()
        self.restore()

    def __enter__(self) -> FaultyDirectory:
        return self

    def __exit__(
        self, kind: Optional[type[BaseException]], error: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        self.close()


class FaultyDirectoryMessageReader(PipesDirectoryMessageReader):
    """``PipesDirectoryMessageReader`` whose chunk downloads go through the store's reader-side faults.

    A local filesystem cannot make one read fail, hang or crawl on demand, so this hook does it:
    a failing read raises ``OSError(EIO)`` (a transient store error), a black-holed read waits
    until the store is closed (then raises), a slow read sleeps first. Everything else is the real
    reader on the real directory.
    """

    def __init__(self, store: FaultyDirectory, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store = store

    def download_messages_chunk(self, index: int, params: PipesParams) -> Optional[bytes]:
        store = self.store
        if store.blackholed.is_set():
            store.schedule.closing.wait()
            raise OSError(errno.ETIMEDOUT, "the black-holed read was released when the store closed")
        if store.read_delay:
            time.sleep(store.read_delay)
        if store.failing_reads.get(index, 0) > 0:
            store.failing_reads[index] -= 1
            raise OSError(errno.EIO, "injected I/O error", os.path.join(params["path"], f"{index}.json"))
        return super().download_messages_chunk(index, params)
