"""Message writers: where the external process's messages go, and the channels that write them.

A writer's ``open(params)`` gives a channel to use as a context manager; the channel's
``write_message`` sends one message. The default writer picks a file or a standard stream from
the params the orchestration side passed.
"""

from __future__ import annotations

import os
import sys
from abc import ABC, abstractmethod
from types import GenericAlias

from pipes_fast.external.errors import DagsterPipesError
from pipes_fast.external.validation import param_of_type

TYPE_CHECKING = False  # typing stays unimported at run time: see pipes_fast.external
if TYPE_CHECKING:
    from typing import ContextManager, Generic, TextIO, TypeVar

    from pipes_fast.protocol import PipesExtras, PipesMessage, PipesOpenedData, PipesParams

    T_MessageChannel = TypeVar("T_MessageChannel", bound="PipesMessageWriterChannel")
else:

    class Generic:
        """Run-time stand-in for ``typing.Generic``: ``PipesMessageWriter[Channel]`` still works."""

        __class_getitem__ = classmethod(GenericAlias)

    T_MessageChannel = None

_APPEND = os.O_WRONLY | os.O_APPEND | os.O_CREAT


class PipesMessageWriterChannel(ABC):
    """Writes messages back to the orchestration process; a context manager that closes itself."""

    @abstractmethod
    def write_message(self, message: PipesMessage) -> None:
        """Send one message."""

    def close(self) -> None:
        """Release what the channel holds (a file, a buffer to flush); this one holds nothing."""

    def __enter__(self) -> PipesMessageWriterChannel:
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

    Every message is a single ``write`` to a file opened with ``O_APPEND``: it is in the file when
    :meth:`write_message` returns (a kill right after loses nothing), and messages written at the
    same time from several threads, or forked processes, never interleave. Lines are orjson's,
    except where orjson would refuse the message or write a different value than ``json.dumps``
    (see :mod:`pipes_fast.external.serialize`): those are ``json.dumps``'.
    """

    def __init__(self, path: str) -> None:
        # orjson and the compiled appender load with the first channel
        from pipes_fast.external.serialize import line_appender

        self._fd = os.open(path, _APPEND, 0o666)
        # the compiled append is this channel's write_message: no Python frame between the
        # caller and the write
        self.write_message = line_appender(self._fd)  # type: ignore[method-assign, assignment]

    def write_message(self, message: PipesMessage) -> None:
        """Append ``message`` as one line (reached only through the class: instances use the
        compiled append set in ``__init__``)."""
        self.__dict__["write_message"](message)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


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

    def open(self, params: PipesParams) -> PipesMessageWriterChannel:
        if self.FILE_PATH_KEY in params:
            channel = PipesFileMessageWriterChannel(param_of_type(params, self.FILE_PATH_KEY, str, self))
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
