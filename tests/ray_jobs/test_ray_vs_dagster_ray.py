"""pipes_fast.dagster.ray's ``PipesRayJobClient`` beside dagster-ray's, inside ``dagster.materialize``.

One asset (with an asset check) runs a Ray job through whichever client its ``ray_client``
resource is; both materialize it with the same ``dagster_pipes`` script on one local Ray cluster,
and the runs must give Dagster the same events. dagster-ray (0.4.8) is a test-only peer; each of
its runs costs several seconds, so the module keeps to four Ray runs.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ray.job_submission", reason="needs Ray: pip install '.[ray]'")
dagster = pytest.importorskip("dagster")
pytest.importorskip("dagster_ray", reason="needs dagster-ray: pip install '.[test]'")

from dagster._core.pipes.reattach import PIPES_LAUNCH_HANDLE_METADATA_KEY  # noqa: E402
from dagster_ray.core.pipes import PipesRayJobClient as DagsterRayJobClient  # noqa: E402
from support.orchestrators import Events, Step, events_of  # noqa: E402

from pipes_fast.dagster.ray import PipesRayJobClient  # noqa: E402
from pipes_fast.ray.local_cluster import local_cluster  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore::dagster.PreviewWarning"),
    pytest.mark.filterwarnings("ignore::dagster.BetaWarning"),
    # Dagster's own open_pipes_session (dagster-ray's client uses it) reads the deprecated context.run_id
    pytest.mark.filterwarnings("ignore:AssetExecutionContext.run_id is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings(
        "ignore:AssetExecutionContext.dagster_run is deprecated:DeprecationWarning"
    ),  # dagster-ray's
    pytest.mark.filterwarnings(
        "ignore:ssl=None is deprecated:DeprecationWarning"
    ),  # Ray's tail_job_logs (both readers)
]

ASSET, CHECK = "orders", "positive"
SCRIPT_LOGS = ("script log: starting", "script log: rows counted", "script log: done")
"""What the script logs through ``pipes.log`` (info, warning, info)."""
OUTPUT_LINES = tuple(f"script output {i}" for i in range(4))
"""The ordinary lines the script prints between its messages."""
CUSTOM_MESSAGES = [{"i": i, "label": f"m{i}"} for i in range(5)] + ["a string message", [1, 2.5, None]]
RAY_JOB_ID = "Ray Job ID"
"""The invocation metadata dagster-ray adds to each materialization and check evaluation (its
value is the job id); pipes_fast adds it too."""

SCRIPT = f"""
    from dagster_pipes import open_dagster_pipes

    OUTPUT = {OUTPUT_LINES!r}
    LOGS = {SCRIPT_LOGS!r}
    with open_dagster_pipes() as pipes:
        print(OUTPUT[0], flush=True)
        pipes.log.info(LOGS[0])
        for message in {CUSTOM_MESSAGES!r}:
            pipes.report_custom_message(message)
        print(OUTPUT[1], flush=True)
        pipes.log.warning(LOGS[1])
        pipes.report_asset_materialization(
            metadata={{
                "rows": 3,
                "ratio": 0.25,
                "owner": "team-a",
                "fresh": True,
                "nothing": None,
                "doc": {{"raw_value": "# Orders", "type": "md"}},
                "link": {{"raw_value": "https://example.com/orders", "type": "url"}},
                "where": {{"raw_value": "/data/orders.parquet", "type": "path"}},
                "schema": {{"raw_value": {{"cols": ["id", "qty"], "n": 2}}, "type": "json"}},
                "at": {{"raw_value": 1700000000.5, "type": "timestamp"}},
            }},
            data_version="v42",
        )
        print(OUTPUT[2], flush=True)
        pipes.report_asset_check({CHECK!r}, passed=True, severity="WARN", metadata={{"checked": 3, "note": "ok"}})
        pipes.log.info(LOGS[2])
        print(OUTPUT[3], flush=True)
"""

TORN = {"n": "torn", "blob": "written in two halves"}
TORN_LINE = json.dumps(
    {"__dagster_pipes_version": "0.1", "method": "report_custom_message", "params": {"payload": TORN}}
)
TORN_AT = 40
TORN_SCRIPT = f"""
    import sys, time
    from dagster_pipes import open_dagster_pipes

    with open_dagster_pipes() as pipes:
        pipes.report_custom_message("before")
        sys.stdout.write({TORN_LINE[:TORN_AT]!r})
        sys.stdout.flush()
        time.sleep(3)
        sys.stdout.write({TORN_LINE[TORN_AT:] + chr(10)!r})
        sys.stdout.flush()
        pipes.report_custom_message("after")
        pipes.report_asset_materialization()
        pipes.report_asset_check({CHECK!r}, passed=True)
