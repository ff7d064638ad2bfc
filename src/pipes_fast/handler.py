"""Turns decoded Pipes messages into results, logs and custom messages.

The reader calls :meth:`PipesMessageHandler.handle_lines` from its own thread with lists of
message lines; results are queued for the session to drain. A message that cannot be handled
(unknown method, malformed params, an asset outside the step) is logged as a warning and skipped:
the stream goes on.

A reader of several writers (``PipesCompositeMessageReader``) gives each of its own readers the
:class:`WriterHandler` of :meth:`PipesMessageHandler.for_writer`: the writers share the session's
results and count towards its ``opened``/``closed`` state, each keeps its own order.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Optional

from pipes_fast import _hotpath
from pipes_fast._logic.contract import positive_int
from pipes_fast._logic.flow import DrainGate, take_oldest
from pipes_fast.assets import AssetKey
from pipes_fast.context import StepContext
from pipes_fast.errors import MalformedParams, require_param
from pipes_fast.protocol import BadLine, PipesException, PipesParams
from pipes_fast.results import PipesExecutionResult

if TYPE_CHECKING:
    from pipes_fast.readers.base import PipesMessageReader

_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "WARN": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}
_MAX_WARNINGS = 100


def log_level_number(level: Any) -> Optional[int]:
    """The ``logging`` level of a log message's ``level`` (a name, in any case), or None."""
    return _LEVELS.get(level.upper()) if isinstance(level, str) else None


_MAX_EXCEPTION_CHAIN = 20


def format_exception(exc: Any) -> str:
    """A reported external exception as text: name, message, stack, and its cause/context chain.

    The exception comes from the wire, so any field may be missing or of the wrong type: what
    cannot be read as the protocol describes is shown as it came.
    """
    parts: list[str] = []
    current: Any = exc
    while isinstance(current, Mapping) and len(parts) < _MAX_EXCEPTION_CHAIN:
        stack = current.get("stack")
        lines = "".join(stack) if isinstance(stack, list) and all(type(s) is str for s in stack) else _shown(stack)
        name, message = str(current.get("name") or "Exception"), str(current.get("message")).strip()
        headline = message if message.startswith(f"{name}:") or message == name else f"{name}: {message}"
        parts.append(f"{headline}\n{lines}".rstrip())
        cause = current.get("cause")
        current = cause if isinstance(cause, Mapping) else current.get("context")
    if not parts:
        return _shown(exc)
    return "\n\nwhich was caused by or raised while handling:\n".join(parts)


def _shown(value: Any) -> str:
    return "" if value is None else f"{value!r:.1000}"


class _CappedWarnings:
    """Logs the first ``_MAX_WARNINGS`` warnings of one kind, then says so once and only counts."""

    def __init__(self, log: logging.Logger) -> None:
        self._log = log
        self.count = 0

    def warn(self, text: str, more: str) -> None:
        """Log ``text``, or past the cap count it (``more`` says what the later ones are)."""
        self.count += 1
        if self.count <= _MAX_WARNINGS:
            self._log.warning(text)
        elif self.count == _MAX_WARNINGS + 1:
            self._log.warning(f"[pipes] more {more}; counting them silently")


