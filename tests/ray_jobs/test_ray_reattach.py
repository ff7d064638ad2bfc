"""A retried step reattaches to the Ray job its earlier attempt launched (Dagster's launch handles).

Real ``dagster.materialize`` runs with a ``RetryPolicy`` on one local Ray cluster: the step fails
after its job was launched, and the retry follows that job (running or succeeded) from the start
of its log instead of launching a second one; a job that failed is launched afresh.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Optional

import pytest

pytest.importorskip("ray.job_submission", reason="needs Ray: pip install '.[ray]'")
dagster = pytest.importorskip("dagster")

from pipes_fast import PipesFileMessageReader  # noqa: E402
from pipes_fast.dagster._internals import reattach  # noqa: E402
from pipes_fast.dagster.ray import PipesRayJobClient  # noqa: E402
from pipes_fast.ray import _client  # noqa: E402
from pipes_fast.ray.local_cluster import local_cluster  # noqa: E402

if reattach is None:
    pytest.skip("needs a Dagster with Pipes launch handles (1.13.21 and later)", allow_module_level=True)

pytestmark = [
    pytest.mark.reliability("one-import-dagster"),
    pytest.mark.filterwarnings("ignore::dagster.PreviewWarning"),
    pytest.mark.filterwarnings("ignore::dagster.BetaWarning"),
    pytest.mark.filterwarnings("ignore:ssl=None is deprecated:DeprecationWarning"),  # Ray's tail_job_logs
    pytest.mark.filterwarnings("ignore:AssetExecutionContext.run_id is deprecated:DeprecationWarning"),  # Dagster's own
    pytest.mark.filterwarnings(
        "ignore:AssetExecutionContext.dagster_run is deprecated:DeprecationWarning"
    ),  # dagster-ray's
]

KEYS = "abcde"
"""The step's assets."""

SCRIPT = """
    import os, pathlib, sys, time
    from pipes_fast.external import open_dagster_pipes

    go, fail_once = pathlib.Path(os.environ["GO"]), pathlib.Path(os.environ["FAIL_ONCE"])
    with open_dagster_pipes() as pipes:
        for seq, key in enumerate(os.environ["KEYS"]):
            if seq == 2:
                deadline = time.monotonic() + 30  # a bound, so that a broken test leaves no job behind
                while not go.exists() and time.monotonic() < deadline:
                    time.sleep(0.05)
            pipes.report_asset_materialization(asset_key=key, metadata={"seq": seq})
            pipes.report_custom_message(seq)
        if not fail_once.exists():
            fail_once.touch()
            sys.exit("the first job fails")
"""
"""Materializes the assets ``KEYS`` in order, waiting for the file ``GO`` before the third; fails
unless the file ``FAIL_ONCE`` exists (and creates it, so the next job succeeds)."""


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """The dashboard address of a fresh local Ray cluster, for the module."""
    with local_cluster() as address:
        yield address


class Job:
    """One scenario's script, the assets it materializes and its files: ``go`` lets the job
    finish, ``fail_once`` (when present) lets it succeed."""

    def __init__(self, folder: Path, *, go: bool, fail_first: bool, keys: str = KEYS) -> None:
        folder.mkdir(exist_ok=True)
        self.keys, self.script = keys, folder / "job.py"
        self.script.write_text(textwrap.dedent(SCRIPT))
        self.go, self.fail_once = folder / "go", folder / "fail_once"
        if go:
            self.go.touch()
        if not fail_first:
            self.fail_once.touch()

    def params(self) -> dict[str, Any]:
        env_vars = {k: v for k, v in os.environ.items() if k == "PIPES_FAST_NO_EXTENSIONS"}
        env_vars.update(GO=str(self.go), FAIL_ONCE=str(self.fail_once), KEYS=self.keys)
        return {"entrypoint": f"{sys.executable} {self.script}", "runtime_env": {"env_vars": env_vars}}

    def expected(self, job_id: str) -> list[tuple[str, int, str]]:
        """The materializations of ``job_id``, a run of this script."""
        return [(key, seq, job_id) for seq, key in enumerate(self.keys)]

    def submitted(self, address: str) -> list[Any]:
        """The Ray jobs submitted for this script, oldest first."""
        jobs = PipesRayJobClient(address).job_client.list_jobs()
        return sorted((j for j in jobs if j.entrypoint.endswith(str(self.script))), key=lambda j: j.start_time or 0)


