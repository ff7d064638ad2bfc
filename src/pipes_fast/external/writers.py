"""Message writers: where the external process's messages go, and the channels that write them.

A writer's ``open(params)`` gives a channel to use as a context manager; the channel's
``write_message`` sends one message. The default writer picks a file or a standard stream from
the params the orchestration side passed.
"""

from __future__ import annotations

import os
import sys
from abc import ABC, abstractmethod

from pipes_fast._logic.wire import make_message
from pipes_fast.external.errors import DagsterPipesError, DagsterPipesWarning
from pipes_fast.external.validation import param_of_type

TYPE_CHECKING = False  # typing stays unimported at run time: see pipes_fast.external
if TYPE_CHECKING:
    from typing import Any, Callable, ContextManager, Generic, TextIO, TypeVar

    from pipes_fast.external.typed import T_MessageChannel
    from pipes_fast.protocol import PipesExtras, PipesMessage, PipesOpenedData, PipesParams

    T_Channel = TypeVar("T_Channel", bound="PipesMessageWriterChannel")
else:

    class Generic:
        """Run-time stand-in for ``typing.Generic``: ``PipesMessageWriter[Channel]`` still works."""

        __class_getitem__ = classmethod(type(list[int]))  # types.GenericAlias, without importing types

    T_MessageChannel = None

_APPEND = os.O_WRONLY | os.O_APPEND | os.O_CREAT

ORJSON_AFTER = 7_000
"""Messages an unbuffered file channel writes with ``json.dumps``' encoder before it loads the hot
path's appender (compiled: its own encoder; the pure implementation: orjson's). Loading the hot path, which
loads orjson for its readers, took about 15 ms when this was measured with orjson's appender; each
message after saved about 1.7 us (a small custom message) to 3.3 us (a materialization with four
metadata entries), so the load paid for itself after about 8,800 or 4,700 messages. Switching at
7,000 keeps any stream of either kind within about twice the cost of the better of the two ways
for it. ``python bench/goal_external.py`` measures the crossover again."""
FLUSH_INTERVAL = 0.005
"""Seconds a buffered file channel waits, once a message is buffered, before writing the buffer."""
BUFFER_BYTES = 64 * 1024
"""A buffered file channel's buffer: full, it is written at once."""
STOP_TIMEOUT_SECONDS = 5.0
"""How long closing a buffered channel waits for its flush thread to end (it is a daemon)."""
BUFFERED_ENV_VAR = "PIPES_FAST_BUFFERED_WRITER"
"""``1`` makes :class:`PipesDefaultMessageWriter` buffer its file channel unless told otherwise."""


class PipesMessageWriterChannel(ABC):
    """Writes messages back to the orchestration process; a context manager that closes itself."""

    @abstractmethod
    def write_message(self, message: PipesMessage) -> None:
        """Send one message."""

    def close(self) -> None:
        """Release what the channel holds (a file, a buffer to flush); this one holds nothing."""

    def __enter__(self: T_Channel) -> T_Channel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class PipesMessageWriter(ABC, Generic[T_MessageChannel]):
    """Opens the channel that messages go through, from the params of the orchestration side."""

    @abstractmethod
    def open(self, params: PipesParams) -> ContextManager[T_MessageChannel]:
        """A context manager giving the channel to write messages to for the span of the block."""

    def get_opened_payload(self) -> PipesOpenedData:
        """What the ``opened`` message carries; override :meth:`get_opened_extras`, not this."""
        return {"extras": self.get_opened_extras()}

    def get_opened_extras(self) -> PipesExtras:
        """Writer-specific information for the orchestration side, sent with ``opened``."""
        return {}


