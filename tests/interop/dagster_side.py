"""Runs a scenario's script under Dagster's own orchestrator and normalises what Dagster produced.

The step is a Dagster multi-asset (with check specs, partitions, an upstream dependency as the
scenario needs) or a plain op in a job, calling ``dagster.PipesSubprocessClient.run`` (or
``dagster.open_pipes_session`` plus a subprocess given the CLI arguments) inside
``dagster.materialize`` / ``execute_in_process`` on an ephemeral instance.
"""

import contextlib
import io
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext, OpExecutionContext
from dagster._core.definitions.data_version import (
    DATA_VERSION_IS_USER_PROVIDED_TAG,
    DATA_VERSION_TAG,
)

from interop.observation import (
    CheckEvaluation,
    Materialization,
    Observation,
    dagster_metadata,
    external_error_from_dagster,
    normalise_results,
)
from interop.scenarios import PartitionCase, Scenario, make_pair
from interop.scripts import payloads

PIPES_CLOSED_WITH_EXCEPTION = "[pipes] external process pipes closed with exception"
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


@dataclass
class DagsterRun:
    """A Dagster run's observation, plus views used to check the harness itself."""

    observation: Observation
    # the pipes results as the step received them, before Dagster turned them into events
    results_view: tuple[list[Materialization], list[CheckEvaluation]] | None
    # the partition of each materialization event (Dagster writes one per partition)
    event_partitions: list[str | None]


def cli_arguments(arguments: Mapping[str, str]) -> list[str]:
    """``get_bootstrap_cli_arguments()`` flattened into an argv tail."""
    return [item for name, value in arguments.items() for item in (name, value)]


def _invoke(context: Any, scenario: Scenario, workdir: Path, sink: dict[str, Any]) -> Sequence[Any]:
    """Run the script inside the current Dagster step; stash what the step saw in ``sink``."""
    injector, reader = make_pair(dg, scenario.dagster_pair, workdir, include_stdio=scenario.include_stdio)
    extras = dict(scenario.extras)
    if scenario.bootstrap == "cli":
        with dg.open_pipes_session(
            context=context, context_injector=injector, message_reader=reader, extras=extras
        ) as session:
            argv = scenario.command(*cli_arguments(session.get_bootstrap_cli_arguments()))
            process = subprocess.run(argv, capture_output=True, text=True, check=False)
        sink["custom"] = list(session.get_custom_messages())
        if process.returncode != 0:
            raise dg.Failure(f"external process failed: {process.stderr}")
        results = session.get_results()
    else:
        client = dg.PipesSubprocessClient(context_injector=injector, message_reader=reader, forward_stdio=False)
        invocation = client.run(context=context, command=scenario.command(), extras=extras)
        sink["custom"] = list(invocation.get_custom_messages())
        results = invocation.get_results()
    sink["results"] = results
    return results


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


def _asset_runner(
    scenario: Scenario, workdir: Path, sink: dict[str, Any]
) -> list[Callable[[dg.DagsterInstance], dg.ExecuteInProcessResult]]:
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
    def interop_assets(context: AssetExecutionContext) -> Iterator[Any]:
        yield from _invoke(context, scenario, workdir, sink)

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
        return dg.materialize(
            assets,
            instance=instance,
            selection=[dg.AssetKey(list(path)) for path, _ in scenario.assets],
            raise_on_error=False,
            run_config=QUIET,
            **kwargs,
        )

    return [seed, run] if scenario.seed_run else [run]


def _op_runner(
    scenario: Scenario, workdir: Path, sink: dict[str, Any]
) -> list[Callable[[dg.DagsterInstance], dg.ExecuteInProcessResult]]:
    """The run of the scenario's op step, in a one-op job, on an instance."""

    @dg.op
    def interop_op(context: OpExecutionContext) -> None:
        if scenario.retry and context.retry_number == 0:
            raise dg.RetryRequested(max_retries=1)
        _invoke(context, scenario, workdir, sink)

    @dg.job(name="interop_op_job")
    def interop_op_job() -> None:
        interop_op()

    def run(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
        return interop_op_job.execute_in_process(instance=instance, raise_on_error=False, run_config=QUIET)

    return [run]


def _event_data_version(materialization: Any) -> str | None:
    """The data version the external process reported (not one Dagster computed)."""
    tags = materialization.tags or {}
    if tags.get(DATA_VERSION_IS_USER_PROVIDED_TAG) != "true":
        return None
    return tags.get(DATA_VERSION_TAG)


def run_under_dagster(scenario: Scenario) -> DagsterRun:
    """Run the scenario's script under Dagster and normalise the outcome."""
    sink: dict[str, Any] = {}
    stdout, stderr = io.StringIO(), io.StringIO()
    with tempfile.TemporaryDirectory(prefix="interop-dagster-") as tmp:
        workdir = Path(tmp)
        make_runner = _asset_runner if scenario.is_asset_step else _op_runner
        *seeds, observed = make_runner(scenario, workdir, sink)
        with dg.DagsterInstance.ephemeral() as instance:
            for seed in seeds:
                with contextlib.redirect_stdout(io.StringIO()):
                    with contextlib.redirect_stderr(io.StringIO()):
                        seed(instance)
            sink.clear()
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                result = observed(instance)
            entries = instance.all_logs(result.run_id)
        leftovers = sorted(os.listdir(workdir))

    obs = Observation(
        orchestrator="dagster",
        run_id=result.run_id,
        job_name=result.dagster_run.job_name,
        failed=not result.success,
        leftovers=leftovers,
    )
    obs.take_custom_messages(sink.get("custom", []))
    obs.take_logs([(entry.level, entry.user_message) for entry in entries if entry.user_message])
    obs.take_streams(stdout.getvalue(), stderr.getvalue())

    event_partitions: list[str | None] = []
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        event_partitions.append(materialization.partition)
        record = Materialization(
            asset_key=tuple(materialization.asset_key.path),
            metadata=dagster_metadata(materialization.metadata),
            data_version=_event_data_version(materialization),
        )
        if record not in obs.materializations:  # one event per partition of a range run
            obs.materializations.append(record)
    for evaluation in result.get_asset_check_evaluations():
        obs.checks.append(
            CheckEvaluation(
                asset_key=tuple(evaluation.asset_key.path),
                check_name=evaluation.check_name,
                passed=evaluation.passed,
                severity=evaluation.severity.value,
                metadata=dagster_metadata(evaluation.metadata),
            )
        )
    for entry in entries:
        event = entry.dagster_event
        if event is not None and event.message == PIPES_CLOSED_WITH_EXCEPTION:
            obs.external_error = external_error_from_dagster(event.engine_event_data.error)

    results_view = None
    if "results" in sink:
        results_view = normalise_results(sink["results"], dagster_metadata)
    return DagsterRun(observation=obs, results_view=results_view, event_partitions=event_partitions)
