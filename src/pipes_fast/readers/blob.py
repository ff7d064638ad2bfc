"""Readers of message chunks that the external process uploads to a blob store, numbered from 1.

The writer buffers messages and uploads them every ``interval`` seconds as chunk 1, 2, ...: one
JSON message per line, plain, or a zstd frame when the reader advertised that it accepts one
(``"accept_compression": ["zstd"]`` in its params). The reader keeps a counter in step with the
writer's: a thread downloads the chunk the counter names, every ``interval`` seconds, and as many
more as are there; each goes through the same hot path as a message file, its lines numbered
within the chunk. A chunk is read once.

Closing is prompt. Once ``closed`` has arrived the thread stops polling. When the session closes
(the external process has exited, so every chunk it uploaded is there) the thread wakes at once,
reads what is left — output captured with ``include_stdio_in_messages`` comes after ``closed``,
as with a message file — and stops. A chunk the writer skipped does not stall it: at that last sweep, if
chunk N is missing but one of the next ``MAX_SKIPPED_CHUNKS`` exists, the missing ones are
reported and reading goes on from there.
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, Optional, Union

import zstandard

from pipes_fast.errors import PipesError
from pipes_fast.protocol import PipesParams
from pipes_fast.readers.base import MessageStream, PipesMessageReader
from pipes_fast.readers.logs import PipesLogReader

if TYPE_CHECKING:
    from pipes_fast.handler import PipesMessageHandler

ACCEPT_COMPRESSION_KEY = "accept_compression"
"""The params key where a reader lists the chunk compressions it reads (``["zstd"]``)."""
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
"""The first bytes of a zstd frame: how a compressed chunk is recognised."""
MAX_CHUNK_BYTES = 1 << 30
"""A compressed chunk decompressing to more than this is refused (a bomb)."""
MAX_SKIPPED_CHUNKS = 16
"""How far past a missing chunk the last sweep looks for the writer's next one."""

Chunk = Union[str, bytes]


class PipesBlobStoreMessageReader(PipesMessageReader):
    """Reads message chunks 1, 2, ... from a blob store; subclass it for a store.

    A subclass provides :meth:`get_params` (where the writer puts chunks),
    :meth:`download_messages_chunk` (one chunk, or None while it does not exist) and
    :meth:`no_messages_debug_text`; optionally :meth:`messages_are_readable` and
    :meth:`chunk_name`. ``log_readers`` start once the external process has opened the pipes.
    """

    def __init__(self, interval: float = 10, log_readers: Optional[Sequence[PipesLogReader]] = None) -> None:
        self.interval = interval
        self.log_readers: list[PipesLogReader] = list(log_readers or ())
        self.counter = 1
        """The number of the next chunk to read."""
        self.final_sweep = False
        """True during the sweep after the session closed, when the writer has finished: a store
        where a chunk can be seen half-written (a plain filesystem) reads its newest chunk only then."""
        self.opened_payload: Optional[Mapping[str, Any]] = None
        self.launched_payload: Optional[Mapping[str, Any]] = None

    @abstractmethod
    def get_params(self) -> AbstractContextManager[PipesParams]:
        """A context manager yielding the params that tell the writer where to put chunks."""

    @abstractmethod
    def download_messages_chunk(self, index: int, params: PipesParams) -> Optional[Chunk]:
        """Chunk ``index`` as uploaded (text or bytes), or None if it does not exist (yet).

        Raise :class:`PipesError` for a chunk that will never be readable (it is skipped with a
        warning saying why); any other exception is taken as the store failing for now."""

    def messages_are_readable(self, params: PipesParams) -> bool:
        """Whether chunks can be read yet (e.g. the store exists); checked until it is True."""
        return True

    def chunk_name(self, index: int, params: PipesParams) -> str:
        """How warnings name chunk ``index`` (a subclass says where it is)."""
        return f"chunk {index}"

    def on_opened(self, opened_payload: Mapping[str, Any]) -> None:
        self.opened_payload = opened_payload

    def on_launched(self, launched_payload: Mapping[str, Any]) -> None:
        self.launched_payload = launched_payload

    def add_log_reader(self, log_reader: PipesLogReader) -> None:
        """Attach a log reader, e.g. once the launched process says where its logs go."""
        self.log_readers.append(log_reader)

    @contextmanager
    def read_messages(self, handler: PipesMessageHandler) -> Iterator[PipesParams]:
        # a client runs every session through the same reader: each starts from chunk 1
        self.counter, self.final_sweep, self.opened_payload, self.launched_payload = 1, False, None, None
        with self.get_params() as params:
            session_closed = threading.Event()
            thread = threading.Thread(
                target=self._read, args=(handler, params, session_closed), name="pipes_fast blob reader", daemon=True
            )
            thread.start()
            try:
                yield {**params, ACCEPT_COMPRESSION_KEY: ["zstd"]}
            finally:
                session_closed.set()
                thread.join()

    def _read(self, handler: PipesMessageHandler, params: PipesParams, session_closed: threading.Event) -> None:
        """The reader thread: chunks every ``interval`` seconds until ``closed`` arrives, then
        nothing until the session closes; then the last sweep."""
        logs = _LogReaders(self, session_closed)
        readable = False
        try:
            while True:
                closing = session_closed.is_set()  # seen before the sweep: every chunk uploaded before is read
                if not readable:
                    params = {**params, **(self.launched_payload or {})}
                    readable = self.messages_are_readable(params)
                if readable:
                    self.final_sweep = closing
                    self._read_available(handler, params)
                logs.start_readable(params, handler)
                if closing:
                    break
                session_closed.wait(None if handler.received_closed_message else self.interval)
            if not readable:
                handler.warn(f"[pipes] the messages of {type(self).__name__} never became readable")
        finally:
            logs.stop(params, handler)

    def _read_available(self, handler: PipesMessageHandler, params: PipesParams) -> None:
        """Read chunks from the counter on while they exist; on the final sweep, skip missing ones
        (until ``closed`` has arrived: nothing is expected after it but trailing output)."""
        refused = 0
        while refused < MAX_SKIPPED_CHUNKS:
            try:
                chunk = self.download_messages_chunk(self.counter, params)
                if chunk is None and self.final_sweep and not handler.received_closed_message:
                    chunk = self._skip_missing(handler, params)
            except PipesError as refusal:  # this chunk will never do: say why and go on
                handler.warn(f"[pipes] skipped {self.chunk_name(self.counter, params)}: {refusal}")
                self.counter += 1
                refused += 1
                continue
            except Exception as exc:  # the store failing now and then: try again at the next poll
                handler.warn(f"[pipes] could not download {self.chunk_name(self.counter, params)}: {exc!r:.300}")
                return
            if chunk is None:
                return
            refused = 0
            self._handle_chunk(handler, self.counter, params, chunk)
            self.counter += 1

    def _skip_missing(self, handler: PipesMessageHandler, params: PipesParams) -> Optional[Chunk]:
        """The next chunk within ``MAX_SKIPPED_CHUNKS`` past a missing one (the counter moved to
        it, the missing ones reported), or None if there is none."""
        for later in range(self.counter + 1, self.counter + 1 + MAX_SKIPPED_CHUNKS):
            chunk = self.download_messages_chunk(later, params)
            if chunk is not None:
                missing = ", ".join(self.chunk_name(i, params) for i in range(self.counter, later))
                handler.warn(f"[pipes] the writer skipped {missing}: reading on from {self.chunk_name(later, params)}")
                self.counter = later
                return chunk
        return None

    def _handle_chunk(self, handler: PipesMessageHandler, index: int, params: PipesParams, chunk: Chunk) -> None:
        name = self.chunk_name(index, params)
        data = chunk.encode("utf-8", "surrogateescape") if isinstance(chunk, str) else chunk
        if data.startswith(ZSTD_MAGIC):
            try:
                data = _decompress(data)
            except zstandard.ZstdError as exc:
                handler.warn(f"[pipes] skipped {name}: not a readable zstd frame ({exc})")
                return
        if not data or data.isspace():
            handler.warn(f"[pipes] {name} is empty")
            return
        stream = MessageStream(handler, f"line of {name}")
        stream.feed(data)
        stream.close()  # the last line of a chunk has no newline