"""
"""A message line written in two halves seconds apart, so Ray's log stream delivers it torn
(as ``test_messages_torn_across_chunks`` in test_ray.py), between two whole messages."""


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """The dashboard address of a fresh local Ray cluster, for the module."""
    with local_cluster() as address:
        yield address


def write_script(folder: Path, body: str) -> str:
    path = folder / "job.py"
    path.write_text(textwrap.dedent(body))
    return str(path)


def submit_params(script: str) -> dict[str, Any]:
    """Fresh submit params for ``script`` (dagster-ray fills in the dict it is given), passing on
    the pure/compiled choice."""
    env_vars = {k: v for k, v in os.environ.items() if k == "PIPES_FAST_NO_EXTENSIONS"}
    return {"entrypoint": f"{sys.executable} {script}", "runtime_env": {"env_vars": env_vars}}


def is_launch_handle(entry: Any) -> bool:
    """Whether a log entry records a Pipes launch handle (pipes_fast's client records one per job
    it launches, so that a retried step reattaches; dagster-ray's records none)."""
    event = entry.dagster_event
    return (
        event is not None
        and event.event_type_value == "ENGINE_EVENT"
        and PIPES_LAUNCH_HANDLE_METADATA_KEY in (event.engine_event_data.metadata)
    )


def materialize_with(client: Any, script: str, capfd: pytest.CaptureFixture[str]) -> tuple[Events, str]:
    """Materialize the asset with ``client`` as its ``ray_client``; the run's normalised events
    (custom messages as the asset body got them; launch handles left out) and what reached this
    process's stdout."""
    step = Step()

    @dagster.asset(
        name=ASSET, check_specs=[dagster.AssetCheckSpec(CHECK, asset=ASSET)], required_resource_keys={"ray_client"}
    )
    def orders(context):  # type: ignore[no-untyped-def]  # Dagster reads string annotations as names
        invocation = context.resources.ray_client.run(context=context, submit_job_params=submit_params(script))
        step.custom_messages = list(invocation.get_custom_messages())
        return invocation.get_results()

    capfd.readouterr()
    with dagster.DagsterInstance.ephemeral() as instance:
        result = dagster.materialize(
            [orders], resources={"ray_client": client}, instance=instance, raise_on_error=False
        )
        entries = instance.all_logs(result.run_id)
    entries = [
        entry for entry in entries if not is_launch_handle(entry)
    ]  # tests/ray_jobs/test_ray_reattach.py's subject
    stdout = capfd.readouterr().out
    return events_of(entries, result.success, step, stdout, ""), stdout


def script_logs(events: Events) -> list[tuple[str, str]]:
    """The run's log records that the script wrote through ``pipes.log``, in order."""
    return [(level, text) for level, text in events.logs if text in SCRIPT_LOGS]


def without_job_id(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Materializations or check evaluations with the job id metadata left out (its value
    differs from run to run)."""
    return [{**e, "metadata": {k: v for k, v in e["metadata"].items() if k != RAY_JOB_ID}} for e in events]


CLIENTS: dict[str, Callable[[str], Any]] = {
    "dagster-ray": DagsterRayJobClient,
    "pipes_fast": PipesRayJobClient,
}
"""Each client, made fresh for a run from the dashboard address (dagster-ray's reader serves one
run only), with the default poll interval."""


def test_same_events_as_dagster_ray(ray_address: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    script = write_script(tmp_path, SCRIPT)
    runs = {name: materialize_with(make(ray_address), script, capfd) for name, make in CLIENTS.items()}
    ours, theirs = runs["pipes_fast"][0], runs["dagster-ray"][0]
    for name, (events, stdout) in runs.items():
        assert events.success, name
        assert [line for line in stdout.splitlines() if line in OUTPUT_LINES] == list(OUTPUT_LINES), name
        assert "__dagster_pipes_version" not in stdout, name
        (materialization,) = events.materializations
        (check,) = events.checks
        assert materialization["data_version"] == "v42", name
        assert check["passed"], name
        assert RAY_JOB_ID in materialization["metadata"] and RAY_JOB_ID in check["metadata"], name
    assert without_job_id(ours.materializations) == without_job_id(theirs.materializations)
    assert without_job_id(ours.checks) == without_job_id(theirs.checks)
    assert ours.event_types == theirs.event_types
    assert ours.custom_messages == theirs.custom_messages
    assert len(ours.custom_messages) == len(CUSTOM_MESSAGES)
    assert (
        script_logs(ours)
        == script_logs(theirs)
        == [("INFO", SCRIPT_LOGS[0]), ("WARNING", SCRIPT_LOGS[1]), ("INFO", SCRIPT_LOGS[2])]
    )
    assert ours.pipes_engine_events == theirs.pipes_engine_events


def test_message_torn_across_log_chunks(ray_address: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    script = write_script(tmp_path, TORN_SCRIPT)
    ours, our_stdout = materialize_with(PipesRayJobClient(ray_address), script, capfd)
    assert ours.success
    assert ours.step.custom_messages == ["before", TORN, "after"]
    assert "__dagster_pipes_version" not in our_stdout
    # dagster-ray splits each chunk of the log stream on newlines: the two halves are two lines
    # that are not messages, forwarded as output, and the message is lost
    theirs, their_stdout = materialize_with(DagsterRayJobClient(ray_address), script, capfd)
    assert theirs.success
    assert theirs.step.custom_messages == ["before", "after"]
    lines = their_stdout.splitlines()
    assert TORN_LINE[:TORN_AT] in lines and TORN_LINE[TORN_AT:] in lines
