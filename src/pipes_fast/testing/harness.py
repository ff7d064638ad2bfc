"""A harness that feeds a byte stream, write by write, through pipes_fast's real file reader and
handler, and says what was delivered and what was reported bad."""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import re
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from typing import Any, Optional, Union

from pipes_fast._system.tailer import FileTailer
from pipes_fast.assets import AssetKey
from pipes_fast.context import StepContext
from pipes_fast.handler import PipesMessageHandler
from pipes_fast.injectors import PipesEnvContextInjector
from pipes_fast.readers import PipesFileMessageReader, PipesTempFileMessageReader
from pipes_fast.results import PipesExecutionResult
from pipes_fast.session import open_pipes_session
from pipes_fast.testing.strategies import DEFAULT_ASSET_KEYS

_SKIPPED_LINE = re.compile(r"\[pipes\] (?:skipped a (?:.{0,50} )?message|unexpected message) at line (\d+)")


@dataclasses.dataclass
class Delivered:
    """What a stream delivered, and what was reported about it.

    Two ``Delivered`` are equal when they delivered the same (the reports are not compared).
    """

    results: list[PipesExecutionResult]
    """Materializations and check results, in order."""
    custom_messages: list[Any]
    """Custom message payloads, in order."""
    logs: list[tuple[int, str]]
    """``(level, text)`` of each ``log`` message, as logged on the step's logger."""
    stdout: str
    """Text of ``log_external_stream`` messages to stdout, joined."""
    stderr: str
    """Text of ``log_external_stream`` messages to stderr, joined."""
    opened: Optional[Mapping[str, Any]]
    """The params of the ``opened`` message (None if none came)."""
    closed: bool
    """Whether the ``closed`` message came."""
    exception: Any
    """The exception the ``closed`` message reported, if any."""
    bad_lines: list[int] = dataclasses.field(default_factory=list, compare=False)
    """Numbers of the lines reported as not messages (the first hundred)."""
    bad_line_count: int = dataclasses.field(default=0, compare=False)
    """How many lines were not messages."""
    skipped_lines: list[int] = dataclasses.field(default_factory=list, compare=False)
    """Numbers of the lines holding messages skipped with a warning (the first hundred)."""
    warnings: list[str] = dataclasses.field(default_factory=list, compare=False)
    """Every warning logged about the stream, in order."""


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclasses.dataclass
class _Capture:
    log: logging.Logger
    records: _Records
    stdout: io.StringIO
    stderr: io.StringIO

    def delivered(self, handler: PipesMessageHandler, source: Optional[str]) -> Delivered:
        """What ``handler`` received; ``source`` names the stream in bad-line warnings."""
        logs = [(r.levelno, r.getMessage()) for r in self.records.records if r.funcName == "_on_log"]
        warnings = [
            r.getMessage() for r in self.records.records if r.levelno == logging.WARNING and r.funcName != "_on_log"
        ]
        bad_prefix = f"[pipes] skipped {source} line "
        bad = [int(w[len(bad_prefix) :].split(":", 1)[0]) for w in warnings if source and w.startswith(bad_prefix)]
        skipped = [int(match.group(1)) for match in map(_SKIPPED_LINE.match, warnings) if match]
        return Delivered(
            handler.drain_results(),
            handler.drain_custom_messages(),
            logs,
            self.stdout.getvalue(),
            self.stderr.getvalue(),
            handler.opened_payload,
            handler.received_closed_message,
            handler.exception,
            bad,
            handler.bad_line_count,
            skipped,
            warnings,
        )


@contextmanager
def _capturing() -> Iterator[_Capture]:
    """A fresh logger (kept out of the logging module's registry) and stdout/stderr captured."""
    records = _Records()
    log = logging.Logger("pipes_fast.testing", logging.DEBUG)
    log.addHandler(records)
    capture = _Capture(log, records, io.StringIO(), io.StringIO())
    with redirect_stdout(capture.stdout), redirect_stderr(capture.stderr):
        yield capture


def _step(asset_keys: Optional[Sequence[str]], log: logging.Logger) -> StepContext:
    keys = None if asset_keys is None else [AssetKey.from_escaped_user_string(key) for key in asset_keys]
    return StepContext(keys, log=log)


class _CountingTailer(FileTailer):
    """A file tailer that says how many bytes it has read (``progress`` is set per feed)."""

    progress: _Progress

    def read(self) -> bytes:
        data = super().read()
        self.progress.add(len(data))
        return data


class _Progress:
    def __init__(self) -> None:
        self._read = 0
        self._changed = threading.Condition()

    def add(self, count: int) -> None:
        with self._changed:
            self._read += count
            self._changed.notify_all()

    def wait_for(self, total: int, timeout: float) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self._read >= total, timeout):
                raise TimeoutError(f"the reader read {self._read} of {total} bytes written within {timeout} s")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def feed(
    writes: Union[bytes, Sequence[bytes]],
    *,
    asset_keys: Optional[Sequence[str]] = DEFAULT_ASSET_KEYS,
    timeout: float = 30.0,
) -> Delivered:
    """Feed a message stream through pipes_fast's ``PipesFileMessageReader`` and
    ``PipesMessageHandler``, in an ``open_pipes_session`` for a ``StepContext`` of ``asset_keys``
    (escaped user strings; None: an op step), and return what was delivered and reported.

    ``writes`` is the stream in one piece, or in pieces (see ``split_writes``): each is appended
    to the message file with its own write once the reader has read everything before it, so the
    reader sees the stream torn exactly there. Raises ``TimeoutError`` if the reader takes longer
    than ``timeout`` seconds to read a write.
    """
    pieces = [writes] if isinstance(writes, (bytes, bytearray)) else list(writes)
    progress = _Progress()
    with _capturing() as capture, tempfile.TemporaryDirectory(prefix="pipes_fast-feed-") as folder:
        reader = PipesFileMessageReader(os.path.join(folder, "messages"))
        reader._tailer_class = type("_FedTailer", (_CountingTailer,), {"progress": progress})
        with open_pipes_session(_step(asset_keys, capture.log), PipesEnvContextInjector(), reader) as session:
            fd = os.open(reader.path, os.O_WRONLY | os.O_APPEND)
            try:
                written = 0
                for piece in pieces:
                    _write_all(fd, piece)
                    written += len(piece)
                    progress.wait_for(written, timeout)
            finally:
                os.close(fd)
        return capture.delivered(session.message_handler, f"line of file {reader.path}")


def deliver(
    messages: Sequence[Mapping[str, Any]], *, asset_keys: Optional[Sequence[str]] = DEFAULT_ASSET_KEYS
) -> Delivered:
    """What a ``PipesMessageHandler`` for a ``StepContext`` of ``asset_keys`` delivers when handed
    these decoded messages one by one, with no bytes and no reader: what a reader must deliver
    for a stream of them (compare with ``==``)."""
    with _capturing() as capture:
        handler = PipesMessageHandler(_step(asset_keys, capture.log), PipesTempFileMessageReader())
        for message in messages:
            handler.handle_message(message)
        return capture.delivered(handler, None)
