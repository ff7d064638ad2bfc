"""Blob-store message writers: messages buffered, then uploaded every ``interval`` seconds as chunk
1, 2, ... (one JSON message per line), where the orchestration side's blob-store reader reads them.

Beyond dagster-pipes:

- Prompt: the upload thread waits on an event, so it uploads every ``interval`` seconds (not in
  whole-second steps) and, when the block closes, uploads the last chunk at once.
- Lossless and in order: a failed upload is tried again with the same chunk, after a pause that
  grows to ``interval`` (new messages go to the next chunk), for as long as the process runs: a
  chunk number is never skipped. Once the block closes, what is left is tried for up to
  ``close_timeout`` seconds (60 by default, dagster-pipes' wait for its upload thread); what could
  still not be uploaded then is a warning on stderr naming the chunk and the messages lost.
- Compressed: when the reader's params list ``"zstd"`` under ``"accept_compression"``, a channel
  that uploads bytes (``compressible``) writes each chunk as one zstd frame, under the same names.
- Messages are encoded by the file writer's appender (orjson, ``json.dumps`` where it would differ),
  into an in-memory spool file, so a message that cannot be written fails at the call that sent it.
"""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from abc import abstractmethod
from contextlib import contextmanager

from pipes_fast._system.files import open_private_file
from pipes_fast.external.errors import DagsterPipesError, DagsterPipesWarning
from pipes_fast.external.validation import param_of_type
from pipes_fast.external.writers import PipesMessageWriter, PipesMessageWriterChannel

TYPE_CHECKING = False  # typing stays unimported at run time: see pipes_fast.external
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import IO, Any

    from pipes_fast.external.typed import T_BlobStoreMessageWriterChannel
    from pipes_fast.protocol import PipesMessage, PipesParams
else:
    T_BlobStoreMessageWriterChannel = None

ACCEPT_COMPRESSION_KEY = "accept_compression"
"""The params key where the reader lists the chunk compressions it reads."""
CLOSE_TIMEOUT_SECONDS = 60.0
"""How long closing tries to upload what is left, by default (dagster-pipes waits as long for its thread)."""
RETRY_PAUSES = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
"""The pauses between attempts at a chunk that failed to upload (the last repeats; never above ``interval``)."""


class PipesBlobStoreMessageWriter(PipesMessageWriter[T_BlobStoreMessageWriterChannel]):
    """Opens a channel that uploads message chunks to a blob store every ``interval`` seconds;
    subclasses say which channel in :meth:`make_channel`.

    ``"include_stdio_in_messages": true`` in the params also reports what this process and its
    children write to stdout and stderr, as ``log_external_stream`` messages.
    """

    INCLUDE_STDIO_IN_MESSAGES_KEY: str = "include_stdio_in_messages"

    def __init__(self, *, interval: float = 10, close_timeout: float = CLOSE_TIMEOUT_SECONDS) -> None:
        self.interval = interval
        self.close_timeout = close_timeout

    @contextmanager
    def open(self, params: PipesParams) -> Iterator[T_BlobStoreMessageWriterChannel]:
        """The channel from :meth:`make_channel`, uploading until the block ends (the last chunk then)."""
        channel = self.make_channel(params)
        accepted = params.get(ACCEPT_COMPRESSION_KEY)
        if channel.compressible and isinstance(accepted, list) and "zstd" in accepted:
            channel.compression = "zstd"
        with channel.buffered_upload_loop():
            if not params.get(self.INCLUDE_STDIO_IN_MESSAGES_KEY):
                yield channel
                return
            from pipes_fast.external.stdio import PipesStdioCapturingChannel

            with PipesStdioCapturingChannel(channel) as capturing:
                # typed as the channel: it writes through to it, which is what callers use
                yield capturing  # type: ignore[misc]

    @abstractmethod
    def make_channel(self, params: PipesParams) -> T_BlobStoreMessageWriterChannel:
        """The channel that uploads chunks where ``params`` say."""