class PipesFileMessageWriterChannel(PipesMessageWriterChannel):
    """Appends messages to a file, one JSON line each, through a file descriptor it keeps open.

    Unbuffered (the default), every message is a single ``write`` to a file opened with
    ``O_APPEND``: it is in the file when :meth:`write_message` returns (a kill right after loses
    nothing), and messages written at the same time from several threads, or forked processes,
    never interleave. The first :data:`ORJSON_AFTER` messages are written by ``json.dumps``' C
    encoder, so a short stream never loads orjson nor the compiled hot path; then the hot path's
    appender takes over: the compiled one encodes common values itself, the pure one with orjson.
    Either way a line holds what ``json.dumps`` makes of the message: where the fast encoder would
    refuse it or write a different value, the line is ``json.dumps``' (compact; see
    :mod:`pipes_fast.external.serialize`).

    ``buffered=True`` is for processes that send messages by the thousand: lines gather in a buffer
    of ``buffer_bytes``, written with one ``write`` when it is full and by a background thread
    ``flush_interval`` seconds after it became non-empty, on :meth:`flush`, on :meth:`close`,
    before this process forks, and when the interpreter exits. A line longer than the buffer is
    written whole. Lines never interleave and each thread's stay in order. A forked child writes
    each message through (it may leave by ``os._exit``, which runs no exit handlers). The price: a
    process killed outright (SIGKILL, or a signal it does not handle, or ``os._exit``) loses what
    the buffer held, at most the last ``flush_interval`` seconds or ``buffer_bytes`` of messages
    (whole lines; only a kill landing in the middle of a write can cut it short, as with any writer).
    ``PIPES_FAST_BUFFERED_WRITER=1`` makes :class:`PipesDefaultMessageWriter` buffer.
    """

    def __init__(
        self,
        path: str,
        *,
        buffered: bool = False,
        flush_interval: float = FLUSH_INTERVAL,
        buffer_bytes: int = BUFFER_BYTES,
    ) -> None:
        from pipes_fast.external.serialize import write_ascii_line

        self._fd = os.open(path, _APPEND, 0o666)
        self._appender: Any = None
        self._early_left = ORJSON_AFTER
        self._write_ascii_line = write_ascii_line
        self._close_buffered: Callable[[], object] | None = None
        self._when_hot: list[Callable[[Any], object]] = []
        if buffered:
            import weakref

            try:
                flusher = _BackgroundFlush(self._fd, flush_interval, buffer_bytes)
            except BaseException:
                os.close(self._fd)
                raise
            self._appender = flusher.appender
            # runs once: on close(), when the channel is dropped, or at interpreter exit
            self._close_buffered = weakref.finalize(self, _close_flushing, flusher, self._fd)
            self._take_over(self._appender)

    def write_message(self, message: PipesMessage) -> None:
        """Append ``message`` as one line. Once the hot path's appender has taken over, its
        ``append`` is this instance's ``write_message``: no Python frame between the caller and
        the write."""
        appender = self._appender
        if appender is None:
            if self._early_left > 0:
                self._early_left -= 1
                self._write_ascii_line(self._fd, message)
                return
            from pipes_fast.external.serialize import make_appender

            appender = self._appender = make_appender(self._fd)
            self._take_over(appender)
        appender.append(message)

    def _send(self, method: str, params: Any) -> None:
        """Append ``make_message(method, params)``: how :class:`~pipes_fast.external.PipesContext`
        sends through this class's channels. Once the hot path's appender has taken over, its
        ``append_message`` is this instance's ``_send``: the message dict is never built."""
        self.write_message(make_message(method, params))  # type: ignore[arg-type]

    def _take_over(self, appender: Any) -> None:
        """Send every message through ``appender`` from now on, without a Python frame between."""
        self.write_message = appender.append  # type: ignore[method-assign]
        self._send = appender.append_message  # type: ignore[method-assign]
        calls, self._when_hot = self._when_hot, []
        for call in calls:
            call(appender)

    def _on_take_over(self, call: Callable[[Any], object]) -> None:
        """Call ``call(appender)`` once the hot path's appender has taken over (now, if it has)."""
        if self._appender is None:
            self._when_hot.append(call)
        else:
            call(self._appender)

    def flush(self) -> None:
        """Write out the buffered messages now (unbuffered, there are none)."""
        if self._appender is not None:
            self._appender.flush()

    def close(self) -> None:
        """Write out what is buffered and close the file; writing after this raises ``OSError``."""
        fd, self._fd = self._fd, -1
        if fd < 0:
            return
        if self._close_buffered is not None:
            self._close_buffered()
            return
        try:
            if self._appender is not None:
                self._appender.close()
        finally:
            os.close(fd)


class _BackgroundFlush:
    """A buffered appender, and the daemon thread that flushes it ``interval`` seconds after its
    buffer becomes non-empty (it waits for nothing else: no timer runs while nothing is buffered).

    The live ones are flushed before this process forks; in the forked child they write through.
    """

    def __init__(self, fd: int, interval: float, buffer_bytes: int) -> None:
        import threading

        from pipes_fast.external.serialize import make_appender

        if not isinstance(interval, (int, float)):
            raise TypeError(f"flush_interval must be a number of seconds, got {type(interval).__name__}")
        if not interval > 0:
            raise ValueError(f"flush_interval must be positive, got {interval!r}")
        self._interval = interval
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self.appender = make_appender(fd, buffer_bytes, self._wake.set)
        self._thread: threading.Thread | None = threading.Thread(
            target=self._run, name="pipes_fast message flush", daemon=True
        )
        self._thread.start()
        _watch_forks()
        _LIVE.add(self)

    def _run(self) -> None:
        while True:
            self._wake.wait()  # set by the appender when the buffer becomes non-empty, or by stop
            if self._stopped.is_set():
                return
            self._wake.clear()
            self._stopped.wait(self._interval)  # let messages gather: one write per interval
            try:
                self.appender.flush()
            except OSError as exc:  # kept in the buffer: the next flush tries again, close raises
                import warnings

                warnings.warn(
                    f"pipes_fast could not write buffered messages yet: {exc}", DagsterPipesWarning, stacklevel=2
                )

    def stop(self) -> None:
        """Write out what is buffered, refuse further messages, end the thread."""
        import threading

        _LIVE.discard(self)
        thread, self._thread = self._thread, None
        try:
            self.appender.close()
        finally:
            if thread is not None:
                self._stopped.set()
                self._wake.set()
                if thread is not threading.current_thread():  # a finalizer may run in any thread
                    thread.join(STOP_TIMEOUT_SECONDS)

    def after_fork_in_child(self) -> None:
        """Write through from now on; the thread did not come along."""
        self.appender.after_fork_in_child()
        self._thread = None


