"""Ray jobs inside Dagster: ``pipes_fast.ray.PipesRayJobClient`` for a Dagster op or asset context.

Switch from dagster-ray by import::

    from pipes_fast.dagster.ray import PipesRayJobClient

Dagster's session, result types and errors, and Dagster's launch handles, so that a retried step
reattaches to its job. Needs the ``dagster`` and ``ray`` extras.
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, Optional

from pipes_fast.dagster import PipesClientCompletedInvocation, PipesExecutionError, open_pipes_session
from pipes_fast.dagster._internals import reattach
from pipes_fast.protocol import PipesExtras
from pipes_fast.ray import LAUNCHED_ADDRESS
from pipes_fast.ray import PipesRayJobClient as CorePipesRayJobClient
from pipes_fast.readers.base import PipesMessageReader


class PipesRayJobClient(CorePipesRayJobClient):
    """``pipes_fast.ray.PipesRayJobClient`` for a Dagster op or asset context, with the same
    arguments: what ``run`` returns holds Dagster's ``MaterializeResult``/``AssetCheckResult``; a
    failure raises ``pipes_fast.dagster.PipesExecutionError`` (Dagster's
    ``DagsterPipesExecutionError`` too).

    Each job launched is recorded in the run's event log as a ``PipesLaunchHandle``; a later
    attempt of the step (step retry, resumed run worker, retry of the run from failure) that runs
    a job with the same submit params finds it and, if the job is pending, running or succeeded,
    follows it from the start of its log instead of launching another (``timeout`` then counts
    from the reattachment). It launches a new one if the job failed, was stopped or cannot be
    found, or if messages come through another ``message_reader``."""

    _execution_error = PipesExecutionError
    _invocation = PipesClientCompletedInvocation

    def run(  # type: ignore[override]  # Dagster's context in, Dagster's completed invocation out
        self,
        *,
        context: Any,
        submit_job_params: Mapping[str, Any],
        extras: Optional[PipesExtras] = None,
    ) -> PipesClientCompletedInvocation:
        """Submit the job (``JobSubmissionClient.submit_job`` arguments), wait for it to end and
        return what it reported, as Dagster's types; raises :class:`PipesExecutionError` if the
        job fails, is stopped or times out."""
        completed: PipesClientCompletedInvocation = self._run(context, submit_job_params, extras)
        return completed

    def _job_metadata(self, context: Any) -> dict[str, str]:
        """The run's tags for external resources (run id, job, partition, ...), as dagster-ray adds them."""
        return dict(context.run.dagster_execution_info)

    def _open_session(
        self, context: Any, reader: PipesMessageReader, extras: Optional[PipesExtras]
    ) -> AbstractContextManager[Any]:
        return open_pipes_session(context, self.context_injector, reader, extras)

    def _launch_handle(self, context: Any, submit_job_params: Mapping[str, Any]) -> Any:
        if reattach is None:
            return None
        handle = reattach.find_latest_launch_handle(
            context.op_execution_context, client_name=_client_name(submit_job_params)
        )
        return handle if handle is not None and _claim(context, handle.external_run_id) else None

    def _record_launch(self, context: Any, job_id: str, address: str, submit_job_params: Mapping[str, Any]) -> None:
        if reattach is not None:
            _claim(context, job_id)  # before the record: no other run() of this attempt may take this job
            reattach.record_external_launch(
                context.op_execution_context,
                client_name=_client_name(submit_job_params),
                external_run_id=job_id,
                external_run_url=f"{address}/#/jobs/{job_id}",
                extras={LAUNCHED_ADDRESS: address},
            )

    def _record_reattach(self, context: Any, handle: Any) -> None:
        if reattach is not None:  # it is: only a handle found through it is reattached to
            reattach.record_external_reattach(context.op_execution_context, handle)


CLIENT_NAME = "pipes_fast.ray.PipesRayJobClient"
"""The ``client_name`` of this client's launch handles, before the digest of the submit params."""


def _client_name(submit_job_params: Mapping[str, Any]) -> str:
    """``CLIENT_NAME`` and a digest of the submit params: a step that runs several jobs finds, for
    each, the latest launched with the same params (Dagster keeps one latest handle per name)."""
    text = json.dumps(submit_job_params, sort_keys=True, default=repr)
    return f"{CLIENT_NAME}/{hashlib.sha256(text.encode()).hexdigest()[:16]}"


_claimed: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
_claiming = threading.Lock()


def _claim(context: Any, job_id: str) -> bool:
    """Take ``job_id`` for a ``run`` of this attempt of the step; False if another ``run`` of the
    attempt (concurrent, or earlier with the same params) took it first."""
    with _claiming:
        taken = _claimed.setdefault(context.get_step_execution_context(), set())
        if job_id in taken:
            return False
        taken.add(job_id)
        return True