class PipesBlobStoreMessageWriterChannel(PipesMessageWriterChannel):
    """Buffers messages and uploads them as chunk 1, 2, ... through :meth:`upload_messages_chunk`,
    every ``interval`` seconds while :meth:`buffered_upload_loop` is entered, and once more at its end.

    The payload given to :meth:`upload_messages_chunk` is text (``StringIO``), the messages'
    JSON lines joined by newlines, or, where the channel is ``compressible`` and the reader accepts
    it, a zstd frame of that text (``BytesIO``). A failed upload is retried as the module says.
    """

    compressible = False
    """Whether :meth:`upload_messages_chunk` takes a binary payload too (subclasses that can say so)."""

    def __init__(self, *, interval: float = 10, close_timeout: float = CLOSE_TIMEOUT_SECONDS) -> None:
        from pipes_fast.external.serialize import line_appender

        self._interval = interval
        self._close_timeout = close_timeout
        self._counter = 1
        self.compression: str | None = None
        """``"zstd"`` to upload each chunk as a zstd frame; set by the writer from the reader's params."""
        self._lock = threading.Lock()
        self._spool = _spool_fd()
        self._append = line_appender(self._spool)
        self._chunk: bytes | None = None
        """The chunk being uploaded at ``_counter`` (kept while its upload fails), payload bytes."""
        self._chunk_messages = 0
        self._failure: Exception | None = None
        """The last upload's error while it keeps failing (warned about once)."""

    def write_message(self, message: PipesMessage) -> None:
        """Buffer ``message`` for the next chunk (it is encoded now: a bad message fails here)."""
        with self._lock:
            if self._spool < 0:
                raise DagsterPipesError("Cannot write a message: the blob store channel's upload loop has ended.")
            self._append(message)

    def flush_messages(self) -> Sequence[PipesMessage]:
        """Take the messages buffered since the last chunk out of the buffer."""
        import json

        return [json.loads(line) for line in self._take_buffered().split(b"\n")[:-1]]

    @abstractmethod
    def upload_messages_chunk(self, payload: IO, index: int) -> None:  # type: ignore[type-arg]
        """Store ``payload`` as chunk ``index``; raise if it was not stored."""

    @contextmanager
    def buffered_upload_loop(self) -> Iterator[None]:
        """Upload chunks in a thread for the span of the block; at its end, what is left, at once."""
        session_closed = threading.Event()
        thread = threading.Thread(
            target=self._upload_loop, args=(session_closed,), name="pipes_fast blob upload", daemon=True
        )
        thread.start()
        try:
            yield
        finally:
            session_closed.set()
            thread.join(self._close_timeout + 1.0)
            if thread.is_alive():
                _warn(
                    f"gave up waiting for the upload of chunk {self._counter} after {self._close_timeout:g} s:"
                    " the store did not answer, it and any messages after it may be lost"
                )
            else:
                self._close_spool()

    def _upload_loop(self, session_closed: threading.Event) -> None:
        """A turn every ``interval`` seconds (sooner to retry a failed chunk) until the block
        closes; then turns until nothing is left, or ``close_timeout`` has passed."""
        failures = 0
        while not session_closed.wait(self._pause(failures)):
            failures = 0 if self._upload_turn() else failures + 1
        deadline = time.monotonic() + self._close_timeout
        failures = 0
        while self._chunk is not None or self._has_buffered():
            if self._upload_turn():
                failures = 0
                continue
            failures += 1
            if time.monotonic() + self._pause(failures) > deadline:
                self._give_up()
                return
            time.sleep(self._pause(failures))

    def _pause(self, failures: int) -> float:
        """The wait before the next turn: ``interval``, or less after ``failures`` failed uploads in a row."""
        if not failures:
            return self._interval
        return min(self._interval, RETRY_PAUSES[min(failures, len(RETRY_PAUSES)) - 1])

    def _upload_turn(self) -> bool:
        """Upload the chunk that failed before, or else the messages buffered since the last one;
        False if the upload failed (it will be tried again)."""
        if self._chunk is None:
            text = self._take_buffered()[:-1]  # lines joined by newlines, none at the end
            if not text:
                return True
            self._chunk = self._compressed(text) if self.compression else text
            self._chunk_messages = text.count(b"\n") + 1
        payload: IO[Any] = io.BytesIO(self._chunk) if self.compression else io.StringIO(self._chunk.decode("utf-8"))
        try:
            self.upload_messages_chunk(payload, self._counter)
        except Exception as exc:  # noqa: BLE001 - the store failing: try again
            if self._failure is None:
                _warn(f"could not upload chunk {self._counter}, trying again: {exc!r:.300}")
            self._failure = exc
            return False
        self._chunk = None
        self._failure = None
        self._counter += 1
        return True

    def _give_up(self) -> None:
        """Past ``close_timeout`` at close: say which chunk and how many messages are lost."""
        lost = self._chunk_messages + self._take_buffered().count(b"\n")
        _warn(
            f"gave up uploading chunk {self._counter} after {self._close_timeout:g} s of failures at close:"
            f" it and the messages after it, {lost} in all, are lost (last error: {self._failure!r:.300})"
        )
        self._chunk = None

    def _compressed(self, text: bytes) -> bytes:
        import zstandard

        return zstandard.ZstdCompressor().compress(text)

    def _take_buffered(self) -> bytes:
        """The JSON lines buffered so far (each ending with a newline), leaving the buffer empty."""
        with self._lock:
            if self._spool < 0:
                return b""
            data = _read_all(self._spool)
            os.ftruncate(self._spool, 0)  # appends go on at the new end (O_APPEND)
        return data

    def _has_buffered(self) -> bool:
        with self._lock:
            return self._spool >= 0 and os.fstat(self._spool).st_size > 0

    def _close_spool(self) -> None:
        with self._lock:
            if self._spool >= 0:
                os.close(self._spool)
                self._spool = -1


