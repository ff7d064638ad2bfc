"""Capture of this process's stdout and stderr, child processes' included, as Pipes messages.

File descriptors 1 and 2 are redirected into pipes, so whatever writes to them is caught: Python's
``sys.stdout``, C extensions, and child processes (which inherit the descriptors). One thread
drains both pipes as data arrives, so a chatty writer never blocks for long: it forwards every
chunk to where the stream went before (the output still shows) and reports it as a
``log_external_stream`` message. Stopping restores the descriptors and reports everything that
was written before it returns, so it all comes before the ``closed`` message. POSIX only.
"""

from __future__ import annotations

import codecs
import os
import select
import sys
import threading

from pipes_fast._system.fdio import write_all
from pipes_fast.external.writers import PipesMessageWriterChannel
from pipes_fast.protocol import make_message

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Callable

    from pipes_fast.protocol import PipesMessage

    PipesStdioReport = Callable[[str, str], None]
    """Called with a stream name ("stdout" or "stderr") and text read from it."""

_CHUNK_BYTES = 64 * 1024
_FDS = {"stdout": 1, "stderr": 2}


class _Redirect:
    """One standard stream redirected into a pipe, and the descriptor it used to write to."""

    def __init__(self, name: str, fd: int) -> None:
        self.name = name
        self.fd = fd
        self.original = os.dup(fd)
        self.read_fd, write_fd = os.pipe()
        os.dup2(write_fd, fd)  # inheritable, so child processes write into the pipe too
        os.close(write_fd)
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.forwarding = True

    def restore(self) -> None:
        """Point the descriptor back where it was; the pipe ends once every child lets go of it."""
        os.dup2(self.original, self.fd)

    def close(self) -> None:
        os.close(self.read_fd)
        os.close(self.original)


class PipesStdioCapture:
    """Reports what is written to stdout and stderr through ``report(stream, text)`` until stopped.

    ``eof_timeout`` bounds how long :meth:`stop` waits for child processes that still hold the
    streams (a background process left running); what they wrote until then is reported.
    ``streams`` names the streams to capture ("stdout", "stderr"): both by default.
    """

    def __init__(
        self, report: PipesStdioReport, eof_timeout: float = 1.0, streams: Sequence[str] = ("stdout", "stderr")
    ) -> None:
        unknown = [name for name in streams if name not in _FDS]
        if unknown:
            raise ValueError(f"stream must be 'stdout' or 'stderr', got {unknown[0]!r}")
        self._report = report
        self.eof_timeout = eof_timeout
        _flush_python_streams()
        self._redirects = [_Redirect(name, _FDS[name]) for name in streams if _is_open(_FDS[name])]
        self._wake_read, self._wake_write = os.pipe()
        self._reporting = True
        self._thread: threading.Thread | None = threading.Thread(
            target=self._pump, name="pipes_fast stdio capture", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Restore stdout and stderr, and return once everything written to them is reported."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        _flush_python_streams()
        for redirect in self._redirects:
            redirect.restore()
        thread.join(self.eof_timeout)
        if thread.is_alive():  # a child process still holds a pipe: take what is there and stop
            os.write(self._wake_write, b"\0")
            thread.join()
        for redirect in self._redirects:
            redirect.close()
        os.close(self._wake_read)
        os.close(self._wake_write)

    def _pump(self) -> None:
        poller = select.poll()
        pending = {redirect.read_fd: redirect for redirect in self._redirects}
        for fd in (*pending, self._wake_read):
            poller.register(fd, select.POLLIN)
        while pending:
            for fd, _event in poller.poll():
                if fd == self._wake_read:
                    for redirect in pending.values():
                        self._drain(redirect)
                    return
                redirect = pending[fd]
                data = os.read(fd, _CHUNK_BYTES)
                self._deliver(redirect, data)
                if not data:
                    poller.unregister(fd)
                    del pending[fd]

    def _drain(self, redirect: _Redirect) -> None:
        """Deliver what the pipe holds now, without waiting for more."""
        os.set_blocking(redirect.read_fd, False)
        while True:
            try:
                data = os.read(redirect.read_fd, _CHUNK_BYTES)
            except BlockingIOError:
                data = b""
            self._deliver(redirect, data)
            if not data:
                return

    def _deliver(self, redirect: _Redirect, data: bytes) -> None:
        """Forward a chunk to the original stream and report it; ``b""`` ends the stream."""
        if data and redirect.forwarding:
            try:
                write_all(redirect.original, data)
            except OSError:  # the original stream is gone (a closed pipe): keep reporting
                redirect.forwarding = False
        text = redirect.decoder.decode(data, final=not data)
        if text and self._reporting:
            try:
                self._report(redirect.name, text)
            except Exception as exc:  # noqa: BLE001 - never let the pump die: the pipes would fill up
                self._reporting = False
                self._complain(f"pipes_fast: stopped reporting captured output, the message channel failed: {exc!r}\n")

    def _complain(self, text: str) -> None:
        """Say something on the original stderr (never on fd 2: the pump would read its own words)."""
        for redirect in self._redirects:
            if redirect.name == "stderr":
                try:
                    write_all(redirect.original, text.encode("utf-8", "replace"))
                except OSError:
                    pass


class PipesStdioCapturingChannel(PipesMessageWriterChannel):
    """A channel that also reports this process's stdout and stderr through itself.

    Capture starts with the channel and stops just before the ``closed`` message goes through,
    after every captured byte has been reported.
    """

    def __init__(self, channel: PipesMessageWriterChannel, eof_timeout: float = 1.0) -> None:
        self._channel = channel
        self._capture = PipesStdioCapture(self._report, eof_timeout)

    def write_message(self, message: PipesMessage) -> None:
        if message["method"] == "closed":
            self._capture.stop()
        self._channel.write_message(message)

    def close(self) -> None:
        self._capture.stop()
        self._channel.close()

    def _report(self, stream: str, text: str) -> None:
        self._channel.write_message(make_message("log_external_stream", {"stream": stream, "text": text, "extras": {}}))


def _flush_python_streams() -> None:
    for stream in {id(s): s for s in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__) if s}.values():
        try:
            stream.flush()
        except (OSError, ValueError):  # closed, or its descriptor is gone
            pass


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True