def _decompress(data: bytes) -> bytes:
    """A zstd frame's content, refused past ``MAX_CHUNK_BYTES`` (its size is not always in the header)."""
    reader = zstandard.ZstdDecompressor().stream_reader(data)
    content = reader.read(MAX_CHUNK_BYTES + 1)
    if len(content) > MAX_CHUNK_BYTES:
        raise zstandard.ZstdError(f"it decompresses to more than {MAX_CHUNK_BYTES} bytes")
    return content


class _LogReaders:
    """A message reader's log readers: started once the pipes are opened and their target is
    readable, stopped at close (each reads what is left first)."""

    def __init__(self, reader: PipesBlobStoreMessageReader, session_closed: threading.Event) -> None:
        self._reader = reader
        self._session_closed = session_closed
        self._started: list[PipesLogReader] = []
        self._failed: list[PipesLogReader] = []

    def start_readable(self, params: PipesParams, handler: PipesMessageHandler) -> None:
        opened = self._reader.opened_payload
        if opened is None:
            return
        params = {**params, **opened}
        for log_reader in self._reader.log_readers:
            if log_reader in self._started or log_reader in self._failed:
                continue
            try:
                if log_reader.target_is_readable(params):
                    log_reader.start(params, self._session_closed)
                    self._started.append(log_reader)
            except Exception as exc:  # one log reader failing must not stop the messages
                handler.warn(log_reader.with_debug_info(f"[pipes] {log_reader.name} could not start: {exc!r:.300}"))
                self._failed.append(log_reader)

    def stop(self, params: PipesParams, handler: PipesMessageHandler) -> None:
        self.start_readable(params, handler)  # one last look: logs are often uploaded as the process ends
        for log_reader in self._reader.log_readers:
            if log_reader in self._started:
                try:
                    log_reader.stop()
                except Exception as exc:
                    handler.warn(log_reader.with_debug_info(f"[pipes] {log_reader.name} did not stop cleanly: {exc!r:.300}"))
            elif log_reader not in self._failed and self._reader.opened_payload is not None:
                handler.warn(log_reader.with_debug_info(f"[pipes] the log of {log_reader.name} was never readable"))
