"""Run an external script under Dagster's orchestrator and under pipes_fast's, and normalise what
each made of it, so that the two compare with ``==``.

Two views of a run:

- :class:`Observation`, in the wire's vocabulary (asset keys as path tuples, metadata as
  ``{name: (wire type, canonical JSON)}``, severities as "WARN"/"ERROR", custom messages as
  canonical JSON): what Dagster's own ``PipesSubprocessClient``/``open_pipes_session`` and the
  core ``pipes_fast`` ones made of a :class:`~support.scenarios.Scenario`
  (:func:`run_under_dagster`, :func:`run_under_pipes_fast`, cached by :func:`dagster_run` and
  :func:`pipes_fast_run`).
- :class:`Events`: a Dagster run's event log, for steps that run Dagster's Pipes classes or
  ``pipes_fast.dagster``'s inside Dagster (:func:`run_events`, :func:`events_of`). Only what
  legitimately differs between two runs is normalised: run ids and other UUIDs, storage ids,
  temporary paths.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import os
import re
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.definitions.data_version import DATA_VERSION_IS_USER_PROVIDED_TAG, DATA_VERSION_TAG
from dagster._serdes import serialize_value

from support import SCRIPTS
from support.scenarios import SCENARIOS, SCENARIOS_BY_ID, PartitionCase, Scenario, make_pair
from support.scripts import payloads

QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
"""Run config that keeps Dagster's console logger quiet."""
PIPES_PREFIX = "[pipes]"
PIPES_CLOSED_WITH_EXCEPTION = "[pipes] external process pipes closed with exception"
STREAM_MARKER = "stream-marker"  # lines a steps_script.py step sends to the orchestrator's stdout/stderr
EXTERNAL_SCRIPT = SCRIPTS / "steps_script.py"
"""A dagster-pipes external process that runs the steps given as JSON in argv[1]."""
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
_STORAGE_ID_TAG_PREFIX = "dagster/input_event_pointer/"  # tags whose values are event-log storage ids

AssetPath = tuple[str, ...]
Metadata = dict[str, tuple[str, str]]
Runner = Callable[[dg.DagsterInstance], dg.ExecuteInProcessResult]


# ----- values -----


def canonical(value: Any) -> str:
    """Canonical JSON: sorted keys, NaN/Infinity spelled as Python's json writes them.

    Keeps ``1`` apart from ``1.0`` and ``True``, which plain ``==`` would not.
    """
    return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=True)


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TEMP_PATH = re.compile(re.escape(tempfile.gettempdir()) + r"/[^\s'\"`,]*")
_AFTER_CLOSED = re.compile(r"^\[pipes\] unexpected message( at line \d+)? received after closed: `?(.*?)`?$", re.DOTALL)
"""The warning for a message after ``closed``: pipes_fast's names the line (and is capped)."""


def normalise_text(text: str) -> str:
    """``text`` with UUIDs (run ids) and temporary paths replaced by placeholders, and the two
    wordings of the warning for a message after ``closed`` made one."""
    text = _AFTER_CLOSED.sub(r"[pipes] unexpected message received after closed: \2", text)
    return _TEMP_PATH.sub("<tmp>", _UUID.sub("<uuid>", text))


def wire_column(column: Any) -> dict[str, Any]:
    """A Dagster ``TableColumn`` as the full raw dict the scripts send."""
    return {
        "name": column.name,
        "type": column.type,
        "description": column.description,
        "tags": dict(column.tags),
        "constraints": {
            "nullable": column.constraints.nullable,
            "unique": column.constraints.unique,
            "other": list(column.constraints.other),
        },
    }


def _lineage(value: Any) -> dict[str, Any]:
    deps = value.column_lineage.deps_by_column.items()
    return {
        "deps_by_column": {
            column: [{"asset_key": dep.asset_key.to_user_string(), "column_name": dep.column_name} for dep in deps]
            for column, deps in deps
        }
    }


