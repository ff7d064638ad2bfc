"""pipes_fast.dagster inside real Dagster runs: the same events as Dagster's own Pipes classes.

Each scenario is a real ``dagster.materialize`` (or an op job's ``execute_in_process``) whose step
launches a real ``dagster_pipes`` script; it runs once with Dagster's own Pipes classes and once
with pipes_fast's (``pipes_fast.dagster``, or as the scenario says), each on an ephemeral instance.
``test_reports_as_scripted`` holds both runs to what the script reported (so a comparison of two
empty runs cannot pass), ``test_same_events_as_dagster`` compares pipes_fast's run with Dagster's,
one field of the normalised events at a time; a few tests pin down one scenario's specifics.

No ``from __future__ import annotations`` here: Dagster reads the resource parameter's annotation.
"""

import dataclasses
import importlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import dagster as dg
import pytest
from dagster._core.errors import DagsterPipesExecutionError
from support.orchestrators import (
    EXTERNAL_SCRIPT,
    PIPES_CLOSED_WITH_EXCEPTION,
    QUIET,
    STREAM_MARKER,
    Events,
    Runner,
    Step,
    run_events,
)
from support.scripts import payloads

import pipes_fast

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.filterwarnings(
        "ignore::DeprecationWarning",
        "ignore::dagster.PreviewWarning",
        "ignore::dagster.BetaWarning",
    ),
]

DAGSTER = "dagster"
PIPES_FAST = "pipes_fast"
KINDS = (DAGSTER, PIPES_FAST)

OPENED = ("INFO", "[pipes] external process successfully opened dagster pipes.")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
EXTERNAL_ERROR = "external boom ✗"

# The Dagster metadata class each wire type resolves to.
METADATA_CLASSES = {
    "text": "TextMetadataValue",
    "url": "UrlMetadataValue",
    "path": "PathMetadataValue",
    "notebook": "NotebookMetadataValue",
    "json": "JsonMetadataValue",
    "md": "MarkdownMetadataValue",
    "float": "FloatMetadataValue",
    "int": "IntMetadataValue",
    "bool": "BoolMetadataValue",
    "dagster_run": "DagsterRunMetadataValue",
    "asset": "DagsterAssetMetadataValue",
    "null": "NullMetadataValue",
    "table": "TableMetadataValue",
    "table_schema": "TableSchemaMetadataValue",
    "table_column_lineage": "TableColumnLineageMetadataValue",
    "timestamp": "TimestampMetadataValue",
}

Steps = list[dict[str, Any]]  # what the external script does, in order (see EXTERNAL_SCRIPT)


def pipes_api(kind: str) -> ModuleType:
    """Where a run's Pipes classes come from: Dagster itself, or pipes_fast.dagster."""
    return dg if kind == DAGSTER else importlib.import_module("pipes_fast.dagster")


@dataclass(frozen=True)
class Harness:
    """What a scenario's step needs: the external script, a directory of the run's own, and the
    record of what the step saw."""

    script: Path
    workdir: Path
    step: Step

    def command(self, steps: Steps) -> list[str]:
        """The command that runs the external script through ``steps``."""
        return [sys.executable, str(self.script), json.dumps(steps)]

    def asset(self, client: Any, command: list[str], **asset_kwargs: Any) -> dg.AssetsDefinition:
        """An asset returning ``client.run(context=context, command=command).get_results()``."""
        step = self.step

        @dg.asset(**asset_kwargs)
        def pipes_asset(context: dg.AssetExecutionContext):  # noqa: ANN202 - Dagster reads it
            return step.run_client(client, context=context, command=command).get_results()

        return pipes_asset


Build = Callable[[str, Harness], list[Runner]]


@dataclass(frozen=True)
class Scenario:
    """A Dagster step running a Pipes script, and what the script reports in it."""

    id: str
    build: Build  # the runs (seeds first) with one kind of Pipes classes
    materialized: list[list[str]]  # asset key paths of the materialization events, in order
    checks: list[str] = field(default_factory=list)  # check names of the evaluations, in order
    script_logs: list[tuple[str, str]] = field(default_factory=list)  # (level, text) it logs
    custom_messages: int = 0
    streams: bool = False  # the script sends marked lines to the orchestrator's stdout/stderr
    success: bool = True
    opens_pipes: bool = True


