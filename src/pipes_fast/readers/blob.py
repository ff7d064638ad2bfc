"""Readers of message chunks that the external process uploads to a blob store, numbered from 1.

The writer buffers messages and uploads them every ``interval`` seconds as chunk 1, 2, ...: one
JSON message per line, plain, or zstd frames when the reader advertised that it accepts them
(``"accept_compression": ["zstd"]`` in its params). Each session has its own reading thread and
its own counter, kept in step with the writer's: the thread downloads the chunk the counter names
every ``interval`` seconds, and as many more as are there; each goes through the same hot path as
a message file, its lines numbered within the chunk. A chunk is read once.

Closing is prompt and bounded. Once ``closed`` has arrived the thread stops polling. When the
session closes (the external process has exited, so every chunk it uploaded is there) the thread
wakes at once and makes the final sweep: it reads what is left (output captured with
``include_stdio_in_messages`` comes after ``closed``, as with a message file), retrying a store
that fails with a growing pause, and goes past chunks the writer never uploaded to the last one it
did (found by listing the store, or by looking ``MAX_SKIPPED_CHUNKS`` ahead where the store cannot
list). The whole sweep gets ``close_timeout`` seconds: whatever could not be read by then, the
store failing or not answering, is a warning naming the chunks, and the session closes anyway.
"""

from __future__ import annotations

import re
import threading
import time
from abc import abstractmethod
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, Optional, Union

from pipes_fast.errors import PipesError
from pipes_fast.protocol import PipesParams
from pipes_fast.readers._chunk import MAX_CHUNK_BYTES, feed_chunk
from pipes_fast.readers.base import MessageStream, PipesMessageReader
from pipes_fast.readers.logs import PipesLogReader

if TYPE_CHECKING:
    from pipes_fast.handler import PipesMessageHandler

__all__ = [
    "ACCEPT_COMPRESSION_KEY",
    "CLOSE_TIMEOUT_SECONDS",
    "MAX_CHUNK_BYTES",
    "MAX_SKIPPED_CHUNKS",
    "Chunk",
    "PipesBlobStoreMessageReader",
    "chunk_index",
]

ACCEPT_COMPRESSION_KEY = "accept_compression"
"""The params key where a reader lists the chunk compressions it reads (``["zstd"]``)."""
MAX_SKIPPED_CHUNKS = 16
"""How far past a missing chunk the final sweep looks, where the store cannot list its chunks."""
CLOSE_TIMEOUT_SECONDS = 30.0
"""The default budget of the final sweep, from the session closing to the reader returning."""
HANDING_WAIT_SECONDS = 5.0
"""How long close waits, past ``close_timeout``, for a chunk being handed to the handler then."""
RETRY_PAUSES = (0.05, 0.1, 0.2, 0.5, 1.0)
"""The pauses between attempts at a store that failed (the last one repeats)."""

Chunk = Union[str, bytes]

_CHUNK_NAME = re.compile(r"([1-9][0-9]{0,17})\.json")


def chunk_index(name: str) -> Optional[int]:
    """The number of the chunk a file or object is named after (``"12.json"``: 12), or None."""
    match = _CHUNK_NAME.fullmatch(name)
    return int(match[1]) if match else None


class PipesBlobStoreMessageReader(PipesMessageReader):
    """Reads message chunks 1, 2, ... from a blob store; subclass it for a store.

    A subclass provides :meth:`get_params` (where the writer puts chunks: a new place for each
    session), :meth:`download_messages_chunk` (one chunk, or None while it does not exist) and
    :meth:`no_messages_debug_text`; optionally :meth:`list_chunks`, :meth:`chunk_is_settled`,
    :meth:`messages_are_readable` and :meth:`chunk_name`. ``log_readers`` start once the external
    process has opened the pipes. ``close_timeout`` bounds the final sweep (see the module).

    Sessions may run at the same time through one reader, each reading its own chunks, unless the
    reader has log readers (they follow one log each): then a second session at the same time is
    refused with a :class:`PipesError`.
    """

    def __init__(
        self,
        interval: float = 10,
        log_readers: Optional[Sequence[PipesLogReader]] = None,
        *,
        close_timeout: float = CLOSE_TIMEOUT_SECONDS,
    ) -> None:
        self.interval = interval
        self.log_readers: list[PipesLogReader] = list(log_readers or ())
        self.close_timeout = close_timeout
        self.counter = 1
        """The number of the next chunk the most recently opened session reads (as Dagster's reader has it)."""
        self.opened_payload: Optional[Mapping[str, Any]] = None
        self.launched_payload: Optional[Mapping[str, Any]] = None
        self._open_sessions = 0
        self._sessions_lock = threading.Lock()

    @abstractmethod
    def get_params(self) -> AbstractContextManager[PipesParams]:
        """A context manager yielding the params that tell the writer where to put chunks."""

    @abstractmethod
    def download_messages_chunk(self, index: int, params: PipesParams) -> Optional[Chunk]:
        """Chunk ``index`` as uploaded (text or bytes), or None if it does not exist (yet).

        Raise :class:`PipesError` for a chunk that will never be readable (it is skipped with a
        warning saying why); any other exception is taken as the store failing for now."""

    def list_chunks(self, params: PipesParams) -> Optional[Collection[int]]:
        """The numbers of the chunks that exist now, or None where the store cannot list them.

        Raise for a store failing for now (the final sweep tries again)."""
        return None

    def chunk_is_settled(self, index: int, params: PipesParams) -> bool:
        """Whether chunk ``index`` can be read before the final sweep: False for a store where a
        chunk can be seen half-written (the writer writes in place), until the writer has moved on."""
        return True

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
        with self._session_slot(), self.get_params() as params:
            self.counter, self.opened_payload, self.launched_payload = 1, None, None
            session = _ChunkSession(self, handler, params)
            session.start()
            try:
                yield {**params, ACCEPT_COMPRESSION_KEY: ["zstd"]}
            finally:
                session.close()

    @contextmanager
    def _session_slot(self) -> Iterator[None]:
        """Counts the open sessions; refuses a second one at a time when there are log readers."""
        with self._sessions_lock:
            if self._open_sessions and self.log_readers:
                raise PipesError(
                    f"this {type(self).__name__} is already reading a session and has log readers, which"
                    " follow one log each: give each concurrent session a reader of its own"
                )
            self._open_sessions += 1
        try:
            yield
        finally:
            with self._sessions_lock:
                self._open_sessions -= 1