_DAGSTER_METADATA: list[tuple[type, str, Callable[[Any], Any]]] = [
    (dg.TextMetadataValue, "text", lambda v: v.text),
    (dg.UrlMetadataValue, "url", lambda v: v.url),
    (dg.PathMetadataValue, "path", lambda v: v.value),
    (dg.NotebookMetadataValue, "notebook", lambda v: v.value),
    (dg.JsonMetadataValue, "json", lambda v: v.data),
    (dg.MarkdownMetadataValue, "md", lambda v: v.md_str),
    (dg.FloatMetadataValue, "float", lambda v: v.value),
    (dg.IntMetadataValue, "int", lambda v: v.value),
    (dg.BoolMetadataValue, "bool", lambda v: v.value),
    (dg.DagsterRunMetadataValue, "dagster_run", lambda v: v.run_id),
    (dg.DagsterAssetMetadataValue, "asset", lambda v: list(v.asset_key.path)),
    (dg.NullMetadataValue, "null", lambda v: None),
    (
        dg.TableMetadataValue,
        "table",
        lambda v: {"records": [dict(r.data) for r in v.records], "schema": [wire_column(c) for c in v.schema.columns]},
    ),
    (dg.TableSchemaMetadataValue, "table_schema", lambda v: {"columns": [wire_column(c) for c in v.schema.columns]}),
    (dg.TableColumnLineageMetadataValue, "table_column_lineage", _lineage),
    (dg.TimestampMetadataValue, "timestamp", lambda v: v.value),
]


def dagster_metadata_value(value: Any) -> tuple[str, Any]:
    """A Dagster ``MetadataValue`` back as (wire type, raw value)."""
    for cls, wire_type, raw in _DAGSTER_METADATA:
        if type(value) is cls:
            return wire_type, raw(value)
    raise TypeError(f"no wire type for Dagster metadata value {value!r}")


def dagster_metadata(metadata: Any) -> Metadata:
    """A Dagster metadata mapping, normalised."""
    return {name: _typed(*dagster_metadata_value(value)) for name, value in (metadata or {}).items()}


def pipes_fast_metadata(metadata: Any) -> Metadata:
    """A pipes_fast metadata mapping (``MetadataValue(type, value)``), normalised."""
    return {
        name: _typed(value.type, list(value.value.path) if value.type == "asset" else value.value)
        for name, value in (metadata or {}).items()
    }


def _typed(wire_type: str, raw: Any) -> tuple[str, str]:
    return wire_type, canonical(raw)


def expected_metadata(spec: Mapping[str, tuple[Any, str]]) -> Metadata:
    """What a metadata spec of ``payloads`` (name -> (value sent, wire type)) comes back as."""
    out: Metadata = {}
    for name, (value, wire_type) in spec.items():
        raw = value["raw_value"] if isinstance(value, dict) else value
        out[name] = _typed(wire_type, raw.split("/") if wire_type == "asset" else raw)  # read with from_user_string
    return out


def serialised_metadata(metadata: Any) -> dict[str, tuple[str, str]]:
    """A Dagster metadata mapping as ``{name: (value class name, canonical serialised value)}``:
    for two runs that both produce Dagster values."""
    return {
        name: (type(value).__name__, normalise_text(canonical(json.loads(serialize_value(value)))))
        for name, value in (metadata or {}).items()
    }


def user_data_version(tags: Mapping[str, str] | None) -> str | None:
    """The data version the external process reported (not one Dagster computed)."""
    tags = tags or {}
    return tags.get(DATA_VERSION_TAG) if tags.get(DATA_VERSION_IS_USER_PROVIDED_TAG) == "true" else None


@dataclass(frozen=True)
class ExternalError:
    """The exception the external process reported in its ``closed`` message."""

    name: str | None
    message: str
    stack: tuple[str, ...]
    cause: ExternalError | None
    context: ExternalError | None