class PipesMessageHandler:
    """Processes messages from the external process for one step.

    Materializations, checks and custom messages (the bulk of a stream) are handled by the hot
    path's ``MessageRouter``; the other methods by this class.
    """

    def __init__(self, context: StepContext, message_reader: PipesMessageReader) -> None:
        self._context = context
        self._log = context.log
        self._message_reader = message_reader
        keys = None if context.asset_keys is None else {k.to_escaped_user_string(): k for k in context.asset_keys}
        self._bad_lines = _CappedWarnings(self._log)
        self._skipped = _CappedWarnings(self._log)
        self._router = _hotpath.MessageRouter(keys, self._handle_other, self._warn_skipped)
        self._results: deque[PipesExecutionResult] = self._router.results
        self._custom_messages: deque[Any] = self._router.custom_messages
        self.flow = DrainGate(self._custom_messages)
        """Flow control between the reader and a consumer that drains custom messages in batches."""
        self.handle_lines: Callable[[list[bytes], int], list[BadLine]] = self._router.route_lines
        """Decode and handle message lines in order (the first numbered as given); returns the
        lines that were not messages, for :meth:`report_bad_lines`."""
        self.received_opened_message = False
        """True once at least one writer has opened the pipes."""
        self.received_closed_message = False
        """True once every expected writer (the reader's ``expected_writer_count``) has closed them."""
        self._expected_writers: int = getattr(message_reader, "expected_writer_count", 1)
        self._opened_count = 0
        self._closed_count = 0
        self._turns = threading.Lock()  # writers of one session take turns at the router
        self._writer: Optional[WriterHandler] = None  # the writer whose lines are being routed
        self.opened_payload: Optional[Mapping[str, Any]] = None
        self.exception: Optional[PipesException] = None
        """The exception the external process reported in its ``closed`` message, if any."""
        self._other: dict[str, Callable[[Any], None]] = {
            "opened": self._on_opened,
            "closed": self._on_closed,
            "log": self._on_log,
            "log_external_stream": self._on_external_stream,
        }

    @contextmanager
    def handle_messages(self) -> Iterator[PipesParams]:
        """Run the message reader for the span of the block; yields its params."""
        with self._message_reader.read_messages(self) as params:
            yield params

    # ----- what the session drains -----

    def drain_results(self) -> list[PipesExecutionResult]:
        """Results received since the last drain, oldest first; they are not kept (after a
        deferred close, the rest of the stream is read first)."""
        self.flow.finish()
        return take_oldest(self._results)

    def drain_custom_messages(self, max_messages: Optional[int] = None) -> list[Any]:
        """Custom message payloads received since the last drain, oldest first; they are not kept.

        With ``max_messages``, at most that many, and the reader keeps memory bounded for this
        consumer (see :class:`pipes_fast._logic.flow.DrainGate`); without, after a deferred close, the
        rest of the stream is read first."""
        if max_messages is None:
            self.flow.finish()
            return take_oldest(self._custom_messages)
        return self.flow.take(positive_int("max_messages", max_messages))

    @property
    def materialized_asset_keys(self) -> set[AssetKey]:
        """Keys of the assets that at least one materialization was received for."""
        materialized: set[AssetKey] = self._router.materialized
        return materialized

    def get_reported_results(self) -> tuple[PipesExecutionResult, ...]:
        """Results received and not drained yet (the whole stream's, once it has been read)."""
        self.flow.finish()
        return tuple(self._results)

    def get_custom_messages(self) -> tuple[Any, ...]:
        """Custom message payloads received and not drained yet (the whole stream's, once read)."""
        self.flow.finish()
        return tuple(self._custom_messages)

    # ----- what the reader feeds -----

    def for_writer(self, reader: Any) -> WriterHandler:
        """The handler that ``reader``, one of several writers' readers in this session, feeds."""
        return WriterHandler(self, reader)

    @contextmanager
    def turn(self, writer: Optional[WriterHandler] = None) -> Iterator[None]:
        """Hold the router for one writer's batch: writers' threads take turns, and the
        ``opened``/``closed`` messages routed meanwhile are ``writer``'s too."""
        with self._turns:
            self._writer = writer
            try:
                yield
            finally:
                self._writer = None

    def handle_message(self, message: Mapping[str, Any]) -> None:
        """Handle one decoded message."""
        self._router.route((message,))

    def report_bad_lines(self, bad_lines: list[BadLine], source: str) -> None:
        """Log lines of the stream that were not messages (the first hundred in full, then a count)."""
        for bad in bad_lines:
            self._bad_lines.warn(f"[pipes] skipped {source} {bad}", f"lines of {source} are not messages")

    @property
    def bad_line_count(self) -> int:
        """Lines of the stream that were not messages."""
        return self._bad_lines.count

    @property
    def skipped_message_count(self) -> int:
        """Messages that could not be handled or arrived after ``closed`` (each one warned about)."""
        return self._skipped.count

    def warn(self, text: str) -> None:
        """Log a warning about the stream (a reader's, e.g. the file was replaced) on the step's log."""
        self._log.warning(text)

    def report_truncated_lines(self, count: int, limit: int, source: str) -> None:
        self._log.warning(f"[pipes] {count} line(s) of {source} exceeded {limit} bytes and were cut there")

    def on_launched(self, launched_payload: Mapping[str, Any]) -> None:
        """Called by ``PipesSession.report_launched``."""
        self._log.info("[pipes] additional launch_payload reported")
        self._message_reader.on_launched(launched_payload)

    # ----- the methods the router passes on -----

    def _warn_skipped(self, text: str) -> None:
        self._skipped.warn(text, "messages could not be handled or came after closed")

    def _handle_other(self, message: Mapping[str, Any]) -> None:
        method = message.get("method")
        handle = self._other.get(method) if type(method) is str else None
        if handle is None:
            raise MalformedParams(f"unknown method {method!r:.50}")
        handle(message.get("params"))

    def _on_opened(self, params: Any) -> None:
        self._record_opened(params)
        if self._opened_count == 1:  # as Dagster: once, whatever the number of writers
            self._log.info("[pipes] external process successfully opened dagster pipes.")
        self._message_reader.on_opened(params or {})

    def _on_closed(self, params: Any) -> None:
        self._record_closed(params)
        if self.exception:
            detail = format_exception(self.exception) if isinstance(self.exception, dict) else repr(self.exception)
            self._log.error(f"[pipes] external process pipes closed with exception: {detail}")

    def _record_opened(self, params: Any) -> None:
        """The state an ``opened`` message leaves behind (the writer's too, if one has the turn)."""
        self._opened_count += 1
        self.received_opened_message = True
        self.opened_payload = params or {}
        if self._writer is not None:
            self._writer.record_opened(self.opened_payload)

    def _record_closed(self, params: Any) -> None:
        """The state a ``closed`` message leaves behind: once every writer has closed, later
        messages are warned about."""
        self._closed_count += 1
        if self._closed_count >= self._expected_writers:
            self.received_closed_message = True
            self._router.closed = True
        exception = params.get("exception") if isinstance(params, dict) else None
        if exception:
            self.exception = exception
        if self._writer is not None:
            self._writer.record_closed(exception)

    def _on_log(self, params: Any) -> None:
        message = require_param(params, "message", str)
        level = params.get("level") or "INFO"
        number = log_level_number(level)
        if number is None:
            raise MalformedParams(f"unknown log level {level!r:.50}")
        self._log.log(number, message)

    def _on_external_stream(self, params: Any) -> None:
        text = require_param(params, "text", str)
        stream = params.get("stream")
        if stream == "stdout":
            write_text(sys.stdout, text)
        elif stream == "stderr":
            write_text(sys.stderr, text)
        else:
            raise MalformedParams(f"param 'stream' must be 'stdout' or 'stderr', got {stream!r:.50}")