class PipesBufferedFilesystemMessageWriterChannel(PipesBlobStoreMessageWriterChannel):
    """Writes message chunks as ``path/1.json``, ``path/2.json``, ... (a directory both sides see).

    Each chunk is written to a new owner-only file in the same directory, created without following
    links, then renamed into place: a reader never sees a chunk half written.
    """

    compressible = True

    def __init__(self, path: str, *, interval: float = 10, close_timeout: float = CLOSE_TIMEOUT_SECONDS) -> None:
        super().__init__(interval=interval, close_timeout=close_timeout)
        self._path = path

    def upload_messages_chunk(self, payload: IO, index: int) -> None:  # type: ignore[type-arg]
        content = payload.read()
        data = content.encode("utf-8") if isinstance(content, str) else content
        final = os.path.join(self._path, f"{index}.json")
        temporary = os.path.join(self._path, f".{index}.json.{os.urandom(6).hex()}.tmp")
        os.close(open_private_file(temporary, data, what="message chunk", exclusive=True))  # ours from here
        try:
            os.replace(temporary, final)
        except BaseException:
            _remove(temporary)
            raise


class PipesUnityCatalogVolumesMessageWriter(PipesBlobStoreMessageWriter[PipesBufferedFilesystemMessageWriterChannel]):
    """Writes message chunks to the directory the params name (``{"path": DIR}``): Databricks Unity
    Catalog volumes, or any filesystem both sides see (pipes_fast's ``PipesDirectoryMessageReader``)."""

    def make_channel(self, params: PipesParams) -> PipesBufferedFilesystemMessageWriterChannel:
        path = param_of_type(params, "path", str, self)
        return PipesBufferedFilesystemMessageWriterChannel(
            path, interval=self.interval, close_timeout=self.close_timeout
        )


def _spool_fd() -> int:
    """A new, empty, unnamed file opened for appending and reading: memory-backed where the system allows."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("pipes_fast-messages", os.MFD_CLOEXEC)
    else:
        import tempfile

        fd, name = tempfile.mkstemp(prefix="pipes_fast-messages-")
        os.unlink(name)
    import fcntl

    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_APPEND)
    return fd


def _read_all(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    parts = []
    offset = 0
    while offset < size:
        part = os.pread(fd, size - offset, offset)
        if not part:
            break
        parts.append(part)
        offset += len(part)
    return b"".join(parts)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _warn(text: str) -> None:
    import warnings

    warnings.warn(f"pipes_fast blob store writer: {text}", DagsterPipesWarning, stacklevel=1)
    sys.stderr.flush()