class Run:
    """What a ``materialize`` with one retry gave: the run's log entries and the asset body's view."""

    def __init__(
        self, entries: list[Any], success: bool, job_ids: list[str], custom: Optional[list[Any]] = None
    ) -> None:
        self.entries, self.success, self.job_ids = entries, success, job_ids
        self.custom = custom or []  # the custom messages the last attempt's runs returned

    @classmethod
    def of(cls, instance: Any, result: Any, job_ids: list[str], custom: Optional[list[Any]] = None) -> Run:
        return cls(instance.all_logs(result.run_id), result.success, job_ids, custom)

    def materializations(self) -> list[tuple[str, Optional[int], str]]:
        """(asset, seq or None, Ray job id) of each materialization, in order."""
        found = []
        for entry in self.entries:
            event = entry.dagster_event
            if event is not None and event.event_type_value == "ASSET_MATERIALIZATION":
                m = event.event_specific_data.materialization
                seq = m.metadata["seq"].value if "seq" in m.metadata else None
                found.append((m.asset_key.to_user_string(), seq, m.metadata["Ray Job ID"].value))
        return found

    def handle_events(self, start: str) -> list[str]:
        """The messages of the run's launch-handle engine events that start with ``start``."""
        return [
            e.dagster_event.message
            for e in self.entries
            if e.dagster_event is not None
            and e.dagster_event.event_type_value == "ENGINE_EVENT"
            and (e.dagster_event.message or "").startswith(start)
        ]

    def logged(self, text: str) -> list[str]:
        return [e.user_message for e in self.entries if text in (e.user_message or "")]


Attempt = Callable[[Any], None]


def materialize(
    client: Any, *jobs: Job, before: Optional[Attempt] = None, after: Optional[Attempt] = None, implied: bool = False
) -> Run:
    """Materialize the step (one retry allowed): ``client`` runs each of ``jobs`` in turn; ``before``
    and ``after`` run in the asset body around them, given the context. ``implied``: assets the
    jobs did not report are materialized too (Dagster's default)."""
    job_ids: list[str] = []
    custom: list[Any] = []

    @dagster.multi_asset(
        specs=[dagster.AssetSpec(k) for k in KEYS],
        retry_policy=dagster.RetryPolicy(max_retries=1),
        required_resource_keys={"ray_client"},
    )
    def step(context):  # type: ignore[no-untyped-def]  # Dagster reads string annotations as names
        if before:
            before(context)
        runs = [context.resources.ray_client.run(context=context, submit_job_params=job.params()) for job in jobs]
        job_ids.extend(completed.metadata["Ray Job ID"].value for completed in runs)
        custom[:] = [message for completed in runs for message in completed.get_custom_messages()]
        if after:
            after(context)
        for completed in runs:
            yield from completed.get_results(implicit_materializations=implied)

    with dagster.DagsterInstance.ephemeral() as instance:
        result = dagster.materialize([step], resources={"ray_client": client}, instance=instance, raise_on_error=False)
        return Run.of(instance, result, job_ids, custom)


def fail_first_attempt(context: Any) -> None:
    if context.retry_number == 0:
        raise RuntimeError("the step fails after its job was launched")


def test_retry_after_the_job_succeeded_reattaches(ray_address: str, tmp_path: Path) -> None:
    job = Job(tmp_path, go=True, fail_first=False)
    run = materialize(PipesRayJobClient(ray_address, poll_interval=0.2), job, after=fail_first_attempt)
    assert run.success
    (submitted,) = job.submitted(ray_address)
    assert run.job_ids == [submitted.submission_id] * 2  # both attempts got the one job
    assert run.materializations() == job.expected(submitted.submission_id)  # its messages once each, in order
    assert run.custom == list(range(len(KEYS)))
    assert len(run.handle_events("[pipes] Launched external run")) == 1
    assert len(run.handle_events("[pipes] Reattached to in-progress external run")) == 1
    assert run.logged("is SUCCEEDED: reattaching")


