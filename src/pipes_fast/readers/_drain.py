"""One session's message file read on the readers' pool: as far as the file goes, then waiting for
its next change while holding no thread."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Callable, Optional

from pipes_fast._logic.flow import RETRY_SECONDS
from pipes_fast._logic.huge import HUGE_LINE_BYTES
from pipes_fast._system import gc as _gc
from pipes_fast._system.pool import SerialTask
from pipes_fast._system.tailer import FileTailer
from pipes_fast._system.wake import Timer, watcher
from pipes_fast.readers.base import MessageStream

if TYPE_CHECKING:
    from pipes_fast.handler import PipesMessageHandler

_log = logging.getLogger(__name__)

HUGE_LINE_READ_BYTES = 32 << 20
"""What the reader asks for at a time while it holds a huge line (``pipes_fast._logic.huge``): glibc's
malloc maps a request this big on its own (the most its dynamic mmap threshold rises to on 64-bit,
mallopt(3)), so the pieces of the line go back to the system once joined, where thousands of
16 kB reads would leave the line's size of freed heap resident."""


class FileDrain:
    """Reads ``tailer``'s file into ``handler`` from now until :meth:`close`, then to its end.

    Each turn runs on the pool (:class:`~pipes_fast._system.pool.SerialTask`): it reads and handles
    what the file holds, then asks the tailer to call back on the next change, with one timer of
    the watcher as the bound of that wait (the tailer's safety look, or its poll). A bounded
    consumer that is behind makes it look again later instead of blocking a pool thread. Once read
    to the end after :meth:`close`, ``handler.flow`` hears of it, and ``clean_up`` runs if the close
    left the rest of the stream to the reader.
    """

    def __init__(
        self, handler: PipesMessageHandler, tailer: FileTailer, source: str, clean_up: Callable[[], None]
    ) -> None:
        self._handler = handler
        self._tailer = tailer
        self._source = source
        self._clean_up = clean_up
        self._stream = MessageStream(handler, source, blocking=False)
        self._restarts = tailer.restarts
        self._chunk_bytes = tailer.chunk_bytes
        self._closing = False
        self._done = threading.Event()
        self._task = SerialTask(self._turn)
        self._lock = threading.Lock()
        self._timer: Optional[Timer] = None
        self._timer_at = 0.0
        self._look_at = 0.0
        """When the current wait ends without a call back (0: not waiting for the timer)."""
        self._called = False
        _gc.relax()
        self._task.schedule()

    def close(self) -> None:
        """The session closes: read what the file holds now, then finish."""
        self._closing = True
        self._tailer.stop()  # calls back: one more turn
        self._task.schedule()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Wait until the file has been read to its end after :meth:`close`; False on timeout."""
        return self._done.wait(timeout)

    def _turn(self) -> None:
        if self._done.is_set():
            return
        try:
            self._read_on()
        except Exception:
            _log.exception("[pipes] the reader of %s failed; messages after this point are lost", self._source)
            self._finish(flush=False)

    def _read_on(self) -> None:
        with self._lock:
            timed_out = self._look_at > 0 and not self._called
            self._look_at = 0.0
        tailer = self._tailer
        while True:
            if not self._handler.flow.has_room():
                self._wait_for(RETRY_SECONDS)
                return
            closing = self._closing  # seen before the read: what was written before is read now
            stream = self._stream
            tailer.chunk_bytes = HUGE_LINE_READ_BYTES if stream.pending >= HUGE_LINE_BYTES else self._chunk_bytes
            data = tailer.read()
            if tailer.restarts != self._restarts:  # a new file, or this one truncated: its torn line ends here
                stream.close()
                self._stream = stream = MessageStream(self._handler, self._source, blocking=False)
                self._restarts = tailer.restarts
            if data:
                lines = stream.frame(data)
                del data  # the last piece of a huge line: not held while the line is decoded
                stream.handle(lines)
                del lines
                continue
            if closing:
                self._finish(flush=True)
                return
            self._called = False
            seconds = tailer.look(self._call_back, timed_out)
            timed_out = False
            if seconds is not None:
                self._wait_for(seconds)
                return

    def _call_back(self) -> None:
        self._called = True
        self._task.schedule()

    def _wait_for(self, seconds: float) -> None:
        """End this turn; the next starts after a call back, or in ``seconds``: one timer at a time."""
        look_at = time.monotonic() + seconds
        with self._lock:
            self._look_at = look_at
            if self._timer is not None and self._timer_at <= look_at:
                return  # it fires first, and waits on for the rest
            if self._timer is not None:
                self._timer.cancel()
            self._timer, self._timer_at = watcher().call_later(seconds, self._timer_fired), look_at

    def _timer_fired(self) -> None:
        with self._lock:
            self._timer = None
            if self._look_at == 0:
                return  # a call back came first; the turn it started waits with a timer of its own
            remaining = self._look_at - time.monotonic()
            if remaining > 0.0005:
                self._timer, self._timer_at = watcher().call_later(remaining, self._timer_fired), self._look_at
                return
        self._task.schedule()

    def _finish(self, flush: bool) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        try:
            if flush:
                self._stream.close()
        finally:
            _gc.restore()
            try:
                if self._handler.flow.reader_finished():
                    self._clean_up()
            finally:
                self._done.set()
