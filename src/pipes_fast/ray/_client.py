"""Run an external process as a Ray job inside a Pipes session (dagster-ray's ``PipesRayJobClient``)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, Callable, Optional

from pipes_fast._system.signals import sigterm_as_keyboard_interrupt
from pipes_fast.clients.base import PipesClient, PipesClientCompletedInvocation
from pipes_fast.context import StepContext
from pipes_fast.errors import PipesExecutionError
from pipes_fast.handler import format_exception
from pipes_fast.injectors import PipesContextInjector, PipesEnvContextInjector
from pipes_fast.protocol import PipesExtras
from pipes_fast.ray._logs import LAUNCHED_ADDRESS, LAUNCHED_JOB_ID, PipesRayJobMessageReader, is_message_line
from pipes_fast.readers.base import PipesMessageReader
from pipes_fast.session import as_step_context, open_pipes_session

STOP_WAIT_SECONDS = 20.0
"""After ``stop_job`` (interrupt or timeout), how long ``run`` waits for the job to end."""

UNREACHABLE_SECONDS = 60.0
"""How long ``run`` goes on looking when a job's status cannot be read (the dashboard restarting,
a network blip) before it gives up on the job."""

SHORTEST_PAUSE_SECONDS = 0.1
PAUSE_FRACTION = 0.05
"""The pause between two looks at a job's status is ``PAUSE_FRACTION`` of the time since the job
was submitted (or since its last sign of ending), at least ``SHORTEST_PAUSE_SECONDS`` and at
most ``poll_interval``: a short job's end is seen within a fraction of a second, a long one's
within ``poll_interval``, for a few dozen more looks than a steady ``poll_interval`` takes."""

_LOG_TAIL_CHARS = 2000
_TERMINAL = frozenset({"SUCCEEDED", "FAILED", "STOPPED"})


def _status_name(status: Any) -> str:
    """``JobStatus.RUNNING`` -> ``"RUNNING"`` (Ray's enum is a ``str`` enum)."""
    return str(getattr(status, "value", status))


def _output_tail(log: str) -> str:
    """The last of a job's log without its Pipes message lines."""
    lines = [line for line in log.splitlines(keepends=True) if not is_message_line(line.encode("utf-8", "replace"))]
    return "".join(lines)[-_LOG_TAIL_CHARS:]


class PipesRayJobClient(PipesClient):
    """Runs an external script as a Ray job with the Pipes protocol (dagster-ray's signature).

    ``address`` is the Ray dashboard's (``http://127.0.0.1:8265``; None: Ray's default lookup).
    The context goes into the job's ``runtime_env.env_vars`` (merged with the user's); messages
    come back through the job's log (the script prints them to stdout), or through
    ``message_reader`` when given (a file or directory on a shared filesystem, S3). The job status
    is polled after pauses that grow with the job's age, from 0.1 s up to ``poll_interval``
    seconds (``PAUSE_FRACTION``); a job still running after ``timeout`` seconds is
    stopped and an error raised, as is one whose status cannot be read for
    ``UNREACHABLE_SECONDS``. With ``forward_termination``, an interrupt (KeyboardInterrupt, or
    SIGTERM while ``run`` is in progress) stops the job, waits up to ``STOP_WAIT_SECONDS`` for it
    to end, and re-raises.

    Every ``run`` launches a new job. Inside Dagster, ``pipes_fast.dagster.ray.PipesRayJobClient``
    (same arguments) returns Dagster's result types and reattaches a retried step to the job its
    earlier attempt launched.
    """

    _execution_error: type[PipesExecutionError] = PipesExecutionError
    _invocation: Callable[..., Any] = PipesClientCompletedInvocation

    def __init__(
        self,
        address: Optional[str] = None,
        *,
        context_injector: Optional[PipesContextInjector] = None,
        message_reader: Optional[PipesMessageReader] = None,
        forward_termination: bool = True,
        timeout: float = 600,
        poll_interval: float = 1,
    ) -> None:
        self.address = address
        self.context_injector = context_injector or PipesEnvContextInjector()
        self.message_reader = message_reader
        self.forward_termination = forward_termination
        self.timeout = timeout
        self.poll_interval = poll_interval
        self._job_client: Any = None

    @property
    def job_client(self) -> Any:
        """The ``ray.job_submission.JobSubmissionClient`` for ``address`` (made on first use)."""
        if self._job_client is None:
            from ray.job_submission import JobSubmissionClient

            self._job_client = JobSubmissionClient(self.address)
        return self._job_client

    def run(  # type: ignore[override]
        self,
        *,
        context: StepContext,
        submit_job_params: Mapping[str, Any],
        extras: Optional[PipesExtras] = None,
    ) -> PipesClientCompletedInvocation:
        """Submit the job (``JobSubmissionClient.submit_job`` arguments), wait for it to end and
        return what it reported.

        Raises ``PipesExecutionError`` if the job fails, is stopped or times out, naming its
        status, the exception the script reported and the last of its log. Inside Dagster, use
        ``pipes_fast.dagster.ray.PipesRayJobClient`` (same arguments, Dagster's result types); a
        Dagster context here raises ``TypeError``.
        """
        step = as_step_context(context, "pipes_fast.dagster.ray.PipesRayJobClient")
        completed: PipesClientCompletedInvocation = self._run(step, submit_job_params, extras)
        return completed

    def _open_session(
        self, context: Any, reader: PipesMessageReader, extras: Optional[PipesExtras]
    ) -> AbstractContextManager[Any]:
        """The session to run in."""
        return open_pipes_session(context, self.context_injector, reader, extras)

    def _default_reader(self) -> PipesMessageReader:
        return PipesRayJobMessageReader(self.job_client)

    def _run(self, context: Any, submit_job_params: Mapping[str, Any], extras: Optional[PipesExtras]) -> Any:
        """``run``, for this client's kind of session, invocation and error."""
        client = self.job_client
        reader = self.message_reader or self._default_reader()
        with sigterm_as_keyboard_interrupt(), self._open_session(context, reader, extras) as session:
            log = context_log(session)
            address = client.get_address()  # resolved, where ``address`` was None
            job_id = self._reattach(context, client, reader, log, submit_job_params)
            if job_id is None:
                job_id = self._submit(context, client, session, submit_job_params)
                self._record_launch(context, job_id, address, submit_job_params)
                log.info(f"[pipes] Ray job {job_id} submitted to {address}; waiting for it to end.")
            session.report_launched({"extras": {LAUNCHED_JOB_ID: job_id, LAUNCHED_ADDRESS: address}})
            status = self._wait(client, job_id, log, _EndSigns(session, reader))
        if status != "SUCCEEDED":
            raise self._execution_error(self._describe_failure(client, job_id, status, session))
        return self._invocation(session, metadata={"Ray Job ID": job_id})

    def _submit(self, context: Any, client: Any, session: Any, submit_job_params: Mapping[str, Any]) -> str:
        """Submit a new job with the session's bootstrap env vars; its id."""
        params = dict(submit_job_params)
        job_id = str(params.pop("submission_id", None) or f"pipes-{uuid.uuid4().hex}")
        runtime_env = dict(params.pop("runtime_env", None) or {})
        runtime_env["env_vars"] = {**(runtime_env.get("env_vars") or {}), **session.get_bootstrap_env_vars()}
        params["metadata"] = {**self._job_metadata(context), **(params.get("metadata") or {})}
        try:
            client.submit_job(submission_id=job_id, runtime_env=runtime_env, **params)
        except Exception as exc:
            raise self._execution_error(f"could not submit Ray job {job_id}: {exc}") from exc
        return job_id

    def _reattach(
        self, context: Any, client: Any, reader: PipesMessageReader, log: Any, submit_job_params: Mapping[str, Any]
    ) -> Optional[str]:
        """The job an earlier attempt of this step launched with these params, if it is pending,
        running or succeeded and its messages come through its log (this attempt then follows it
        from the start); else None (a new job is launched)."""
        handle = self._launch_handle(context, submit_job_params)
        if handle is None:
            return None
        job_id = str(handle.external_run_id)
        earlier = f"[pipes] Ray job {job_id}, launched by an earlier attempt of this step,"
        if not isinstance(reader, PipesRayJobMessageReader):
            log.info(f"{earlier} is left alone: its messages go to that attempt's message reader. Launching a new job.")
            return None
        try:
            status = _status_name(client.get_job_status(job_id))
        except Exception as exc:
            log.warning(f"{earlier} cannot be found ({exc}); launching a new job.")
            return None
        if status in ("FAILED", "STOPPED"):
            log.info(f"{earlier} ended {status}; launching a new job.")
            return None
        self._record_reattach(context, handle)
        log.info(f"{earlier} is {status}: reattaching and reading its messages from the start.")
        return job_id

    def _launch_handle(self, context: Any, submit_job_params: Mapping[str, Any]) -> Any:
        """The record (a ``PipesLaunchHandle``) of the job an earlier attempt of this step launched
        with these params, that no other ``run`` of this attempt follows, or None. Outside Dagster
        nothing is recorded: every ``run`` launches a new job."""
        return None

    def _record_launch(self, context: Any, job_id: str, address: str, submit_job_params: Mapping[str, Any]) -> None:
        """Record the job just launched, for a later attempt of this step to find."""

    def _record_reattach(self, context: Any, handle: Any) -> None:
        """Record that this attempt reattached to ``handle``'s job."""

    def _job_metadata(self, context: Any) -> dict[str, str]:
        """Metadata for the job besides the user's (a Dagster context adds its run's tags)."""
        return {}

    def _wait(self, client: Any, job_id: str, log: Any, signs: _EndSigns) -> str:
        """Poll until the job ends; stop it on timeout or interrupt. Its final status.

        Pauses between looks grow with the job's age (``PAUSE_FRACTION``); a sign of the job's
        end starts them over."""
        since = time.monotonic()
        deadline = since + self.timeout
        unreachable: Optional[float] = None  # since when the status could not be read
        try:
            while True:
                try:
                    status = _status_name(client.get_job_status(job_id))
                    unreachable = None
                except Exception as exc:
                    status, now = "UNKNOWN", time.monotonic()
                    if unreachable is None:
                        unreachable = now
                        log.warning(
                            f"[pipes] could not read the status of Ray job {job_id} ({exc}); "
                            f"trying again for up to {UNREACHABLE_SECONDS:g} s."
                        )
                    elif now - unreachable > UNREACHABLE_SECONDS:
                        raise self._execution_error(
                            f"lost contact with Ray job {job_id}: its status could not be read for "
                            f"{UNREACHABLE_SECONDS:g} s ({exc})"
                        ) from exc
                if status in _TERMINAL:
                    return status
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    log.warning(f"[pipes] Ray job {job_id} still running after {self.timeout} s: stopping it.")
                    client.stop_job(job_id)
                    self._wait_stopped(client, job_id)
                    return "TIMEOUT"
                age = time.monotonic() - since
                pause = min(max(SHORTEST_PAUSE_SECONDS, age * PAUSE_FRACTION), self.poll_interval, remaining)
                if signs.sleep(pause):
                    since = time.monotonic()
        except BaseException:
            if self.forward_termination:
                self._stop(client, job_id, log)
            raise

    def _stop(self, client: Any, job_id: str, log: Any) -> None:
        """Stop the job if it still runs and wait (bounded) for it to end; a second interrupt or
        an unreachable cluster ends the attempt."""
        try:
            if _status_name(client.get_job_status(job_id)) not in _TERMINAL:
                log.info(f"[pipes] execution interrupted, stopping Ray job {job_id}.")
                client.stop_job(job_id)
                self._wait_stopped(client, job_id)
        except KeyboardInterrupt:
            log.warning(f"[pipes] interrupted again: Ray job {job_id} may still be stopping.")
        except Exception as exc:
            log.warning(f"[pipes] could not stop Ray job {job_id}: {exc}")

    def _wait_stopped(self, client: Any, job_id: str) -> None:
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        while time.monotonic() < deadline and _status_name(client.get_job_status(job_id)) not in _TERMINAL:
            time.sleep(min(0.2, self.poll_interval))

    def _describe_failure(self, client: Any, job_id: str, status: str, session: Any) -> str:
        if status == "TIMEOUT":
            message = f"Ray job {job_id} timed out after {self.timeout} s and was stopped"
        else:
            message = f"Ray job {job_id} ended with status {status}"
            try:
                detail = str(client.get_job_info(job_id).message or "").splitlines()
            except Exception:
                detail = []
            if detail:
                message += f": {detail[0]}"
        exception = session.message_handler.exception
        if exception:
            message += f"\nThe external process reported: {format_exception(exception)}"
        try:
            tail = _output_tail(str(client.get_job_logs(job_id)))
        except Exception:
            tail = ""
        if tail:
            message += f"\nLast of its log:\n{tail}"
        return message


class _EndSigns:
    """Signs that a job is ending: the session's ``closed`` message arrived, or (with the job's
    log reader) the log stream ended."""

    def __init__(self, session: Any, reader: PipesMessageReader) -> None:
        self._handler = session.message_handler
        self._stream_ended = reader.stream_ended if isinstance(reader, PipesRayJobMessageReader) else None
        self.seen = False

    def _visible(self) -> bool:
        stream_ended = self._stream_ended is not None and self._stream_ended.is_set()
        return bool(self._handler.received_closed_message) or stream_ended

    def sleep(self, seconds: float) -> bool:
        """Sleep ``seconds``, cut short when the first sign appears; whether it was cut short."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if not self.seen and self._visible():
                self.seen = True
                return True
            time.sleep(left if self.seen else min(SHORTEST_PAUSE_SECONDS, left))
        return False


def context_log(session: Any) -> Any:
    """The step's logger (a StepContext's or a Dagster context's)."""
    return session.context.log
