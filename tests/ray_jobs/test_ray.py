"""pipes_fast.ray against a real local Ray cluster, started once for the module."""

from __future__ import annotations

import _thread
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ray.job_submission", reason="needs Ray: pip install '.[ray]'")

from support.helpers import capturing_logger  # noqa: E402

from pipes_fast import PipesExecutionError, PipesFileMessageReader, StepContext  # noqa: E402
from pipes_fast.ray import PipesRayJobClient, PipesRayJobMessageReader  # noqa: E402
from pipes_fast.ray.local_cluster import local_cluster  # noqa: E402


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """The dashboard address of a fresh local Ray cluster on 127.0.0.1 with free ports."""
    with local_cluster() as address:
        yield address


@pytest.fixture(scope="module")
def client(ray_address: str) -> PipesRayJobClient:
    return PipesRayJobClient(ray_address, poll_interval=0.2, timeout=60)


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "job.py"
    path.write_text(textwrap.dedent(body))
    return str(path)


def _job(script: str) -> dict[str, Any]:
    """Submit params for ``script`` under this interpreter, with the pure/compiled choice passed on."""
    env_vars = {k: v for k, v in os.environ.items() if k == "PIPES_FAST_NO_EXTENSIONS"}
    return {"entrypoint": f"{sys.executable} {script}", "runtime_env": {"env_vars": {**env_vars, "JOB_FLAG": "on"}}}


REPORTING = """
    import os
    from pipes_fast.external import open_dagster_pipes

    with open_dagster_pipes() as pipes:
        print("ordinary output before", flush=True)
        pipes.log.info("hello from the job")
        for i in range(50):
            pipes.report_custom_message({"i": i, "flag": os.environ["JOB_FLAG"]})
        pipes.report_asset_materialization(metadata={"rows": 3}, data_version="v1")
        print("ordinary output after", flush=True)
"""