class _WriterFlow:
    """One writer's flow control: its reader waits for room as a session's reader does, but
    never defers the session's close (it reads its stream to the end then, unbounded)."""

    def __init__(self, gate: DrainGate) -> None:
        self._gate = gate
        self.wait_for_room = gate.wait_for_room
        self.has_room = gate.has_room

    def defer(self) -> bool:
        self._gate.release()  # the consumer is not draining while the session closes
        return False

    def reader_finished(self) -> bool:
        return False


class WriterHandler:
    """What one writer's reader feeds when several writers report into one session.

    Its lines go to the session's handler (writers take turns, a batch at a time): results, custom
    messages, logs and the ``opened``/``closed`` counts are the session's. What is the writer's
    own is kept here for its reader: its ``opened`` payload (passed to the reader's
    ``on_opened``), whether it has closed, the exception it closed with.
    """

    def __init__(self, handler: PipesMessageHandler, reader: Any) -> None:
        self._handler = handler
        self._reader = reader
        self.flow = _WriterFlow(handler.flow)
        self.received_opened_message = False
        self.received_closed_message = False
        self.opened_payload: Optional[Mapping[str, Any]] = None
        self.exception: Optional[PipesException] = None
        self.warn = handler.warn
        self.report_bad_lines = handler.report_bad_lines
        self.report_truncated_lines = handler.report_truncated_lines

    def handle_lines(self, lines: list[bytes], first_line: int) -> list[BadLine]:
        """Decode and handle this writer's message lines in order (see the handler's)."""
        with self._handler.turn(self):
            return self._handler.handle_lines(lines, first_line)

    def handle_message(self, message: Mapping[str, Any]) -> None:
        """Handle one decoded message of this writer."""
        with self._handler.turn(self):
            self._handler.handle_message(message)

    def record_opened(self, payload: Mapping[str, Any]) -> None:
        """This writer opened the pipes: its reader hears of it."""
        self.received_opened_message = True
        self.opened_payload = payload
        self._reader.on_opened(payload)

    def record_closed(self, exception: Optional[PipesException]) -> None:
        """This writer closed the pipes (with ``exception``, if it reported one)."""
        self.received_closed_message = True
        self.exception = exception or self.exception


def write_text(stream: Any, text: str) -> None:
    """Write ``text``; characters the stream cannot encode (lone surrogates) become escapes."""
    try:
        stream.write(text)
    except UnicodeEncodeError:
        stream.write(text.encode("utf-8", "backslashreplace").decode("utf-8"))
