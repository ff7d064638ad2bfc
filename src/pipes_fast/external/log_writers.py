"""Log writers: capture this process's stdout and stderr while open, and send what was written
elsewhere, chunk by chunk (as ``log_external_stream`` messages, to files, ...).

dagster-pipes' API: a :class:`PipesLogWriter` opens, from its params, the channels that capture;
a :class:`PipesStdioLogWriterChannel` captures one standard stream and hands each chunk to its
``write_chunk``. Capture is pipes_fast's :class:`~pipes_fast.external.PipesStdioCapture`: file
descriptors redirected into a pipe that a thread drains as data arrives (no ``tee`` process, no
temporary file, no polling), output still shown where it went before, and all of it handed to
``write_chunk`` before the block ends.
"""

from __future__ import annotations

import os
import sys
from abc import ABC, abstractmethod
from contextlib import ExitStack, contextmanager
from queue import Queue
from typing import TYPE_CHECKING, Generic, Literal

from pipes_fast.external.errors import error_like
from pipes_fast.external.stdio import PipesStdioCapture
from pipes_fast.external.typed import T_LogChannel
from pipes_fast.protocol import make_message

if TYPE_CHECKING:
    from collections.abc import Iterator
    from io import TextIOWrapper
    from typing import ContextManager

    from pipes_fast.external.typed import PipesLogWriterOpenedData
    from pipes_fast.external.writers import PipesMessageWriterChannel
    from pipes_fast.protocol import PipesExtras, PipesParams

Stream = Literal["stdout", "stderr"]


class PipesLogWriterChannel(ABC):
    """Captures one source of logs for the span of :meth:`capture`."""

    @abstractmethod
    def capture(self) -> ContextManager[None]:
        """A context manager that captures while its block runs."""


class PipesLogWriter(ABC, Generic[T_LogChannel]):
    """Opens, from its params, the channels that capture logs while the block of :meth:`open` runs."""

    LOG_WRITER_KEY = "log_writer"
    """Where a message writer's params hold the log writer's params."""

    @abstractmethod
    def open(self, params: PipesParams) -> ContextManager[T_LogChannel | None]:
        """A context manager that captures logs while its block runs."""

    def get_opened_payload(self) -> PipesLogWriterOpenedData:
        """What the log writer tells the orchestration side; override :meth:`get_opened_extras`, not this."""
        return {"extras": self.get_opened_extras()}

    def get_opened_extras(self) -> PipesExtras:
        """Writer-specific information for the orchestration side."""
        return {}


class PipesStdioLogWriter(PipesLogWriter[T_LogChannel]):
    """Captures this process's stdout and stderr (children's included), each through the channel
    :meth:`make_channel` makes for it."""

    @abstractmethod
    def make_channel(self, params: PipesParams, stream: Stream) -> T_LogChannel:
        """The channel that captures ``stream``."""

    @contextmanager
    def open(self, params: PipesParams) -> Iterator[None]:
        with ExitStack() as stack:
            for stream in ("stdout", "stderr"):
                stack.enter_context(self.make_channel(params, stream=stream).capture())
            yield