class _StoreFailing(Exception):
    """The store failed at something the final sweep needs, past its budget."""


class _Abandoned(Exception):
    """Close stopped waiting for this session's thread: it ends without touching the handler."""


class _ChunkSession:
    """One session's reading of its chunks: the thread, its counter and its close."""

    def __init__(self, reader: PipesBlobStoreMessageReader, handler: PipesMessageHandler, params: PipesParams) -> None:
        self.reader = reader
        self.handler = handler
        self.params = params
        self.counter = 1
        self.closing = threading.Event()
        self.deadline = float("inf")
        """When the final sweep must end (set as the session closes)."""
        self.abandoned = False
        """Set when close stopped waiting: the thread hands nothing more to the handler."""
        self.handing = threading.Lock()
        """Held while a chunk goes to the handler, so that close never cuts one in half."""
        self.store_failing = False
        """Whether the store's last answer was a failure (warned about once, until a chunk is read)."""
        self.thread = threading.Thread(target=self._run, name="pipes_fast blob reader", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        """Wake the thread for the final sweep; wait for it at most ``close_timeout`` (and for the
        chunk it may be handing to the handler then)."""
        self.deadline = time.monotonic() + self.reader.close_timeout
        self.closing.set()
        self.thread.join(self.reader.close_timeout)
        if self.thread.is_alive():
            handing = self.handing.acquire(timeout=HANDING_WAIT_SECONDS)
            self.abandoned = True
            if handing:
                self.handing.release()
            self.handler.warn(
                f"[pipes] gave up reading after {self.reader.close_timeout:g} s, the store not answering:"
                f" {self._name(self.counter)} and any after it were not read"
            )

    # ----- the thread -----

    def _run(self) -> None:
        """Chunks every ``interval`` seconds until ``closed`` arrives, then nothing until the
        session closes; then the final sweep."""
        reader, handler = self.reader, self.handler
        logs = _LogReaders(reader, handler, self.closing)
        params = self.params
        readable = False
        try:
            while not self.closing.is_set():
                readable = readable or self._readable(params)
                if readable:
                    params = {**self.params, **(reader.launched_payload or {})}
                    self._poll(params)
                logs.start_readable(params)
                self.closing.wait(None if handler.received_closed_message else reader.interval)
            params = {**self.params, **(reader.launched_payload or {})}
            if readable or self._readable(params):
                self._final_sweep(params)
            else:
                handler.warn(f"[pipes] the messages of {type(reader).__name__} never became readable")
        except _Abandoned:
            pass  # the session has closed without this thread: nothing more reaches its handler
        finally:
            logs.stop(params)

    def _readable(self, params: PipesParams) -> bool:
        try:
            return self.reader.messages_are_readable({**params, **(self.reader.launched_payload or {})})
        except Exception as exc:  # the store failing for now: not readable yet
            self._warn_failure(0, exc)
            return False

    def _poll(self, params: PipesParams) -> None:
        """Read settled chunks from the counter on while they exist; a failure waits for the next poll."""
        while not self.closing.is_set():
            if not self.reader.chunk_is_settled(self.counter, params):
                return
            try:
                chunk = self.reader.download_messages_chunk(self.counter, params)
            except PipesError as refusal:
                self._skip(refusal)
                continue
            except Exception as exc:  # the store failing now and then: try again at the next poll
                self._warn_failure(self.counter, exc)
                return
            if chunk is None:
                return
            self._hand(chunk)

    def _final_sweep(self, params: PipesParams) -> None:
        """Read everything the writer uploaded, past gaps, retrying failures until the deadline."""
        listed_missing = 0  # a chunk the store lists but does not serve: tried once more, then skipped
        try:
            while True:
                try:
                    chunk = self._retrying(self.reader.download_messages_chunk, self.counter, params)
                    if chunk is None and listed_missing == self.counter:
                        raise PipesError("the store lists it but does not serve it")
                except PipesError as refusal:
                    self._skip(refusal)
                    continue
                if chunk is not None:
                    self._hand(chunk)
                    continue
                later = self._next_existing(params)
                if later is None:
                    return
                if later == self.counter:  # it is there now (the store was failing a moment ago)
                    listed_missing = later
                    continue
                missing = ", ".join(self._name(index) for index in range(self.counter, later))
                self.handler.warn(f"[pipes] the writer never uploaded {missing}: reading on from {self._name(later)}")
                self._advance(later)
        except _StoreFailing as failing:
            self.handler.warn(
                f"[pipes] gave up reading at close after {self.reader.close_timeout:g} s, the store failing:"
                f" {self._name(self.counter)} and any after it were not read ({failing})"
            )

    def _next_existing(self, params: PipesParams) -> Optional[int]:
        """The first chunk from the counter's (found missing) on that exists, or None: by listing
        the store, or, where it cannot list, by looking ``MAX_SKIPPED_CHUNKS`` ahead. Not after
        ``closed``: nothing but trailing output comes then, in order, so closing costs no listing."""
        if self.handler.received_closed_message:
            return None
        listed = self._retrying(self.reader.list_chunks, params)
        if listed is not None:
            return min((index for index in listed if index >= self.counter), default=None)
        for later in range(self.counter + 1, self.counter + 1 + MAX_SKIPPED_CHUNKS):
            if self._retrying(self.reader.download_messages_chunk, later, params) is not None:
                return later
        return None

    def _retrying(self, call: Any, *args: Any) -> Any:
        """``call(*args)``, tried again after a pause while it fails and the deadline allows."""
        attempt = 0
        while True:
            try:
                return call(*args)
            except PipesError:
                raise
            except Exception as exc:
                self._warn_failure(self.counter, exc)
                pause = RETRY_PAUSES[min(attempt, len(RETRY_PAUSES) - 1)]
                if time.monotonic() + pause >= self.deadline:
                    raise _StoreFailing(f"{exc!r:.300}") from exc
                time.sleep(pause)
                attempt += 1

    def _hand(self, chunk: Chunk) -> None:
        """Chunk ``counter`` to the handler (unless close gave up on this thread); the counter moves on."""
        name = self._name(self.counter)
        with self.handing:
            if self.abandoned:
                raise _Abandoned
            if self.store_failing:
                self.handler.warn(f"[pipes] read {name} after the store failed")
                self.store_failing = False
            data = chunk.encode("utf-8", "surrogateescape") if isinstance(chunk, str) else chunk
            if not data or data.isspace():
                self.handler.warn(f"[pipes] {name} is empty")
            else:
                stream = MessageStream(self.handler, f"line of {name}")
                feed_chunk(stream, data, name, self.handler.warn)
                stream.close()  # the last line of a chunk has no newline
        self._advance(self.counter + 1)

    def _skip(self, refusal: PipesError) -> None:
        self.handler.warn(f"[pipes] skipped {self._name(self.counter)}: {refusal}")
        self._advance(self.counter + 1)

    def _advance(self, counter: int) -> None:
        self.counter = self.reader.counter = counter

    def _warn_failure(self, index: int, exc: BaseException) -> None:
        """Warn about the store failing, once until a chunk is read again."""
        if not self.store_failing:
            what = self._name(index) if index else "the store"
            self.handler.warn(f"[pipes] could not read {what}, trying again: {exc!r:.300}")
            self.store_failing = True

    def _name(self, index: int) -> str:
        return self.reader.chunk_name(index, self.params)


class _LogReaders:
    """A session's log readers: started once the pipes are opened and their target is readable,
    stopped at close (each reads what is left first)."""

    def __init__(
        self, reader: PipesBlobStoreMessageReader, handler: PipesMessageHandler, session_closed: threading.Event
    ) -> None:
        self._reader = reader
        self._handler = handler
        self._session_closed = session_closed
        self._started: list[PipesLogReader] = []
        self._failed: list[PipesLogReader] = []

    def start_readable(self, params: PipesParams) -> None:
        opened = self._handler.opened_payload
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
                self._handler.warn(
                    log_reader.with_debug_info(f"[pipes] {log_reader.name} could not start: {exc!r:.300}")
                )
                self._failed.append(log_reader)

    def stop(self, params: PipesParams) -> None:
        self.start_readable(params)  # one last look: logs are often uploaded as the process ends
        for log_reader in self._reader.log_readers:
            if log_reader in self._started:
                try:
                    log_reader.stop()
                except Exception as exc:
                    self._handler.warn(
                        log_reader.with_debug_info(f"[pipes] {log_reader.name} did not stop cleanly: {exc!r:.300}")
                    )
            elif log_reader not in self._failed and self._handler.opened_payload is not None:
                self._handler.warn(
                    log_reader.with_debug_info(f"[pipes] the log of {log_reader.name} was never readable")
                )