def test_standalone_run(client: PipesRayJobClient, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    context = StepContext("orders")
    started = time.monotonic()
    completed = client.run(context=context, submit_job_params=_job(_script(tmp_path, REPORTING)), extras={"k": 1})
    elapsed = time.monotonic() - started
    (result,) = completed.get_results()
    job_id = completed.metadata["Ray Job ID"].value  # as dagster-ray's client, on every result
    assert job_id.startswith("pipes-") and result.metadata["Ray Job ID"].value == job_id
    assert result.asset_key.to_user_string() == "orders"
    assert result.metadata["rows"].value == 3
    assert result.data_version == "v1"
    assert [m["i"] for m in completed.get_custom_messages()] == list(range(50))
    assert {m["flag"] for m in completed.get_custom_messages()} == {"on"}  # the user's env_vars kept
    out = capfd.readouterr().out
    assert "ordinary output before" in out and "ordinary output after" in out
    assert "__dagster_pipes_version" not in out  # messages are not forwarded as output
    print(f"standalone run() took {elapsed:.2f} s")


def test_inside_dagster(ray_address: str, tmp_path: Path) -> None:
    dagster = pytest.importorskip("dagster")
    from pipes_fast.dagster.ray import PipesRayJobClient as DagsterRayJobClient

    script = _script(
        tmp_path,
        """
        from dagster_pipes import open_dagster_pipes

        with open_dagster_pipes() as pipes:
            pipes.report_asset_materialization(metadata={"rows": 7})
            pipes.report_asset_check("positive", passed=True)
    """,
    )
    seen: list[Any] = []
    job_ids: list[str] = []

    @dagster.asset(
        check_specs=[dagster.AssetCheckSpec("positive", asset="orders")], required_resource_keys={"ray_client"}
    )
    def orders(context):  # type: ignore[no-untyped-def]  # Dagster reads string annotations as names
        completed = context.resources.ray_client.run(context=context, submit_job_params=_job(script))
        job_ids.append(completed.metadata["Ray Job ID"].value)
        results = completed.get_results()
        seen.extend(results)
        return results

    ray_client = DagsterRayJobClient(ray_address, poll_interval=0.2)
    outcome = dagster.materialize([orders], resources={"ray_client": ray_client})
    assert outcome.success
    assert [type(r) for r in seen] == [dagster.MaterializeResult, dagster.AssetCheckResult]
    (materialization,) = outcome.asset_materializations_for_node("orders")
    assert materialization.metadata["rows"].value == 7
    assert materialization.metadata["Ray Job ID"].value == job_ids[0]
    job_metadata = PipesRayJobClient(ray_address).job_client.get_job_info(job_ids[0]).metadata
    assert job_metadata["dagster/run-id"] == outcome.run_id  # the run's tags on the job, as dagster-ray's
    (check,) = outcome.get_asset_check_evaluations()
    assert check.passed


def test_address_from_ray_address_reaches_the_reader(
    ray_address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # address=None: Ray's own lookup (RAY_ADDRESS); the reader, given no client, follows the log
    # at the resolved address the launch reports, as dagster-ray's launch payload carries it
    monkeypatch.setenv("RAY_ADDRESS", ray_address)
    launched: list[Any] = []

    class Noting(PipesRayJobMessageReader):
        def on_launched(self, launched_payload: Any) -> None:
            launched.append(launched_payload)
            super().on_launched(launched_payload)

    client = PipesRayJobClient(message_reader=Noting(), poll_interval=0.2)
    completed = client.run(context=StepContext("orders"), submit_job_params=_job(_script(tmp_path, REPORTING)))
    assert len(completed.get_custom_messages()) == 50
    (payload,) = launched
    assert payload["extras"] == {"ray_job_id": completed.metadata["Ray Job ID"].value, "ray_address": ray_address}


def test_run_returns_at_the_jobs_end_not_after_poll_interval(
    ray_address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the session's closed message (or the end of the log stream) is a sign the job is ending: the
    # pause in progress is cut short and the status looked at again, whatever poll_interval says.
    # The job outlives its closed message until the client has acted on it (a gate file).
    from pipes_fast.ray import _client

    gate = tmp_path / "gate"
    script = _script(
        tmp_path,
        f"""
        import pathlib, time
        from pipes_fast.external import open_dagster_pipes

        with open_dagster_pipes() as pipes:
            pipes.report_custom_message("before closed")
        for _ in range(6000):  # until the gate opens, 60 s at most
            if pathlib.Path({str(gate)!r}).exists():
                break
            time.sleep(0.01)
        """,
    )
    pauses: list[tuple[float, bool]] = []
    sleep = _client._EndSigns.sleep

    def noting(signs: Any, seconds: float) -> bool:
        cut_short = sleep(signs, seconds)
        pauses.append((seconds, cut_short))
        if cut_short:
            gate.touch()
        return cut_short

    monkeypatch.setattr(_client._EndSigns, "sleep", noting)
    client = PipesRayJobClient(ray_address, poll_interval=120, timeout=300)
    completed = client.run(context=StepContext("orders"), submit_job_params=_job(script))
    assert completed.get_custom_messages() == ("before closed",)
    assert [cut_short for _, cut_short in pauses].count(True) == 1, pauses  # the sign cut one pause short
    assert all(seconds < client.poll_interval for seconds, _ in pauses), pauses  # none was poll_interval long


def test_a_status_that_cannot_be_read_for_a_while_is_waited_out(
    ray_address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the dashboard unreachable for a moment (its first three answers fail): a warning, the run goes on
    client = PipesRayJobClient(ray_address, poll_interval=0.2)
    real = client.job_client.get_job_status
    failures = iter(range(3))

    def flaky(job_id: str) -> Any:
        if next(failures, None) is not None:
            raise ConnectionError("dashboard restarting")
        return real(job_id)

    monkeypatch.setattr(client.job_client, "get_job_status", flaky)
    log, records = capturing_logger("ray-flaky")
    completed = client.run(context=StepContext("orders", log=log), submit_job_params=_job(_script(tmp_path, REPORTING)))
    assert len(completed.get_custom_messages()) == 50
    warnings = [r.getMessage() for r in records.records if r.levelname == "WARNING"]
    assert len([w for w in warnings if "could not read the status" in w and "dashboard restarting" in w]) == 1


def test_a_status_that_cannot_be_read_at_all_fails_the_run(
    ray_address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipes_fast.ray import _client

    monkeypatch.setattr(_client, "UNREACHABLE_SECONDS", 0.5)
    client = PipesRayJobClient(ray_address, poll_interval=0.2)

    def unreachable(job_id: str) -> Any:
        raise ConnectionError("no route to the dashboard")

    monkeypatch.setattr(client.job_client, "get_job_status", unreachable)
    with pytest.raises(PipesExecutionError, match="lost contact with Ray job .*no route to the dashboard"):
        client.run(context=StepContext(), submit_job_params=_job(_script(tmp_path, REPORTING)))


def test_failure_names_status_exception_and_log(client: PipesRayJobClient, tmp_path: Path) -> None:
    script = _script(
        tmp_path,
        """
        import sys
        from pipes_fast.external import open_dagster_pipes

        with open_dagster_pipes() as pipes:
            print("about to fail", file=sys.stderr, flush=True)
            raise ValueError("the job broke")
    """,
    )
    with pytest.raises(PipesExecutionError) as raised:
        client.run(context=StepContext("orders"), submit_job_params=_job(script))
    text = str(raised.value)
    assert "FAILED" in text
    assert "ValueError" in text and "the job broke" in text
    assert "about to fail" in text


def test_timeout_stops_the_job(ray_address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = _script(
        tmp_path,
        """
        import time
        from pipes_fast.external import open_dagster_pipes

        with open_dagster_pipes() as pipes:
            pipes.report_custom_message("started")
            time.sleep(120)
    """,
    )
    client = PipesRayJobClient(ray_address, poll_interval=0.2, timeout=3)
    params = {**_job(script), "submission_id": f"timeout-{os.getpid()}-{time.time_ns()}"}
    statuses: list[str] = []
    status_of = client.job_client.get_job_status

    def noting(job_id: str) -> Any:
        status = status_of(job_id)
        statuses.append(str(status).removeprefix("JobStatus."))
        return status

    monkeypatch.setattr(client.job_client, "get_job_status", noting)
    log, records = capturing_logger("ray-timeout")
    with pytest.raises(PipesExecutionError, match="timed out"):
        client.run(context=StepContext(log=log), submit_job_params=params)
    assert any("still running after 3 s: stopping it" in message for message in records.messages(30)), records.messages(
        30
    )
    # run returned because it saw the job stopped, not because its wait for that ran out
    assert statuses[-1] == "STOPPED", statuses


class _Recording(PipesRayJobMessageReader):
    """The log reader, noting each piece of the log it was given (stream and final read)."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.pieces: list[str] = []

    def _feed(self, text: str) -> None:
        self.pieces.append(text)
        super()._feed(text)


def test_messages_torn_across_chunks(client: PipesRayJobClient, tmp_path: Path) -> None:
    # Ray's log stream sends what a line holds when it reads it: a message written in two halves
    # seconds apart reaches us torn, the rest of it in a later chunk or in the final full read
    script = _script(
        tmp_path,
        """
        import json, sys, time
        from pipes_fast.external import open_dagster_pipes

        with open_dagster_pipes() as pipes:
            for n in range(3):
                pipes.report_custom_message({"n": n, "blob": str(n) * 150_000})
            line = json.dumps({"__dagster_pipes_version": "0.1", "method": "report_custom_message",
                               "params": {"payload": {"n": 3, "blob": "torn"}}})
            sys.stdout.write(line[:40])
            sys.stdout.flush()
            time.sleep(3)
            sys.stdout.write(line[40:] + "\\n")
            sys.stdout.flush()
    """,
    )
    reader = _Recording(client.job_client)
    torn_client = PipesRayJobClient(client.address, message_reader=reader, poll_interval=0.2)
    completed = torn_client.run(context=StepContext(), submit_job_params=_job(script))
    messages = completed.get_custom_messages()
    assert [m["n"] for m in messages] == [0, 1, 2, 3]
    assert all(m["blob"] == str(m["n"]) * 150_000 for m in messages[:3])
    assert messages[3]["blob"] == "torn"
    assert len(reader.pieces) >= 2  # the stream delivered, and the final read added the rest


def test_log_pieces_without_a_cluster(capfd: pytest.CaptureFixture[str]) -> None:
    # the reader's own path, fed the way Ray's stream gives the log (text pieces split anywhere)
    from pipes_fast import PipesEnvContextInjector, open_pipes_session

    message = '{"__dagster_pipes_version": "0.1", "method": "report_custom_message", "params": {"payload": 7}}'
    log = f"out 1\n{message}\nout é 2\n{message}\n{{not a message}}\n"
    for size in (1, 3, 7, len(log)):
        reader = _Recording(None)
        with open_pipes_session(StepContext(), PipesEnvContextInjector(), reader) as session:
            for start in range(0, len(log), size):
                reader._feed(log[start : start + size])
        assert session.get_custom_messages() == (7, 7)
        assert capfd.readouterr().out == "out 1\nout é 2\n{not a message}\n"


def test_output_that_is_not_utf8_is_a_warning_not_a_crash(client: PipesRayJobClient, tmp_path: Path) -> None:
    # Ray's job API decodes a job's log as UTF-8: past a byte that is not, neither its stream nor
    # get_job_logs serve the log. run() still returns, and says what is missing and why.
    script = _script(
        tmp_path,
        """
        import sys
        from pipes_fast.external import open_dagster_pipes

        with open_dagster_pipes() as pipes:
            pipes.report_custom_message(1)
            sys.stdout.flush()
            sys.stdout.buffer.write(b"raw \\xff\\xfe bytes\\n")
            sys.stdout.flush()
            pipes.report_custom_message(2)
    """,
    )
    log, records = capturing_logger("ray-utf8")
    completed = client.run(context=StepContext(log=log), submit_job_params=_job(script))
    assert 2 not in completed.get_custom_messages()
    warnings = [r.getMessage() for r in records.records if r.levelname == "WARNING"]
    assert any("could not read the log of Ray job" in w and "UTF-8" in w and "message reader" in w for w in warnings), (
        warnings
    )


def test_file_reader_on_shared_filesystem(client: PipesRayJobClient, tmp_path: Path) -> None:
    reader_client = PipesRayJobClient(
        client.address, message_reader=PipesFileMessageReader(str(tmp_path / "messages")), poll_interval=0.2
    )
    completed = reader_client.run(context=StepContext("orders"), submit_job_params=_job(_script(tmp_path, REPORTING)))
    assert len(completed.get_custom_messages()) == 50
    assert completed.get_results()[0].metadata["rows"].value == 3


def test_s3_blob_transport(client: PipesRayJobClient, tmp_path: Path, s3_bucket: Any) -> None:
    # messages in S3 chunks instead of the log: the job reaches the test's S3 server (on 127.0.0.1)
    from pipes_fast import PipesS3MessageReader

    script = _script(
        tmp_path,
        """
        import boto3
        from pipes_fast.external import PipesS3MessageWriter, open_dagster_pipes

        with open_dagster_pipes(message_writer=PipesS3MessageWriter(client=boto3.client("s3"), interval=0.2)) as pipes:
            for i in range(50):
                pipes.report_custom_message(i)
            pipes.report_asset_materialization(metadata={"where": "s3"})
    """,
    )
    params = _job(script)
    params["runtime_env"]["env_vars"].update({k: v for k, v in os.environ.items() if k.startswith("AWS_")})
    reader = PipesS3MessageReader(bucket=s3_bucket.name, client=s3_bucket.client, interval=0.2)
    completed = PipesRayJobClient(client.address, message_reader=reader, poll_interval=0.2).run(
        context=StepContext("orders"), submit_job_params=params
    )
    assert completed.get_custom_messages() == tuple(range(50))
    assert completed.get_results()[0].metadata["where"].value == "s3"
    assert s3_bucket.keys()  # the chunks went through the bucket


def test_interrupt_stops_the_job(ray_address: str, tmp_path: Path) -> None:
    script = _script(
        tmp_path,
        """
        import time
        print("running", flush=True)
        time.sleep(600)
    """,
    )
    params = {**_job(script), "submission_id": f"interrupt-{os.getpid()}-{time.time_ns()}"}
    # a loaded machine may take long to start the job: the interrupt must come before the client's
    # own timeout would end the run (which once made this test fail with a timeout error)
    client = PipesRayJobClient(ray_address, poll_interval=0.2, timeout=250)

    def interrupt_once_running() -> None:
        deadline = time.monotonic() + 200
        while time.monotonic() < deadline:
            try:
                if "RUNNING" in str(client.job_client.get_job_status(params["submission_id"])):
                    _thread.interrupt_main()
                    return
            except Exception:
                pass
            time.sleep(0.1)

    threading.Thread(target=interrupt_once_running, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        client.run(context=StepContext(), submit_job_params=params)
    assert "STOPPED" in str(client.job_client.get_job_status(params["submission_id"]))


def test_sigterm_stops_the_job(client: PipesRayJobClient, tmp_path: Path) -> None:
    # an orchestrator process told to stop (SIGTERM, as a scheduler or Dagster's run worker
    # would) stops its Ray job before it exits
    job_script = _script(
        tmp_path,
        """
        import time
        print("running", flush=True)
        time.sleep(120)
    """,
    )
    job_id = f"sigterm-{os.getpid()}-{time.time_ns()}"
    params = {**_job(job_script), "submission_id": job_id}
    orchestrator = tmp_path / "orchestrator.py"
    orchestrator.write_text(
        textwrap.dedent(f"""
        from pipes_fast import StepContext
        from pipes_fast.ray import PipesRayJobClient

        PipesRayJobClient({client.address!r}, poll_interval=0.2).run(context=StepContext(), submit_job_params={params!r})
    """)
    )
    process = subprocess.Popen([sys.executable, str(orchestrator)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while "RUNNING" not in _status_or_none(client, job_id):
            assert time.monotonic() < deadline and process.poll() is None, "the job never ran"
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode != 0
    assert "STOPPED" in _status_or_none(client, job_id), stderr.decode()


def _status_or_none(client: PipesRayJobClient, job_id: str) -> str:
    try:
        return str(client.job_client.get_job_status(job_id))
    except Exception:  # not submitted yet
        return "NONE"