def external_error(error: Any, text: Callable[[str], str] = str) -> ExternalError | None:
    """Dagster's ``SerializableErrorInfo`` or the wire's exception mapping, ``text`` applied to its strings."""
    if not error:
        return None
    get: Callable[[str], Any] = error.get if isinstance(error, dict) else lambda name: getattr(error, name, None)
    return ExternalError(
        name=get("cls_name") or get("name"),
        message=text(get("message")),
        stack=tuple(text(frame) for frame in get("stack") or ()),
        cause=external_error(get("cause"), text),
        context=external_error(get("context"), text),
    )


# ----- the wire view: Observation -----


@dataclass(frozen=True)
class Materialization:
    """One reported (or implicit) materialization."""

    asset_key: AssetPath
    metadata: Metadata
    data_version: str | None


@dataclass(frozen=True)
class CheckEvaluation:
    """One asset check result."""

    asset_key: AssetPath
    check_name: str
    passed: bool
    severity: str
    metadata: Metadata


@dataclass
class Observation:
    """Everything one orchestrator run produced, normalised."""

    orchestrator: str
    run_id: str | None = None  # what the orchestrator injected
    job_name: str | None = None
    materializations: list[Materialization] = field(default_factory=list)
    checks: list[CheckEvaluation] = field(default_factory=list)
    context: dict[str, Any] | None = None  # the script's context report, run_id/job_name removed
    seen_run_id: str | None = None
    seen_job_name: str | None = None
    custom_messages: list[str] = field(default_factory=list)
    logs: list[tuple[int, str]] = field(default_factory=list)  # (level, message), marked ones
    stdout: list[str] = field(default_factory=list)  # marked lines written to the stream
    stderr: list[str] = field(default_factory=list)
    failed: bool = False
    error: BaseException | None = None
    error_logs: list[str] = field(default_factory=list)  # ERROR+ log text not from the script
    external_error: ExternalError | None = None
    leftovers: list[str] = field(default_factory=list)  # files left in the run's work dir
    captured: dict[str, str | None] = field(default_factory=dict)  # forward_stdio=False capture

    def take_custom_messages(self, messages: list[Any]) -> None:
        """Split the script's context report (first message) from the other custom messages."""
        rest = list(messages)
        if rest and isinstance(rest[0], dict) and payloads.CONTEXT_KEY in rest[0]:
            report = dict(rest.pop(0)[payloads.CONTEXT_KEY])
            self.seen_run_id = report.pop("run_id")
            self.seen_job_name = report.pop("job_name")
            self.context = report
        self.custom_messages = [canonical(message) for message in rest]

    def take_logs(self, records: list[tuple[int, str]]) -> None:
        """Keep the script's log messages, and the text of other ERROR+ records."""
        self.logs = [(level, msg) for level, msg in records if msg.startswith(payloads.LOG_MARKER)]
        self.error_logs = [
            msg for level, msg in records if level >= logging.ERROR and not msg.startswith(payloads.LOG_MARKER)
        ]

    def take_streams(self, stdout: str, stderr: str) -> None:
        """Keep the lines of each stream that the script sent (marked ones)."""
        markers = (payloads.STREAM_MARKER, payloads.STDIO_MARKER)
        self.stdout = [line for line in stdout.splitlines() if line.startswith(markers)]
        self.stderr = [line for line in stderr.splitlines() if line.startswith(markers)]

    def take_results(self, results: Any, metadata_of: Callable[[Any], Metadata]) -> None:
        """Split ``get_results()`` (of either package) into normalised materializations and checks."""
        self.materializations, self.checks = [], []
        for result in results:
            path = tuple(result.asset_key.path)
            if hasattr(result, "check_name"):
                severity = str(getattr(result.severity, "value", result.severity))
                self.checks.append(
                    CheckEvaluation(path, result.check_name, result.passed, severity, metadata_of(result.metadata))
                )
            else:
                version = result.data_version
                version = None if version is None else str(getattr(version, "value", version))
                self.materializations.append(Materialization(path, metadata_of(result.metadata), version))