class PipesStdioLogWriterChannel(PipesLogWriterChannel):
    """Captures one standard stream of this process (``stream``) and hands what is written to it to
    :meth:`write_chunk` as it comes, from a background thread; the output still shows.

    An exception from :meth:`write_chunk` does not stop the capture: it is kept in
    ``error_messages`` and written to stderr when the capture ends. ``interval`` is kept for
    dagster-pipes' API (its reading pace); chunks come as soon as they are written here.
    """

    WAIT_FOR_TEE_SECONDS: float = 1.0
    """At the end of a capture, how long to wait for child processes that still hold the stream."""

    def __init__(self, stream: Stream, interval: float, name: str) -> None:
        self.stream: Stream = stream
        self.interval = interval
        self._name = name
        self.error_messages: Queue[str] = Queue()

    @property
    def name(self) -> str:
        """The channel's name, used in its error messages."""
        return self._name

    @property
    def stdio(self) -> TextIOWrapper:
        """The process's original stream (``sys.__stdout__`` or ``sys.__stderr__``)."""
        if self.stream not in ("stdout", "stderr"):
            raise ValueError(f"stream must be 'stdout' or 'stderr', got {self.stream}")
        return sys.__stdout__ if self.stream == "stdout" else sys.__stderr__  # type: ignore[return-value]

    @contextmanager
    def capture(self) -> Iterator[None]:
        capture = PipesStdioCapture(self._write, eof_timeout=self.WAIT_FOR_TEE_SECONDS, streams=(self.stream,))
        try:
            yield
        finally:
            capture.stop()
            while not self.error_messages.empty():
                sys.stderr.write(self.error_messages.get())

    def _write(self, stream: str, text: str) -> None:
        try:
            self.write_chunk(text)
        except Exception as exc:  # noqa: BLE001 - reported when the capture ends
            self.error_messages.put(f"Exception in thread {self.name}:\n{exc}\n")

    @abstractmethod
    def write_chunk(self, chunk: str) -> None:
        """Send a chunk of text written to the stream."""


class PipesDefaultLogWriterChannel(PipesStdioLogWriterChannel):
    """Sends what is written to ``stream`` as ``log_external_stream`` messages through ``message_channel``."""

    def __init__(self, message_channel: PipesMessageWriterChannel, stream: Stream, name: str, interval: float) -> None:
        self.message_channel = message_channel
        super().__init__(interval=interval, stream=stream, name=name)

    def write_chunk(self, chunk: str) -> None:
        self.message_channel.write_message(
            make_message("log_external_stream", {"stream": self.stream, "text": chunk, "extras": {}})
        )


class PipesDefaultLogWriter(PipesStdioLogWriter[PipesDefaultLogWriterChannel]):
    """Sends this process's stdout and stderr as ``log_external_stream`` messages through ``message_channel``."""

    def __init__(self, message_channel: PipesMessageWriterChannel, interval: float = 1) -> None:
        self.interval = interval
        self._message_channel = message_channel

    @property
    def message_channel(self) -> PipesMessageWriterChannel:
        """The channel the messages go through; ``RuntimeError`` if there is none."""
        if self._message_channel is None:
            raise RuntimeError("message_channel is not set")
        return self._message_channel

    def make_channel(self, params: PipesParams, stream: Stream) -> PipesDefaultLogWriterChannel:
        return PipesDefaultLogWriterChannel(
            message_channel=self.message_channel,
            stream=stream,
            name=f"PipesDefaultLogWriterChannel({stream})",
            interval=self.interval,
        )


class PipesStdioFileLogWriterChannel(PipesStdioLogWriterChannel):
    """Appends what is written to ``stream`` to the file ``output_path``."""

    def __init__(self, output_path: str, stream: Stream, name: str, interval: float) -> None:
        self.output_path = output_path
        super().__init__(interval=interval, stream=stream, name=name)

    def write_chunk(self, chunk: str) -> None:
        with open(self.output_path, "a", encoding="utf-8") as file:
            file.write(chunk)


class PipesStdioFileLogWriter(PipesStdioLogWriter[PipesStdioFileLogWriterChannel]):
    """Writes this process's stdout and stderr to the files ``stdout`` and ``stderr`` in the
    directory the params name (``{"logs_dir": DIR}``, made if missing)."""

    LOGS_DIR_KEY = "logs_dir"

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval

    def make_channel(self, params: PipesParams, stream: Stream) -> PipesStdioFileLogWriterChannel:
        if self.LOGS_DIR_KEY not in params:
            raise error_like(
                (KeyError,),
                f"{type(self).__name__} needs its logs directory in its params under"
                f" {self.LOGS_DIR_KEY!r}, received {dict(params)}.",
            )
        logs_dir = params[self.LOGS_DIR_KEY]
        os.makedirs(logs_dir, exist_ok=True)
        output_path = os.path.join(logs_dir, stream)
        return PipesStdioFileLogWriterChannel(
            output_path=output_path,
            stream=stream,
            name=f"PipesStdioFileLogWriterChannel({stream}->{output_path})",
            interval=self.interval,
        )