def test_retry_while_the_job_runs_reattaches(ray_address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the first attempt loses contact with the dashboard once the job has printed its first two
    # messages (every status read fails from then on) and fails the step, unable to stop the job;
    # the retry finds the job running (it waits for GO, made only once the retry has reattached)
    # and follows it from the start of its log
    job = Job(tmp_path, go=False, fail_first=False)
    monkeypatch.setattr(_client, "UNREACHABLE_SECONDS", 0.5)
    client = PipesRayJobClient(ray_address, poll_interval=0.2)
    status = client.job_client.get_job_status
    first_attempt = threading.Event()

    def flaky(job_id: str) -> Any:
        if first_attempt.is_set() and client.job_client.get_job_logs(job_id).count('"seq"') >= 2:
            raise ConnectionError("dashboard unreachable")
        return status(job_id)

    monkeypatch.setattr(client.job_client, "get_job_status", flaky)

    def first_loses_contact(context: Any) -> None:
        if context.retry_number == 0:
            first_attempt.set()
        else:
            first_attempt.clear()
            threading.Thread(
                target=go_once_reattached, args=(context.instance, context.run.run_id), daemon=True
            ).start()

    def go_once_reattached(instance: Any, run_id: str) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            logs = instance.all_logs(run_id, of_type=dagster.DagsterEventType.ENGINE_EVENT)
            if any((e.dagster_event.message or "").startswith("[pipes] Reattached") for e in logs):
                break
            time.sleep(0.05)
        job.go.touch()

    run = materialize(client, job, before=first_loses_contact)
    assert run.success
    (submitted,) = job.submitted(ray_address)
    assert run.job_ids == [submitted.submission_id]  # the first attempt never returned
    assert run.materializations() == job.expected(submitted.submission_id)
    assert run.custom == list(range(len(KEYS)))
    assert run.logged("could not stop Ray job")  # the first attempt's
    assert run.logged("is RUNNING: reattaching")


def test_a_failed_job_is_launched_afresh(ray_address: str, tmp_path: Path) -> None:
    job = Job(tmp_path, go=True, fail_first=True)
    run = materialize(PipesRayJobClient(ray_address, poll_interval=0.2), job)
    assert run.success
    first, second = job.submitted(ray_address)
    assert (str(first.status), str(second.status)) in (
        ("FAILED", "SUCCEEDED"),
        ("JobStatus.FAILED", "JobStatus.SUCCEEDED"),
    )
    assert run.materializations() == job.expected(second.submission_id)
    assert len(run.handle_events("[pipes] Launched external run")) == 2
    assert not run.handle_events("[pipes] Reattached")
    assert run.logged("ended FAILED; launching a new job")


def test_messages_elsewhere_than_the_log_relaunch(ray_address: str, tmp_path: Path) -> None:
    # a file reader's messages went to the first attempt's session: the retry cannot read them
    # from the start, so it leaves that job alone and launches another
    job = Job(tmp_path, go=True, fail_first=False)
    reader = PipesFileMessageReader(str(tmp_path / "messages"))
    run = materialize(
        PipesRayJobClient(ray_address, message_reader=reader, poll_interval=0.2), job, after=fail_first_attempt
    )
    assert run.success
    first, second = job.submitted(ray_address)
    assert run.materializations() == job.expected(second.submission_id)
    assert run.logged("is left alone")


def test_dagster_ray_relaunches(ray_address: str, tmp_path: Path) -> None:
    # an observation: dagster-ray's client (0.4.8) records nothing, so its retry launches a second
    # job; and its reader, which serves one run, reads none of that job's messages: the step
    # succeeds with materializations Dagster implied, without what the job reported
    dagster_ray_pipes = pytest.importorskip("dagster_ray.core.pipes")
    job = Job(tmp_path, go=True, fail_first=False)
    run = materialize(dagster_ray_pipes.PipesRayJobClient(ray_address), job, after=fail_first_attempt, implied=True)
    assert run.success
    first, second = job.submitted(ray_address)
    assert run.job_ids == [first.submission_id, second.submission_id]
    assert sorted(run.materializations()) == [(key, None, second.submission_id) for key in KEYS]


def resumed_job() -> Any:
    """A job of the step whose first run fails after its job succeeded; the job's submit params in
    ``$PF_REATTACH_PARAMS``, the cluster in ``$RAY_ADDRESS``."""

    @dagster.multi_asset(specs=[dagster.AssetSpec(k) for k in KEYS])
    def step(context):  # type: ignore[no-untyped-def]
        params = json.loads(os.environ["PF_REATTACH_PARAMS"])
        completed = PipesRayJobClient(poll_interval=0.2).run(context=context, submit_job_params=params)
        if context.run.parent_run_id is None:
            raise RuntimeError("the run fails after its job was launched")
        yield from completed.get_results()

    job = dagster.define_asset_job("resumed", executor_def=dagster.in_process_executor)
    return dagster.Definitions(assets=[step], jobs=[job]).resolve_job_def("resumed")


def test_run_retried_from_failure_reattaches(ray_address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a run retry (what Dagster's run retries make: a re-execution from failure, tagged as a resume
    # retry) finds the handle in its parent run and reattaches to the job the failed run launched
    from dagster._core.storage.tags import RESUME_RETRY_TAG

    job = Job(tmp_path, go=True, fail_first=False)
    monkeypatch.setenv("PF_REATTACH_PARAMS", json.dumps(job.params()))
    monkeypatch.setenv("RAY_ADDRESS", ray_address)
    recon = dagster.reconstructable(resumed_job)
    with dagster.DagsterInstance.ephemeral() as instance:
        failed = dagster.execute_job(recon, instance, raise_on_error=False)
        options = dagster.ReexecutionOptions.from_failure(failed.run_id, instance)
        retried = dagster.execute_job(recon, instance, reexecution_options=options, tags={RESUME_RETRY_TAG: "true"})
        run = Run.of(instance, retried, [])
    assert not failed.success and run.success
    (submitted,) = job.submitted(ray_address)
    assert run.materializations() == job.expected(submitted.submission_id)
    assert len(run.handle_events("[pipes] Reattached")) == 1


def test_each_job_of_a_step_reattaches_to_its_own(ray_address: str, tmp_path: Path) -> None:
    # a step running two jobs: the retry follows each to the job launched with its own params
    first = Job(tmp_path / "ab", go=True, fail_first=False, keys="ab")
    second = Job(tmp_path / "cde", go=True, fail_first=False, keys="cde")
    run = materialize(PipesRayJobClient(ray_address, poll_interval=0.2), first, second, after=fail_first_attempt)
    assert run.success
    (ab,), (cde,) = first.submitted(ray_address), second.submitted(ray_address)
    assert run.job_ids == [ab.submission_id, cde.submission_id] * 2
    assert run.materializations() == first.expected(ab.submission_id) + second.expected(cde.submission_id)


def test_runs_with_the_same_params_in_one_attempt_have_their_own_jobs(ray_address: str, tmp_path: Path) -> None:
    # an op running the same job twice: its second run() launches a job of its own; the retry's
    # first run() follows the latest of the two, its second launches another
    job = Job(tmp_path, go=True, fail_first=False, keys="")
    attempts: list[list[str]] = []

    @dagster.op(required_resource_keys={"ray_client"}, retry_policy=dagster.RetryPolicy(max_retries=1))
    def twice(context):  # type: ignore[no-untyped-def]
        runs = [context.resources.ray_client.run(context=context, submit_job_params=job.params()) for _ in range(2)]
        attempts.append([completed.metadata["Ray Job ID"].value for completed in runs])
        fail_first_attempt(context)

    @dagster.job
    def run_twice():  # type: ignore[no-untyped-def]
        twice()

    client = PipesRayJobClient(ray_address, poll_interval=0.2)
    assert run_twice.execute_in_process(resources={"ray_client": client}, raise_on_error=False).success
    (one, two), (three, four) = attempts
    assert one != two and three == two and four not in (one, two)
    assert len(job.submitted(ray_address)) == 3