def cli_arguments(arguments: Mapping[str, str]) -> list[str]:
    """``get_bootstrap_cli_arguments()`` flattened into an argv tail."""
    return [item for name, value in arguments.items() for item in (name, value)]


@dataclass
class _Invocation:
    """What one run of a scenario's script gave its orchestrator's step."""

    custom: list[Any]
    results: list[Any]
    failed: bool
    captured: dict[str, str | None]
    exception: Any = None  # the closed message's exception, where a session shows it


def _invoke(api: Any, scenario: Scenario, context: Any, injector: Any, reader: Any) -> _Invocation:
    """Run the scenario's script with ``api`` (``dagster`` or ``pipes_fast``): its client, or a
    session and a subprocess given the bootstrap as CLI arguments or environment variables."""
    extras = dict(scenario.extras)
    if scenario.bootstrap == "env":
        client = api.PipesSubprocessClient(context_injector=injector, message_reader=reader, forward_stdio=False)
        invocation = client.run(context=context, command=scenario.command(), extras=extras)
        streams = {"stdout": getattr(invocation, "stdout", None), "stderr": getattr(invocation, "stderr", None)}
        return _Invocation(list(invocation.get_custom_messages()), list(invocation.get_results()), False, streams)
    with api.open_pipes_session(context=context, context_injector=injector, message_reader=reader, extras=extras) as s:
        if scenario.bootstrap == "cli":
            argv, env = scenario.command(*cli_arguments(s.get_bootstrap_cli_arguments())), None
        else:
            argv, env = scenario.command(), {**os.environ, **s.get_bootstrap_env_vars()}
        process = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    failed = process.returncode != 0
    handler = getattr(s, "message_handler", None)
    return _Invocation(
        list(s.get_custom_messages()),
        [] if failed else list(s.get_results()),
        failed,
        {"stdout": process.stdout, "stderr": process.stderr},
        getattr(handler, "exception", None),
    )


# ----- runs on a Dagster instance -----


@dataclass
class InstanceRun:
    """The last run of :func:`run_on_instance`: its result, event log and what it printed."""

    result: dg.ExecuteInProcessResult
    entries: list[Any]
    stdout: str
    stderr: str


def run_on_instance(runners: Sequence[Runner], before_last: Callable[[], None] = lambda: None) -> InstanceRun:
    """Run ``runners`` in order on one ephemeral instance, capturing the last one's stdout and stderr.

    The runs before the last seed the instance (materializations that provenance refers to);
    ``before_last`` forgets what they left in the step's records.
    """
    *seeds, observed = runners
    stdout, stderr = io.StringIO(), io.StringIO()
    with dg.DagsterInstance.ephemeral() as instance:
        for seed in seeds:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                if not seed(instance).success:
                    raise RuntimeError("a seed run failed")
        before_last()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            result = observed(instance)
        entries = list(instance.all_logs(result.run_id))
    return InstanceRun(result, entries, stdout.getvalue(), stderr.getvalue())


# ----- a Scenario under Dagster -----


@dataclass
class DagsterRun:
    """A Dagster run's observation, plus views used to check the harness itself."""

    observation: Observation
    # the pipes results as the step received them, before Dagster turned them into events
    results_view: tuple[list[Materialization], list[CheckEvaluation]] | None
    # the partition of each materialization event (Dagster writes one per partition)
    event_partitions: list[str | None]


def _partitions_def(case: PartitionCase | None) -> dg.PartitionsDefinition | None:
    if case is None:
        return None
    if case.kind == "static":
        return dg.StaticPartitionsDefinition(list(case.static_keys))
    if case.kind == "daily":
        return dg.DailyPartitionsDefinition(start_date=case.start, timezone=case.timezone)
    return dg.HourlyPartitionsDefinition(start_date=case.start, timezone=case.timezone)


