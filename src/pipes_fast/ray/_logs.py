"""Messages from a Ray job's log: followed as Ray streams it, then completed from the full log."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Optional

from pipes_fast.protocol import PipesParams
from pipes_fast.readers.stdio import PipesStdioMessageReader, write_to_own_stream

if TYPE_CHECKING:
    from pipes_fast.handler import PipesMessageHandler

STREAM_STOP_SECONDS = 10.0
"""How long closing the reader waits for the log-following thread to stop."""

LAUNCHED_JOB_ID, LAUNCHED_ADDRESS = "ray_job_id", "ray_address"
"""The keys of ``report_launched``'s ``extras`` (dagster-ray's): the job's id and the dashboard address."""

_MESSAGE_MARK = b'"__dagster_pipes_version"'


def is_message_line(line: bytes) -> bool:
    """Whether a whole line of output is a Pipes message, as ``StdioDemux`` tells them apart
    (for the log tail of an error message, off the hot path)."""
    return line.lstrip(b" \t")[:1] == b"{" and _MESSAGE_MARK in line


class PipesRayJobMessageReader(PipesStdioMessageReader):
    """Reads messages a Ray job prints to stdout (params ``{"stdio": "stdout"}``), from its log.

    Once the job is launched (``report_launched`` with ``{"extras": {"ray_job_id": ...}}``, as
    dagster-ray's client reports it; ``"ray_address"`` too when no ``client`` is given), a thread follows the
    log with ``JobSubmissionClient.tail_job_logs``; on close, after the job ended, one read of the
    complete log (``get_job_logs``) handles whatever the stream had not delivered, so each
    message is handled exactly once. The log goes through the stdio transport
    (``PipesStdioMessageReader``); ordinary output goes to this process's stdout as it arrives
    (``forward_output=False``: dropped).
    ``client`` is the ``ray.job_submission.JobSubmissionClient`` to read through (else one for
    the launch payload's ``address``).
    """

    def __init__(self, client: Any = None, *, forward_output: bool = True) -> None:
        super().__init__("stdout")
        self._client = client
        self._forward_output = forward_output
        self._feeding = threading.Lock()
        self._reading = False
        self._job_id: Optional[str] = None
        self._consumed = 0  # characters of the log already fed
        self._thread: Optional[threading.Thread] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._task: Optional[asyncio.Task[None]] = None
        self.stream_ended = threading.Event()
        """Set once the log stream ended (the job reached a terminal state) or failed."""

    @contextmanager
    def read_messages(self, handler: PipesMessageHandler) -> Iterator[PipesParams]:
        with super().read_messages(handler) as params:
            self._job_id = None
            self._consumed = 0
            self.stream_ended.clear()
            self._reading = True
            try:
                yield params
            finally:
                self._reading = False
                self._finish(handler)

    def on_launched(self, launched_payload: Mapping[str, Any]) -> None:
        extras = launched_payload.get("extras")
        if not isinstance(extras, Mapping):
            return
        job_id = extras.get(LAUNCHED_JOB_ID)
        if not isinstance(job_id, str) or not self._reading or self._job_id is not None:
            return
        if self._client is None:
            from ray.job_submission import JobSubmissionClient

            self._client = JobSubmissionClient(extras.get(LAUNCHED_ADDRESS))
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
        except Exception:  # the stream broke: the final read of the full log covers it
            pass
        finally:
            self._loop.close()
            self.stream_ended.set()

    async def _follow(self, job_id: str) -> None:
        async for text in self._client.tail_job_logs(job_id):
            self._feed(text)

    def _feed(self, text: str) -> None:
        with self._feeding:
            output = self.feed(text.encode("utf-8", "backslashreplace"))
            self._consumed += len(text)
        if output and self._forward_output:
            write_to_own_stream("stdout", output)

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
        """Stop following; once the job ended, handle the part of its full log not yet fed."""
        stopped = self._stop_following()
        job_id = self._job_id
        self._thread = self._loop = self._task = None
        if job_id is None or self._client is None:
            return
        if not stopped:
            handler.warn(f"[pipes] the log stream of Ray job {job_id} did not stop; its last messages may be missing")
            return
        try:
            log = str(self._client.get_job_logs(job_id))
        except Exception as exc:  # Ray's job API decodes the log as UTF-8 and fails on other bytes
            cause = str(exc).strip().splitlines()[-1:] or [type(exc).__name__]
            handler.warn(
                f"[pipes] could not read the log of Ray job {job_id} ({cause[0]}): what it printed after its first "
                f"{self._consumed} characters is missing, messages included. If a job may print bytes that are not "
                "UTF-8, which Ray's job API cannot serve, pass a file, directory or S3 message reader."
            )
            return
        rest = log[self._consumed :]
        if rest:
            self._feed(rest)