_LIVE: set[_BackgroundFlush] = set()
_watching_forks = False


def _watch_forks() -> None:
    """Flush every buffered channel before ``os.fork`` (registered once)."""
    global _watching_forks
    if not _watching_forks:
        _watching_forks = True
        os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)


def _before_fork() -> None:
    for flusher in list(_LIVE):
        flusher.appender.flush()


def _after_fork_in_child() -> None:
    for flusher in _LIVE:
        flusher.after_fork_in_child()


def _close_flushing(flusher: _BackgroundFlush, fd: int) -> None:
    try:
        flusher.stop()
    finally:
        os.close(fd)


class PipesStreamMessageWriterChannel(PipesMessageWriterChannel):
    """Writes messages to a text stream as ``json.dumps`` lines (ASCII), flushed as they are written."""

    def __init__(self, stream: TextIO) -> None:
        from pipes_fast.external.serialize import json_line

        self._stream = stream
        self._text = json_line

    def write_message(self, message: PipesMessage) -> None:
        self._stream.write(self._text(message))
        self._stream.flush()


class PipesBufferedStreamMessageWriterChannel(PipesStreamMessageWriterChannel):
    """Keeps messages until :meth:`flush` (or close), then writes them all to a text stream.

    Each message is serialized when written, so a bad one fails at the call that sent it.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._lines: list[str] = []

    def write_message(self, message: PipesMessage) -> None:
        self._lines.append(self._text(message))

    def flush(self) -> None:
        """Write out the messages kept so far."""
        lines, self._lines = self._lines, []
        self._stream.write("".join(lines))
        self._stream.flush()

    def close(self) -> None:
        self.flush()


class PipesDefaultMessageWriter(PipesMessageWriter[PipesMessageWriterChannel]):
    """Writes messages to a file (``{"path": ...}``) or a standard stream (``{"stdio": ...}``,
    ``{"buffered_stdio": ...}``), as the params say.

    With a file, ``"include_stdio_in_messages": true`` also reports what this process and its
    children write to stdout and stderr, as ``log_external_stream`` messages.
    """

    FILE_PATH_KEY = "path"
    STDIO_KEY = "stdio"
    BUFFERED_STDIO_KEY = "buffered_stdio"
    STDERR = "stderr"
    STDOUT = "stdout"
    INCLUDE_STDIO_IN_MESSAGES_KEY = "include_stdio_in_messages"

    def __init__(
        self, *, buffered: bool | None = None, flush_interval: float = FLUSH_INTERVAL, buffer_bytes: int = BUFFER_BYTES
    ) -> None:
        """``buffered``, ``flush_interval`` and ``buffer_bytes`` go to the file channel (see
        :class:`PipesFileMessageWriterChannel`); ``buffered=None`` buffers when the environment
        variable ``PIPES_FAST_BUFFERED_WRITER`` is set to ``1``, so an unchanged script can opt in."""
        self._buffered = os.environ.get(BUFFERED_ENV_VAR, "") not in ("", "0") if buffered is None else buffered
        self._flush_interval = flush_interval
        self._buffer_bytes = buffer_bytes

    def open(self, params: PipesParams) -> PipesMessageWriterChannel:
        if self.FILE_PATH_KEY in params:
            path = param_of_type(params, self.FILE_PATH_KEY, str, self)
            channel = PipesFileMessageWriterChannel(
                path, buffered=self._buffered, flush_interval=self._flush_interval, buffer_bytes=self._buffer_bytes
            )
            if not params.get(self.INCLUDE_STDIO_IN_MESSAGES_KEY):
                return channel
            from pipes_fast.external.stdio import PipesStdioCapturingChannel

            return PipesStdioCapturingChannel(channel)
        if self.STDIO_KEY in params:
            return PipesStreamMessageWriterChannel(self._stream(params, self.STDIO_KEY))
        if self.BUFFERED_STDIO_KEY in params:
            return PipesBufferedStreamMessageWriterChannel(self._stream(params, self.BUFFERED_STDIO_KEY))
        raise DagsterPipesError(
            f"Invalid params for {type(self).__name__}, expected key {self.FILE_PATH_KEY!r},"
            f" {self.STDIO_KEY!r} or {self.BUFFERED_STDIO_KEY!r}, received {dict(params)}. The orchestration"
            " side's message reader may expect a different message writer: pass it as `message_writer` to"
            " `open_dagster_pipes`."
        )

    def _stream(self, params: PipesParams, key: str) -> TextIO:
        name = param_of_type(params, key, str, self)
        if name not in (self.STDOUT, self.STDERR):
            raise DagsterPipesError(
                f"Invalid value for key {key!r}, expected {self.STDERR!r} or {self.STDOUT!r} but received {name!r}."
            )
        return sys.stdout if name == self.STDOUT else sys.stderr