@dg.asset(key=dg.AssetKey(list(payloads.UPSTREAM)))
def upstream() -> dg.MaterializeResult:
    """The upstream asset whose data version shows up in the seeded provenance."""
    return dg.MaterializeResult(data_version=dg.DataVersion("raw-1"))


def _dagster_step(scenario: Scenario, workdir: Path, sink: dict[str, _Invocation]) -> Callable[[Any], Any]:
    def step(context: Any) -> list[Any]:
        injector, reader = make_pair(dg, scenario.dagster_pair, workdir, include_stdio=scenario.include_stdio)
        sink["invocation"] = invocation = _invoke(dg, scenario, context, injector, reader)
        if invocation.failed:
            raise dg.Failure(f"external process failed: {invocation.captured['stderr']}")
        return invocation.results

    return step


def _asset_runners(scenario: Scenario, step: Callable[[Any], Any]) -> list[Runner]:
    """Runs of the scenario's asset step on an instance: a seed run if asked, then the real one."""
    partitions_def = _partitions_def(scenario.partition)

    @dg.multi_asset(
        name="interop_assets",
        outs={
            f"out{i}": dg.AssetOut(key=dg.AssetKey(list(path)), code_version=version)
            for i, (path, version) in enumerate(scenario.assets)
        },
        check_specs=[dg.AssetCheckSpec(name, asset=dg.AssetKey(list(path))) for path, name in scenario.checks],
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run() if partitions_def else None,
        deps=[dg.AssetKey(list(payloads.UPSTREAM))] if scenario.seed_run else None,
    )
    def interop_assets(context):  # type: ignore[no-untyped-def]  # Dagster refuses a string annotation
        yield from step(context)

    assets: list[Any] = [interop_assets, *([upstream] if scenario.seed_run else [])]
    kwargs: dict[str, Any] = {}
    case = scenario.partition
    if case is not None and case.key is not None:
        kwargs["partition_key"] = case.key
    elif case is not None:
        kwargs["tags"] = {RANGE_START_TAG: case.key_range[0], RANGE_END_TAG: case.key_range[1]}

    def seed(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
        return dg.materialize(assets, instance=instance, run_config=QUIET)

    def run(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
        selection = [dg.AssetKey(list(path)) for path, _ in scenario.assets]
        return dg.materialize(
            assets, instance=instance, selection=selection, raise_on_error=False, run_config=QUIET, **kwargs
        )

    return [seed, run] if scenario.seed_run else [run]


def _op_runners(scenario: Scenario, step: Callable[[Any], Any]) -> list[Runner]:
    """The run of the scenario's op step, in a one-op job, on an instance."""

    @dg.op
    def interop_op(context):  # type: ignore[no-untyped-def]  # Dagster refuses a string annotation
        if scenario.retry and context.retry_number == 0:
            raise dg.RetryRequested(max_retries=1)
        step(context)

    @dg.job(name="interop_op_job")
    def interop_op_job() -> None:
        interop_op()

    def run(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
        return interop_op_job.execute_in_process(instance=instance, raise_on_error=False, run_config=QUIET)

    return [run]


def run_under_dagster(scenario: Scenario) -> DagsterRun:
    """Run the scenario's script under Dagster (its own Pipes classes) and normalise the outcome."""
    sink: dict[str, _Invocation] = {}
    with tempfile.TemporaryDirectory(prefix="interop-dagster-") as tmp:
        workdir = Path(tmp)
        make_runners = _asset_runners if scenario.is_asset_step else _op_runners
        run = run_on_instance(make_runners(scenario, _dagster_step(scenario, workdir, sink)), sink.clear)
        leftovers = sorted(os.listdir(workdir))

    result = run.result
    obs = Observation("dagster", result.run_id, result.dagster_run.job_name, failed=not result.success)
    obs.leftovers = leftovers
    invocation = sink.get("invocation")
    obs.take_custom_messages(invocation.custom if invocation else [])
    obs.take_logs([(entry.level, entry.user_message) for entry in run.entries if entry.user_message])
    obs.take_streams(run.stdout, run.stderr)

    event_partitions: list[str | None] = []
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        event_partitions.append(materialization.partition)
        path = tuple(materialization.asset_key.path)
        record = Materialization(
            path, dagster_metadata(materialization.metadata), user_data_version(materialization.tags)
        )
        if record not in obs.materializations:  # one event per partition of a range run
            obs.materializations.append(record)
    for evaluation in result.get_asset_check_evaluations():
        path, severity = tuple(evaluation.asset_key.path), evaluation.severity.value
        metadata = dagster_metadata(evaluation.metadata)
        obs.checks.append(CheckEvaluation(path, evaluation.check_name, evaluation.passed, severity, metadata))
    for entry in run.entries:
        event = entry.dagster_event
        if event is not None and event.message == PIPES_CLOSED_WITH_EXCEPTION:
            obs.external_error = external_error(event.engine_event_data.error)

    results_view = None
    if invocation and not invocation.failed:
        view = Observation("dagster")
        view.take_results(invocation.results, dagster_metadata)
        results_view = (view.materializations, view.checks)
    return DagsterRun(observation=obs, results_view=results_view, event_partitions=event_partitions)


# ----- a Scenario under pipes_fast -----


class RecordingHandler(logging.Handler):
    """Keeps (level, formatted text) of every record, stack and exception text included."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(message)s"))
        self.records: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.levelno, self.format(record)))


def recording_logger(name: str) -> tuple[logging.Logger, RecordingHandler]:
    """A fresh logger (not propagating) whose records are kept by the returned handler."""
    logger = logging.getLogger(f"interop.pipes_fast.{name}.{uuid.uuid4().hex}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    handler = RecordingHandler()
    logger.addHandler(handler)
    return logger, handler


def step_context(scenario: Scenario, *, run_id: str, job_name: str, log: logging.Logger) -> Any:
    """pipes_fast's StepContext for the scenario's step.

    Asset keys are given as ``AssetKey`` objects where a part holds a slash, else as user strings,
    so both accepted spellings are used.
    """
    import pipes_fast

    kwargs: dict[str, Any] = {}
    if scenario.is_asset_step:
        paths = scenario.sorted_paths
        use_objects = any("/" in part for path in paths for part in path)
        keys = [pipes_fast.AssetKey(path) if use_objects else "/".join(path) for path in paths]
        kwargs["asset_keys"] = keys
        versions = dict(scenario.assets)
        if scenario.pass_code_versions:
            kwargs["code_version_by_asset_key"] = {key: versions[path] for key, path in zip(keys, paths, strict=True)}
        if scenario.provenance is not None:
            kwargs["provenance_by_asset_key"] = {
                key: scenario.provenance[path] for key, path in zip(keys, paths, strict=True)
            }
    if scenario.partition is not None:
        kwargs.update(scenario.partition.step_context_kwargs())
    if scenario.retry:
        kwargs["retry_number"] = 1
    return pipes_fast.StepContext(run_id=run_id, job_name=job_name, log=log, **kwargs)


def run_under_pipes_fast(
    scenario: Scenario, pair: tuple[str, str], workdir: Path, capfd: pytest.CaptureFixture[str]
) -> Observation:
    """Run the scenario's script under pipes_fast with the given pair; normalise the outcome."""
    import pipes_fast

    injector, reader = make_pair(pipes_fast, pair, workdir, include_stdio=scenario.include_stdio)
    obs = run_with_transport(scenario, injector, reader, capfd)
    obs.leftovers = sorted(os.listdir(workdir))
    return obs


def run_with_transport(
    scenario: Scenario, injector: Any, reader: Any, capfd: pytest.CaptureFixture[str]
) -> Observation:
    """Run the scenario's script under pipes_fast with this injector and reader."""
    import pipes_fast

    logger, handler = recording_logger(scenario.id)
    run_id, job_name = str(uuid.uuid4()), f"interop_{scenario.id}"
    obs = Observation(orchestrator="pipes_fast", run_id=run_id, job_name=job_name)
    context = step_context(scenario, run_id=run_id, job_name=job_name, log=logger)
    invocation = _Invocation([], [], False, {})
    capfd.readouterr()  # drop anything written before the run
    try:
        invocation = _invoke(pipes_fast, scenario, context, injector, reader)
    except pipes_fast.PipesExecutionError as error:
        obs.error = error
        invocation.failed = True
    out, err = capfd.readouterr()
    obs.failed, obs.captured = invocation.failed, invocation.captured
    obs.external_error = external_error(invocation.exception)
    obs.take_streams(out, err)
    obs.take_custom_messages(invocation.custom)
    obs.take_logs(handler.records)
    obs.take_results(invocation.results, pipes_fast_metadata)
    return obs


# ----- run caches: Dagster runs are slow -----

DAGSTER_SCENARIOS = tuple(scenario for scenario in SCENARIOS if scenario.dagster_reference)


@functools.cache
def dagster_run(scenario_id: str) -> DagsterRun:
    """The (cached) Dagster run of a scenario of ``SCENARIOS``."""
    return run_under_dagster(SCENARIOS_BY_ID[scenario_id])


_PIPES_FAST_RUNS: dict[tuple[str, tuple[str, str], str], Observation] = {}


def pipes_fast_run(
    scenario: Scenario,
    pair: tuple[str, str],
    implementation: str,
    capfd: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Observation:
    """The (cached) pipes_fast run of a scenario with one pair on one hot-path implementation."""
    key = (scenario.id, pair, implementation)
    if key not in _PIPES_FAST_RUNS:
        workdir: Path = tmp_path_factory.mktemp(f"{scenario.id}-{'-'.join(pair)}")
        _PIPES_FAST_RUNS[key] = run_under_pipes_fast(scenario, pair, workdir, capfd)
    return _PIPES_FAST_RUNS[key]


def scenario_id(scenario: Scenario) -> str:
    """A test id for a scenario."""
    return scenario.id


def pair_id(pair: tuple[str, str]) -> str:
    """A test id for an injector × reader pair."""
    return f"{pair[0]}-injector+{pair[1]}-reader"


# ----- the event-log view: Events -----


def _tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    """Materialization tags; storage ids, and data versions Dagster computed (from the run id
    where there is no code version), replaced by placeholders."""
    out = {
        name: "<storage-id>" if name.startswith(_STORAGE_ID_TAG_PREFIX) else normalise_text(value)
        for name, value in (tags or {}).items()
    }
    if DATA_VERSION_TAG in out and user_data_version(tags) is None:
        out[DATA_VERSION_TAG] = "<computed>"
    return out


@dataclass
class Step:
    """What the step's own code saw while it ran (filled in by the scenario's asset or op)."""

    custom_messages: list[Any] = field(default_factory=list)
    error: BaseException | None = None
    streamed: int = 0  # results the step yielded while the external process was still running

    def reset(self) -> None:
        """Forget what an earlier run of the step recorded."""
        self.custom_messages, self.error, self.streamed = [], None, 0

    def run_client(self, client: Any, *, context: Any, command: list[str], extras: dict[str, Any] | None = None) -> Any:
        """``client.run(...)``, keeping its custom messages, or the error it raised."""
        try:
            invocation = client.run(context=context, command=command, extras=extras)
        except Exception as error:
            self.error = error
            raise
        self.custom_messages = list(invocation.get_custom_messages())
        return invocation


@dataclass
class Events:
    """One run's event log, normalised. Every field but ``step`` is compared between two runs."""

    success: bool
    event_types: list[str]  # the run's Dagster events in order (engine-internal ones left out)
    materializations: list[dict[str, Any]]
    checks: list[dict[str, Any]]
    logs: list[tuple[str, str]]  # (level name, text) of context.log records: the step's, pipes'
    pipes_engine_events: list[dict[str, Any]]  # "[pipes] ..." engine events and their errors
    failed_steps: list[str]
    custom_messages: list[str]
    stdout: list[str]  # lines carrying STREAM_MARKER the orchestrator wrote to sys.stdout
    stderr: list[str]
    step: Step

    def compared(self) -> dict[str, Any]:
        """The fields compared between the two runs."""
        return {name: value for name, value in vars(self).items() if name != "step"}


def _materialization(event: Any) -> dict[str, Any]:
    materialization = event.event_specific_data.materialization
    return {
        "asset_key": list(materialization.asset_key.path),
        "partition": materialization.partition,
        "data_version": user_data_version(materialization.tags),
        "metadata": serialised_metadata(materialization.metadata),
        "tags": _tags(materialization.tags),
        "description": materialization.description,
    }


def _check(event: Any) -> dict[str, Any]:
    evaluation = event.event_specific_data
    return {
        "asset_key": list(evaluation.asset_key.path),
        "check_name": evaluation.check_name,
        "passed": evaluation.passed,
        "severity": evaluation.severity.value,
        "metadata": serialised_metadata(evaluation.metadata),
        "has_target_materialization": evaluation.target_materialization_data is not None,
        "partition": evaluation.partition,
        "blocking": evaluation.blocking,
        "description": evaluation.description,
    }


def _is_late_stdio(text: str) -> bool:
    """The warning for output the writer captured and sent after ``closed``: whether there is one,
    and how the output was cut into messages, follow the external process's own timing (its
    capture thread), so the runs compare that output through ``stdout`` and ``stderr`` instead."""
    return text.startswith("[pipes] unexpected message received after closed:") and "log_external_stream" in text


def _marked(text: str) -> list[str]:
    return sorted(line for line in text.splitlines() if STREAM_MARKER in line)


def events_of(entries: Sequence[Any], success: bool, step: Step, stdout: str, stderr: str) -> Events:
    """Normalise a run's event-log entries and what its step saw."""
    events = Events(
        success=success,
        event_types=[],
        materializations=[],
        checks=[],
        logs=[],
        pipes_engine_events=[],
        failed_steps=[],
        custom_messages=[normalise_text(canonical(message)) for message in step.custom_messages],
        stdout=_marked(stdout),
        stderr=_marked(stderr),
        step=step,
    )
    for entry in entries:
        event = entry.dagster_event
        if event is None:
            text = normalise_text(entry.user_message)
            if not _is_late_stdio(text):
                events.logs.append((logging.getLevelName(entry.level), text))
            continue
        kind = event.event_type_value
        if kind == "ENGINE_EVENT":
            if not (event.message or "").startswith(PIPES_PREFIX):
                continue  # engine-internal: pids, timings
            error = external_error(event.engine_event_data.error, normalise_text)
            events.pipes_engine_events.append({"message": event.message, "error": error})
        elif kind == "ASSET_MATERIALIZATION":
            events.materializations.append(_materialization(event))
        elif kind == "ASSET_CHECK_EVALUATION":
            events.checks.append(_check(event))
        elif kind == "STEP_FAILURE":
            events.failed_steps.append(event.step_key)
        events.event_types.append(kind)
    return events


def run_events(runners: Sequence[Runner], step: Step) -> Events:
    """Run ``runners`` on one ephemeral instance (see :func:`run_on_instance`); the last one's events."""
    run = run_on_instance(runners, step.reset)
    return events_of(run.entries, run.result.success, step, run.stdout, run.stderr)