SCENARIOS: dict[str, Scenario] = {}


def scenario(**expected: Any) -> Callable[[Build], Build]:
    """Register a scenario builder under its function name, with what the script reports."""

    def register(build: Build) -> Build:
        SCENARIOS[build.__name__] = Scenario(id=build.__name__, build=build, **expected)
        return build

    return register


def materialize(assets: list[Any], **kwargs: Any) -> Runner:
    """A runner materializing ``assets`` on the instance it is given (failures are events)."""
    return lambda instance: dg.materialize(assets, instance=instance, raise_on_error=False, run_config=QUIET, **kwargs)


# --- the scenarios -----------------------------------------------------------------------------

EVERY_TYPE_STEPS: Steps = [
    {"log": ["info", "checking"]},
    {
        "materialize": {
            "metadata": payloads.metadata_arg(payloads.EVERY_TYPE),
            "data_version": "dv-1",
        }
    },
    {
        "check": {
            "check_name": "fresh",
            "passed": True,
            "severity": "WARN",
            "metadata": {"lag_hours": 3, "note": {"raw_value": "*late*", "type": "md"}},
        }
    },
    {"check": {"check_name": "valid", "passed": False, "severity": "ERROR", "metadata": {}}},
    {"custom": {"done": True}},
]
EVERY_TYPE_EXPECTED: dict[str, Any] = {
    "materialized": [["checked"]],
    "checks": ["fresh", "valid"],
    "script_logs": [("INFO", "checking")],
    "custom_messages": 1,
}
CHECKED_ASSET: dict[str, Any] = {  # the asset of EVERY_TYPE_STEPS: @asset keyword arguments
    "name": "checked",
    "check_specs": [
        dg.AssetCheckSpec("fresh", asset="checked"),
        dg.AssetCheckSpec("valid", asset="checked"),
    ],
}


@scenario(**EVERY_TYPE_EXPECTED)
def every_metadata_type_and_checks(kind: str, harness: Harness) -> list[Runner]:
    """1. An asset with two checks returns ``client.run(...).get_results()``."""
    client = pipes_api(kind).PipesSubprocessClient()
    asset = harness.asset(client, harness.command(EVERY_TYPE_STEPS), **CHECKED_ASSET)
    return [materialize([asset])]


