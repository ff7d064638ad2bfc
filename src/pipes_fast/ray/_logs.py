"""Messages from a Ray job's log: followed as Ray streams it, then completed from the full log."""

from __future__ import annotations

import asyncio
import codecs
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Optional

from pipes_fast import _hotpath
from pipes_fast.handler import write_text
from pipes_fast.protocol import PipesParams
from pipes_fast.readers.base import MessageStream, PipesMessageReader

if TYPE_CHECKING:
    from pipes_fast.handler import PipesMessageHandler

STREAM_STOP_SECONDS = 10.0
"""How long closing the reader waits for the log-following thread to stop."""

_MESSAGE_MARK = b'"__dagster_pipes_version"'


def is_message_line(line: bytes) -> bool:
    """Whether a whole line of output is a Pipes message, as ``StdioDemux`` tells them apart
    (for the log tail of an error message, off the hot path)."""
    return line.lstrip(b" \t")[:1] == b"{" and _MESSAGE_MARK in line


class _LogDemux(MessageStream):
    """A job's output, fed in any pieces, split by the stdio transport's ``StdioDemux``: message
    lines are handled, every other byte goes to ``forward`` at once, in order."""

    def __init__(self, handler: PipesMessageHandler, source: str, forward: Callable[[bytes], None]) -> None:
        super().__init__(handler, source)
        self._framer = _hotpath.StdioDemux()  # its truncated_lines/max_line_bytes, as the framer's
        self._forward = forward

    def feed(self, data: bytes) -> None:
        messages, output = self._framer.feed(data)
        self._route(messages, output)

    def close(self) -> None:
        messages, output = self._framer.flush()
        self._route(messages, output)

    def _route(self, messages: list[bytes], output: bytes) -> None:
        if output:
            self._forward(output)
        if messages:
            self._handle(messages)


class _Stdout:
    """Forwards output bytes to this process's stdout (UTF-8, decoded across pieces)."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def __call__(self, data: bytes) -> None:
        write_text(sys.stdout, self._decoder.decode(data))


def make_demux(handler: PipesMessageHandler, source: str, forward: Callable[[bytes], None]) -> MessageStream:
    """The demultiplexer of a job's output: feed bytes, close at the end."""
    return _LogDemux(handler, source, forward)


class PipesRayJobMessageReader(PipesMessageReader):
    """Reads messages a Ray job prints to stdout (params ``{"stdio": "stdout"}``), from its log.

    Once the job is launched (``report_launched`` with ``{"job_id": ...}``), a thread follows the
    log with ``JobSubmissionClient.tail_job_logs``; on close, after the job ended, one read of the
    complete log (``get_job_logs``) handles whatever the stream had not delivered, so each
    message is handled exactly once. Ordinary output lines go to this process's stdout.
    ``client`` is the ``ray.job_submission.JobSubmissionClient`` to read through (else one for
    the launch payload's ``address``).
    """

    def __init__(self, client: Any = None, *, forward_output: bool = True) -> None:
        self._client = client
        self._forward_output = forward_output
        self._lock = threading.Lock()
        self._stream: Optional[MessageStream] = None
        self._job_id: Optional[str] = None
        self._consumed = 0  # characters of the log already fed
        self._thread: Optional[threading.Thread] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._task: Optional[asyncio.Task[None]] = None
        self.stream_ended = threading.Event()
        """Set once the log stream ended (the job reached a terminal state) or failed."""
        self.stream_error: Optional[BaseException] = None

    @contextmanager
    def read_messages(self, handler: PipesMessageHandler) -> Iterator[PipesParams]:
        forward: Callable[[bytes], None] = _Stdout() if self._forward_output else (lambda data: None)
        self._stream = make_demux(handler, "line of the Ray job's log", forward)
        self._job_id = None
        self._consumed = 0
        self.stream_ended.clear()
        try:
            yield {"stdio": "stdout"}
        finally:
            self._finish(handler)

    def on_launched(self, launched_payload: Mapping[str, Any]) -> None:
        job_id = launched_payload.get("job_id")
        if not isinstance(job_id, str) or self._stream is None or self._job_id is not None:
            return
        if self._client is None:
            from ray.job_submission import JobSubmissionClient

            self._client = JobSubmissionClient(launched_payload.get("address"))
        self._job_id = job_id
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._task = loop.create_task(self._follow(job_id))
        self._thread = threading.Thread(target=self._run_loop, name=f"pipes-ray-logs-{job_id}", daemon=True)
        self._thread.start()

    def no_messages_debug_text(self) -> str:
        return "Attempted to read messages from the Ray job's log (the external process writes them to stdout)."

    def _run_loop(self) -> None:
        assert self._loop is not None and self._task is not None
        try:
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # the stream broke: the final read of the full log covers it
            self.stream_error = exc
        finally:
            self._loop.close()
            self.stream_ended.set()

    async def _follow(self, job_id: str) -> None:
        async for text in self._client.tail_job_logs(job_id):
            self._feed(text)

    def _feed(self, text: str) -> None:
        with self._lock:
            assert self._stream is not None
            self._stream.feed(text.encode("utf-8", "backslashreplace"))
            self._consumed += len(text)

    def _stop_following(self) -> bool:
        """Stop the log-following thread (bounded); whether it stopped."""
        thread, loop, task = self._thread, self._loop, self._task
        if thread is None or loop is None or task is None:
            return True
        if not self.stream_ended.is_set():
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:  # the loop closed meanwhile
                pass
        thread.join(STREAM_STOP_SECONDS)
        return not thread.is_alive()

    def _finish(self, handler: PipesMessageHandler) -> None:
        stopped = self._stop_following()
        stream, job_id = self._stream, self._job_id
        self._thread = self._loop = self._task = None
        if stream is None:
            return
        if job_id is not None and self._client is not None:
            if not stopped:
                handler.warn(f"[pipes] the log stream of Ray job {job_id} did not stop; its last messages may be missing")
                return
            rest = str(self._client.get_job_logs(job_id))[self._consumed :]
            if rest:
                self._feed(rest)
        stream.close()
        self._stream = None