@scenario(materialized=[["plain"]], script_logs=[("WARNING", "plain warning")], custom_messages=1)
def get_materialize_result(kind: str, harness: Harness) -> list[Runner]:
    """2. A plain asset returns ``get_materialize_result()``; env injector, extras."""
    api = pipes_api(kind)
    command = harness.command(
        [
            {"context": True},
            {"log": ["warning", "plain warning"]},
            {"materialize": {"metadata": {"rows": 12, "ratio": 0.5}, "data_version": "plain-1"}},
        ]
    )

    @dg.asset(name="plain")
    def plain(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        client = api.PipesSubprocessClient(context_injector=api.PipesEnvContextInjector())
        invocation = harness.step.run_client(client, context=context, command=command, extras=payloads.EXTRAS)
        return invocation.get_materialize_result()

    return [materialize([plain])]


@scenario(materialized=[["a/b", "c"]], custom_messages=1)
def slash_in_key(kind: str, harness: Harness) -> list[Runner]:
    """3. A slash inside a key part travels escaped; the file reader at a given path.

    A multi-asset, since ``@asset`` names its op after the key, and for the same reason no check
    (Dagster names a check's output after the key; a slash is not allowed in either).
    """
    api = pipes_api(kind)
    asset_value = {"raw_value": "a/b/c", "type": "asset"}
    command = harness.command([{"context": True}, {"materialize": {"key_index": 0, "metadata": {"key": asset_value}}}])

    @dg.multi_asset(name="slashed", outs={"out": dg.AssetOut(key=dg.AssetKey(["a/b", "c"]))})
    def slashed(context: dg.AssetExecutionContext):  # noqa: ANN202 - Dagster reads it
        reader = api.PipesFileMessageReader(str(harness.workdir / "messages.jsonl"))
        client = api.PipesSubprocessClient(message_reader=reader)
        return harness.step.run_client(client, context=context, command=command).get_results()

    return [materialize([slashed])]


MULTI_KEYS = {name: dg.AssetKey(["multi", name]) for name in ("a", "b", "c", "d")}
MULTI_SELECTED = ("a", "b", "c")


@scenario(
    # c is selected but not reported: its materialization is implicit, after the session closed
    materialized=[["multi", "a"], ["multi", "b"], ["multi", "c"]],
    script_logs=[("INFO", "a reported")],
    custom_messages=1,
)
def multi_asset_subset_streamed(kind: str, harness: Harness) -> list[Runner]:
    """4. A subset of a multi-asset, results yielded from the session while the process runs.

    The script reports ``a``, then waits until the step has seen a result (or ten seconds have
    passed) before it reports ``b``. Dagster's ``get_results`` returns everything (implicit
    materializations included) at every call, so its step takes them once, after the close.
    """
    api = pipes_api(kind)
    step = harness.step
    go = harness.workdir / "go"
    command = harness.command(
        [
            {"context": True},
            {"materialize": {"key_index": 0, "metadata": {"order": 1}, "data_version": "a-1"}},
            {"log": ["info", "a reported"]},
            {"wait_for": str(go)},
            {"materialize": {"key_index": 1, "metadata": {"order": 2}}},
        ]
    )

    @dg.multi_asset(
        name="multi",
        outs={name: dg.AssetOut(key=key, is_required=False) for name, key in MULTI_KEYS.items()},
        can_subset=True,
    )
    def multi(context: dg.AssetExecutionContext) -> Iterator[Any]:
        with api.open_pipes_session(
            context=context,
            context_injector=api.PipesTempFileContextInjector(),
            message_reader=api.PipesTempFileMessageReader(),
        ) as session:
            env = {**os.environ, **session.get_bootstrap_env_vars()}
            process = subprocess.Popen(command, env=env)
            give_up = time.monotonic() + 10
            while process.poll() is None:
                if kind == PIPES_FAST:  # pipes_fast streams: each result once, while the process runs
                    results = session.drain_results()
                    step.streamed += len(results)
                    yield from results
                else:
                    results = session.get_reported_results()
                if results or time.monotonic() > give_up:
                    go.touch()
                time.sleep(0.01)
        step.custom_messages = list(session.get_custom_messages())
        if process.returncode:
            raise dg.Failure(f"the external process exited with {process.returncode}")
        yield from session.drain_results() if kind == PIPES_FAST else session.get_results()

    return [materialize([multi], selection=[MULTI_KEYS[name] for name in MULTI_SELECTED])]


def partitioned_asset(kind: str, harness: Harness, partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """An asset on ``partitions_def`` (one run may cover a range) reporting one materialization."""
    command = harness.command([{"context": True}, {"materialize": {"metadata": {"rows": 1}, "data_version": "part-1"}}])
    return harness.asset(
        pipes_api(kind).PipesSubprocessClient(),
        command,
        name="partitioned",
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
    )


DAILY = dg.DailyPartitionsDefinition(start_date="2024-01-01")


@scenario(materialized=[["partitioned"]], custom_messages=1)
def static_partition(kind: str, harness: Harness) -> list[Runner]:
    """5a. One key of a static partitions definition."""
    static = dg.StaticPartitionsDefinition(["p1", "p2", "p3"])
    return [materialize([partitioned_asset(kind, harness, static)], partition_key="p2")]


@scenario(materialized=[["partitioned"]], custom_messages=1)
def daily_partition(kind: str, harness: Harness) -> list[Runner]:
    """5b. One key of a daily partitions definition (a time window)."""
    return [materialize([partitioned_asset(kind, harness, DAILY)], partition_key="2024-01-02")]


@scenario(materialized=[["partitioned"]] * 3, custom_messages=1)
def daily_partition_range(kind: str, harness: Harness) -> list[Runner]:
    """5c. A single-run backfill of three daily partitions (one materialization event each)."""
    tags = {RANGE_START_TAG: "2024-01-02", RANGE_END_TAG: "2024-01-04"}
    return [materialize([partitioned_asset(kind, harness, DAILY)], tags=tags)]


@dg.asset(name="prov_upstream")
def prov_upstream() -> dg.MaterializeResult:
    """The upstream asset whose data version shows in the downstream's provenance."""
    return dg.MaterializeResult(data_version=dg.DataVersion("raw-1"))


@scenario(materialized=[["prov_downstream"]], custom_messages=1)
def code_version_and_provenance(kind: str, harness: Harness) -> list[Runner]:
    """6. An asset with a code version, materialized once before (its upstream with a data
    version), so the observed run has provenance."""
    command = harness.command([{"context": True}, {"materialize": {"metadata": {}, "data_version": "down-1"}}])
    downstream = harness.asset(
        pipes_api(kind).PipesSubprocessClient(),
        command,
        name="prov_downstream",
        code_version="v7",
        deps=[prov_upstream],
    )
    assets = [prov_upstream, downstream]
    return [materialize(assets), materialize(assets, selection=[downstream.key])]


OP_CUSTOM_MESSAGES: list[Any] = [
    {"kind": "object", "n": [1, 2.5, None]},
    [1, "two"],
    "text ü",
    7,
    1.5,
    True,
    None,
]


@scenario(
    materialized=[],
    script_logs=[(level.upper(), f"{level} from the op ✓") for level in LOG_LEVELS],
    custom_messages=1 + len(OP_CUSTOM_MESSAGES),
    streams=True,
)
def op_job(kind: str, harness: Harness) -> list[Runner]:
    """7. An op without assets: logs at every level, custom messages, external stream text."""
    command = harness.command(
        [
            {"context": True},
            *({"log": [level, f"{level} from the op ✓"]} for level in LOG_LEVELS),
            *({"custom": payload} for payload in OP_CUSTOM_MESSAGES),
            {"stream": ["stdout", f"{STREAM_MARKER} to stdout ✓\n"]},
            {"stream": ["stderr", f"{STREAM_MARKER} to stderr ⚠\n"]},
        ]
    )

    @dg.op(name="pipes_op")
    def pipes_op(context: dg.OpExecutionContext) -> None:
        client = pipes_api(kind).PipesSubprocessClient()
        harness.step.run_client(client, context=context, command=command)

    @dg.job(name="pipes_job")
    def pipes_job() -> None:
        pipes_op()

    def run(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
        return pipes_job.execute_in_process(instance=instance, raise_on_error=False, run_config=QUIET)

    return [run]


@scenario(materialized=[["with_resource"]])
def client_as_resource(kind: str, harness: Harness) -> list[Runner]:
    """8. The client is a resource; the asset's parameter is annotated
    ``dagster.PipesSubprocessClient``."""
    command = harness.command([{"materialize": {"metadata": {"via": "resource"}, "data_version": "r-1"}}])

    @dg.asset(name="with_resource")
    def with_resource(
        context: dg.AssetExecutionContext, pipes_subprocess_client: dg.PipesSubprocessClient
    ) -> dg.MaterializeResult:
        invocation = harness.step.run_client(pipes_subprocess_client, context=context, command=command)
        return invocation.get_materialize_result()

    resources = {"pipes_subprocess_client": pipes_api(kind).PipesSubprocessClient()}
    return [materialize([with_resource], resources=resources)]


FAILING_STEPS: Steps = [
    {"log": ["warning", "about to fail"]},
    {"custom": {"before": "failure"}},
    {"materialize": {"metadata": {"partial": True}}},
    {"raise": EXTERNAL_ERROR},
]


@scenario(materialized=[], script_logs=[("WARNING", "about to fail")], success=False)
def failing_process(kind: str, harness: Harness) -> list[Runner]:
    """9. The script raises inside ``open_dagster_pipes`` and exits 1: the run fails."""
    client = pipes_api(kind).PipesSubprocessClient()
    return [materialize([harness.asset(client, harness.command(FAILING_STEPS), name="failing")])]


@scenario(materialized=[], script_logs=[("WARNING", "about to fail")], success=False)
def failing_process_stdio_captured(kind: str, harness: Harness) -> list[Runner]:
    """9b. The same with ``forward_stdio=False`` (the client captures stdout and stderr)."""
    client = pipes_api(kind).PipesSubprocessClient(forward_stdio=False)
    return [materialize([harness.asset(client, harness.command(FAILING_STEPS), name="failing")])]


@scenario(materialized=[["silent"]], opens_pipes=False)
def no_messages(kind: str, harness: Harness) -> list[Runner]:
    """A process that never opens Pipes: a warning naming the injector and the reader, and the
    asset's implicit materialization."""
    client = pipes_api(kind).PipesSubprocessClient()
    return [materialize([harness.asset(client, [sys.executable, "-c", "pass"], name="silent")])]


@scenario(**EVERY_TYPE_EXPECTED)
def dagster_session_with_our_file_pair(kind: str, harness: Harness) -> list[Runner]:
    """10a. Dagster's own ``open_pipes_session``, fed by the kind's file injector and reader."""
    api = pipes_api(kind)
    command = harness.command(EVERY_TYPE_STEPS)

    @dg.asset(**CHECKED_ASSET)
    def checked(context: dg.AssetExecutionContext):  # noqa: ANN202 - Dagster reads it
        with dg.open_pipes_session(
            context=context,
            context_injector=api.PipesFileContextInjector(str(harness.workdir / "context.json")),
            message_reader=api.PipesFileMessageReader(str(harness.workdir / "messages.jsonl")),
        ) as session:
            env = {**os.environ, **session.get_bootstrap_env_vars()}
            subprocess.run(command, env=env, check=True)
        harness.step.custom_messages = list(session.get_custom_messages())
        return session.get_results()

    return [materialize([checked])]


STDIO_STEPS: Steps = [
    {"context": True},
    {"print": ["stdout", f"{STREAM_MARKER} printed to stdout"]},
    {"print": ["stderr", f"{STREAM_MARKER} printed to stderr"]},
    {"materialize": {"metadata": {"printed": 2}}},
]


@scenario(materialized=[["stdio"]], custom_messages=1, streams=True)
def dagster_client_with_our_tempfile_pair(kind: str, harness: Harness) -> list[Runner]:
    """10b. Dagster's own ``PipesSubprocessClient`` with the kind's temp-file injector and reader,
    the reader asking for the script's stdout and stderr in the messages."""
    api = pipes_api(kind)
    client = dg.PipesSubprocessClient(
        context_injector=api.PipesTempFileContextInjector(),
        message_reader=api.PipesTempFileMessageReader(include_stdio_in_messages=True),
    )
    return [materialize([harness.asset(client, harness.command(STDIO_STEPS), name="stdio")])]


@scenario(materialized=[["stdio"]], custom_messages=1, streams=True)
def include_stdio_in_messages(kind: str, harness: Harness) -> list[Runner]:
    """The kind's own client and temp-file reader, the script's stdout and stderr in the
    messages."""
    api = pipes_api(kind)
    reader = api.PipesTempFileMessageReader(include_stdio_in_messages=True)
    client = api.PipesSubprocessClient(message_reader=reader)
    return [materialize([harness.asset(client, harness.command(STDIO_STEPS), name="stdio")])]


# --- the runs, shared by every test of the module ----------------------------------------------

Runs = Callable[[str, str], Events]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """``runs(scenario_id, kind)``: the events of a scenario's run, run once per module."""
    root = tmp_path_factory.mktemp("dagster-integration")
    script = EXTERNAL_SCRIPT
    cache: dict[tuple[str, str], Events] = {}

    def get(scenario_id: str, kind: str) -> Events:
        if (scenario_id, kind) not in cache:
            workdir = root / f"{scenario_id}-{kind}"
            workdir.mkdir()
            harness = Harness(script, workdir, Step())
            runners = SCENARIOS[scenario_id].build(kind, harness)
            cache[scenario_id, kind] = run_events(runners, harness.step)
        return cache[scenario_id, kind]

    return get


def context_seen(events: Events) -> dict[str, Any]:
    """The context the script reported (its first custom message), run id normalised."""
    return json.loads(events.custom_messages[0])["context"]


# --- the tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("scenario_id", SCENARIOS)
def test_reports_as_scripted(runs: Runs, scenario_id: str, kind: str) -> None:
    """Each run holds what its script reported: the comparison below compares something."""
    expected = SCENARIOS[scenario_id]
    events = runs(scenario_id, kind)
    assert events.success is expected.success
    assert [m["asset_key"] for m in events.materializations] == expected.materialized
    assert [c["check_name"] for c in events.checks] == expected.checks
    assert (OPENED in events.logs) is expected.opens_pipes
    assert [log for log in events.logs if log in expected.script_logs] == expected.script_logs
    assert len(events.custom_messages) == expected.custom_messages
    assert bool(events.stdout and events.stderr) is expected.streams


COMPARED_FIELDS = tuple(f.name for f in dataclasses.fields(Events) if f.name != "step")


@pytest.mark.parametrize("field_name", COMPARED_FIELDS)
@pytest.mark.parametrize("scenario_id", SCENARIOS)
def test_same_events_as_dagster(runs: Runs, scenario_id: str, field_name: str) -> None:
    """pipes_fast's run and Dagster's agree on one field of the normalised events."""
    ours = runs(scenario_id, PIPES_FAST).compared()[field_name]
    reference = runs(scenario_id, DAGSTER).compared()[field_name]
    assert ours == reference


@pytest.mark.parametrize("kind", KINDS)
def test_every_metadata_type(runs: Runs, kind: str) -> None:
    """All 17 wire types (``__infer__`` of each JSON kind too) become Dagster's classes."""
    [materialization] = runs("every_metadata_type_and_checks", kind).materializations
    wire_types = payloads.expected_types(payloads.EVERY_TYPE)
    assert set(METADATA_CLASSES) <= set(wire_types.values())
    classes = {name: value_class for name, (value_class, _) in materialization["metadata"].items()}
    assert classes == {name: METADATA_CLASSES[wire_type] for name, wire_type in wire_types.items()}
    assert materialization["data_version"] == "dv-1"


@pytest.mark.parametrize("kind", KINDS)
def test_checks(runs: Runs, kind: str) -> None:
    """One check passed with WARN severity and metadata, one failed with ERROR."""
    fresh, valid = runs("every_metadata_type_and_checks", kind).checks
    assert (fresh["passed"], fresh["severity"]) == (True, "WARN")
    assert sorted(fresh["metadata"]) == ["lag_hours", "note"]
    assert (valid["passed"], valid["severity"], valid["metadata"]) == (False, "ERROR", {})
    assert fresh["has_target_materialization"] and valid["has_target_materialization"]


@pytest.mark.parametrize("kind", KINDS)
def test_multi_asset_subset(runs: Runs, kind: str) -> None:
    """The script sees the selected keys only; the one it did not report is implicit."""
    events = runs("multi_asset_subset_streamed", kind)
    assert context_seen(events)["asset_keys"] == [f"multi/{name}" for name in MULTI_SELECTED]
    assert [m["data_version"] for m in events.materializations] == ["a-1", None, None]
    assert events.materializations[-1]["metadata"] == {}


def test_results_streamed_while_running(runs: Runs) -> None:
    """pipes_fast's session hands a result over while the process still runs."""
    assert runs("multi_asset_subset_streamed", PIPES_FAST).step.streamed >= 1


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("scenario_id", "partition_fields"),
    [
        (
            "static_partition",
            {
                "partition_key": "p2",
                "partition_key_range": {"start": "p2", "end": "p2"},
                "partition_time_window": None,
            },
        ),
        (
            "daily_partition",
            {
                "partition_key": "2024-01-02",
                "partition_key_range": {"start": "2024-01-02", "end": "2024-01-02"},
                "partition_time_window": {
                    "start": "2024-01-02T00:00:00+00:00",
                    "end": "2024-01-03T00:00:00+00:00",
                },
            },
        ),
    ],
)
def test_partition_context(runs: Runs, scenario_id: str, partition_fields: dict[str, Any], kind: str) -> None:
    """A single-partition run injects its key, range and (for time partitions) window."""
    events = runs(scenario_id, kind)
    seen = context_seen(events)
    assert seen["is_partition_step"] is True
    assert {name: seen[name] for name in partition_fields} == partition_fields
    assert [m["partition"] for m in events.materializations] == [partition_fields["partition_key"]]


@pytest.mark.parametrize("kind", KINDS)
def test_partition_range_run(runs: Runs, kind: str) -> None:
    """A range run materializes each partition of the range; the script saw Dagster's context."""
    events = runs("daily_partition_range", kind)
    partitions = [m["partition"] for m in events.materializations]
    assert partitions == ["2024-01-02", "2024-01-03", "2024-01-04"]
    assert context_seen(events) == context_seen(runs("daily_partition_range", DAGSTER))


@pytest.mark.parametrize("kind", KINDS)
def test_code_version_and_provenance(runs: Runs, kind: str) -> None:
    """The code version and the provenance of the previous materialization reach the script."""
    seen = context_seen(runs("code_version_and_provenance", kind))
    assert seen["code_version_by_asset_key"] == {"prov_downstream": "v7"}
    assert seen["provenance_by_asset_key"] == {
        "prov_downstream": {
            "code_version": "v7",
            "input_data_versions": {"prov_upstream": "raw-1"},
            "is_user_provided": True,
        }
    }


@pytest.mark.parametrize("kind", KINDS)
def test_op_step(runs: Runs, kind: str) -> None:
    """An op step: no asset keys, custom messages in order, stream text on its own stream."""
    events = runs("op_job", kind)
    assert context_seen(events)["is_asset_step"] is False
    assert events.step.custom_messages[1:] == OP_CUSTOM_MESSAGES
    assert events.stdout == [f"{STREAM_MARKER} to stdout ✓"]
    assert events.stderr == [f"{STREAM_MARKER} to stderr ⚠"]


@pytest.mark.parametrize("kind", KINDS)
def test_extras_and_escaped_keys(runs: Runs, kind: str) -> None:
    """Extras arrive as given; a slash inside a key part travels escaped."""
    assert context_seen(runs("get_materialize_result", kind))["extras"] == payloads.EXTRAS
    assert context_seen(runs("slash_in_key", kind))["asset_keys"] == ["a\\/b/c"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("scenario_id", ["failing_process", "failing_process_stdio_captured"])
def test_failing_process(runs: Runs, scenario_id: str, kind: str) -> None:
    """A failing process raises a DagsterPipesExecutionError and leaves the engine event; ours
    is pipes_fast's error too and names the external exception."""
    events = runs(scenario_id, kind)
    error = events.step.error
    assert isinstance(error, DagsterPipesExecutionError)
    if kind == PIPES_FAST:
        assert isinstance(error, pipes_fast.PipesExecutionError)
        assert EXTERNAL_ERROR in str(error)
    [engine_event] = events.pipes_engine_events
    assert engine_event["message"] == PIPES_CLOSED_WITH_EXCEPTION
    assert engine_event["error"].name == "ValueError"
    assert EXTERNAL_ERROR in engine_event["error"].message
    assert engine_event["error"].cause.name == "KeyError"
    assert events.failed_steps == ["failing"]


def test_failure_message_has_stderr_tail(runs: Runs) -> None:
    """With stdio captured, ours ends its message with the tail of the process's stderr."""
    message = str(runs("failing_process_stdio_captured", PIPES_FAST).step.error)
    assert "Traceback (most recent call last)" in message
    assert f"ValueError: {EXTERNAL_ERROR}" in message


def test_no_messages_warning(runs: Runs) -> None:
    """Dagster warns when the process never opened Pipes (the reference for the comparison)."""
    [(level, text)] = runs("no_messages", DAGSTER).logs
    assert level == "WARNING" and text.startswith("[pipes] did not receive any messages")


def test_our_classes_are_dagsters() -> None:
    """pipes_fast.dagster's client, error, readers and injectors are Dagster's kinds."""
    ours = pipes_api(PIPES_FAST)
    assert issubclass(ours.PipesSubprocessClient, dg.PipesSubprocessClient)
    assert issubclass(ours.PipesExecutionError, DagsterPipesExecutionError)
    assert issubclass(ours.PipesExecutionError, pipes_fast.PipesExecutionError)
    for reader in (ours.PipesFileMessageReader, ours.PipesTempFileMessageReader):
        assert issubclass(reader, dg.PipesMessageReader)
    for injector in (
        ours.PipesEnvContextInjector,
        ours.PipesFileContextInjector,
        ours.PipesTempFileContextInjector,
    ):
        assert issubclass(injector, dg.PipesContextInjector)
