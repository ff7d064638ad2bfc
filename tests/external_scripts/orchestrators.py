"""Run ``scenarios.py`` under Dagster's orchestrator or pipes_fast's, and describe what each received
in the same plain terms, so that the two can be compared with ``==``.

Dagster: a multi-asset (with check specs and static partitions as the step needs, or a plain op)
calls ``dagster.PipesSubprocessClient().run`` and is materialised with ``dagster.materialize``;
results are read back from the run's events. pipes_fast: ``pipes_fast.PipesSubprocessClient().run``
with a ``StepContext``; a failing script runs in ``open_pipes_session`` instead, to get at the
exception its ``closed`` message carried.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Optional

from helpers import capturing_logger

from .scenarios import LOG_PREFIX

SCRIPT = str(Path(__file__).with_name("scenarios.py"))
PARTITIONS = ("2024-01-01", "2024-01-02")
CLOSED_WITH_EXCEPTION = "[pipes] external process pipes closed with exception"
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@dataclass(frozen=True)
class Step:
    """What the script runs for: assets (slash-separated keys; none for an op), checks on the first."""

    assets: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    partition: Optional[str] = None


@dataclass
class Outcome:
    """What an orchestrator received, in plain values."""

    results: list[tuple[Any, ...]] = field(default_factory=list)
    """("materialization", key path, data version, metadata) and ("check", key path, name, passed,
    severity, metadata), metadata as {name: (type, value)}, sorted."""
    custom_messages: list[Any] = field(default_factory=list)
    logs: list[tuple[str, str]] = field(default_factory=list)
    """(level name, text) of the script's own log records, in order."""
    exception: Optional[list[tuple[Optional[str], str]]] = None
    """(name, message) of the exception the script closed with, then of its cause, and so on."""


def command() -> list[str]:
    return [sys.executable, SCRIPT]


def extras(scenario: str, step: Step, **more: Any) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "checks": list(step.checks),
        "main_asset": step.assets[0] if step.assets else None,
        **more,
    }


def exception_chain(exception: Any, name: str, message: str, cause: str) -> list[tuple[Optional[str], str]]:
    """The (name, message) pairs of an exception and its causes, read through attribute or key names."""
    chain = []
    while exception:
        get: Callable[[str], Any] = exception.get if isinstance(exception, dict) else partial(getattr, exception)
        chain.append((get(name), get(message).strip()))
        exception = get(cause)
    return chain


# ----- Dagster -----


def _dagster_metadata(metadata: Any) -> dict[str, tuple[str, Any]]:
    import dagster as dg

    def plain(value: Any) -> tuple[str, Any]:
        if isinstance(value, dg.TableMetadataValue):
            columns = [{"name": c.name, "type": c.type} for c in value.schema.columns]
            return "table", {"records": [r.data for r in value.records], "schema": columns}
        if isinstance(value, dg.TableSchemaMetadataValue):
            return "table_schema", {"columns": [{"name": c.name, "type": c.type} for c in value.schema.columns]}
        if isinstance(value, dg.TableColumnLineageMetadataValue):
            deps = value.column_lineage.deps_by_column
            return "table_column_lineage", {
                "deps_by_column": {
                    column: [
                        {"asset_key": d.asset_key.to_user_string(), "column_name": d.column_name} for d in dependencies
                    ]
                    for column, dependencies in deps.items()
                }
            }
        simple: dict[type, tuple[str, Callable[[Any], Any]]] = {
            dg.TextMetadataValue: ("text", lambda v: v.text),
            dg.UrlMetadataValue: ("url", lambda v: v.url),
            dg.PathMetadataValue: ("path", lambda v: v.path),
            dg.NotebookMetadataValue: ("notebook", lambda v: v.path),
            dg.JsonMetadataValue: ("json", lambda v: v.data),
            dg.MarkdownMetadataValue: ("md", lambda v: v.md_str),
            dg.FloatMetadataValue: ("float", lambda v: v.value),
            dg.IntMetadataValue: ("int", lambda v: v.value),
            dg.BoolMetadataValue: ("bool", lambda v: v.value),
            dg.DagsterRunMetadataValue: ("dagster_run", lambda v: v.run_id),
            dg.DagsterAssetMetadataValue: ("asset", lambda v: list(v.asset_key.path)),
            dg.NullMetadataValue: ("null", lambda v: None),
            dg.TimestampMetadataValue: ("timestamp", lambda v: v.value),
        }
        kind, extract = simple[type(value)]
        return kind, extract(value)

    return {name: plain(value) for name, value in sorted(metadata.items())}


def run_under_dagster(scenario: str, step: Step, include_stdio: bool = False, **more_extras: Any) -> Outcome:
    """Run the scenario as a Dagster step, materialised on an ephemeral instance."""
    import dagster as dg
    from dagster._core.definitions.data_version import DATA_VERSION_IS_USER_PROVIDED_TAG, DATA_VERSION_TAG

    sink: dict[str, Any] = {}

    # Dagster refuses a `context` annotated Any: these three are left unannotated
    def run(context):  # type: ignore[no-untyped-def]
        reader = dg.PipesTempFileMessageReader(include_stdio_in_messages=include_stdio)
        client = dg.PipesSubprocessClient(message_reader=reader, forward_stdio=False)
        invocation = client.run(context=context, command=command(), extras=extras(scenario, step, **more_extras))
        sink["custom"] = list(invocation.get_custom_messages())
        return invocation.get_results()

    def asset_body(context):  # type: ignore[no-untyped-def]
        yield from run(context)

    def op_body(context):  # type: ignore[no-untyped-def]
        run(context)

    instance = dg.DagsterInstance.ephemeral()
    if step.assets:
        keys = [dg.AssetKey(key.split("/")) for key in step.assets]
        definition = dg.multi_asset(
            name="step",
            specs=[dg.AssetSpec(key) for key in keys],
            check_specs=[dg.AssetCheckSpec(name, asset=keys[0]) for name in step.checks],
            partitions_def=dg.StaticPartitionsDefinition(list(PARTITIONS)) if step.partition else None,
        )(asset_body)
        result = dg.materialize(
            [definition], instance=instance, partition_key=step.partition, run_config=QUIET, raise_on_error=False
        )
    else:
        step_op = dg.op(name="step", out={})(op_body)
        job = dg.job(name="step_job")(lambda: step_op())
        result = job.execute_in_process(instance=instance, run_config=QUIET, raise_on_error=False)

    outcome = Outcome(custom_messages=sink.get("custom", []))
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        tags = materialization.tags or {}
        user_provided = tags.get(DATA_VERSION_IS_USER_PROVIDED_TAG) == "true"  # else Dagster computed one
        data_version = tags.get(DATA_VERSION_TAG) if user_provided else None
        outcome.results.append(
            (
                "materialization",
                list(materialization.asset_key.path),
                data_version,
                _dagster_metadata(materialization.metadata),
            )
        )
    for evaluation in result.get_asset_check_evaluations():
        outcome.results.append(
            (
                "check",
                list(evaluation.asset_key.path),
                evaluation.check_name,
                evaluation.passed,
                evaluation.severity.value,
                _dagster_metadata(evaluation.metadata),
            )
        )
    outcome.results.sort(key=repr)
    for entry in instance.all_logs(result.run_id):
        if entry.user_message.startswith(CLOSED_WITH_EXCEPTION):
            assert entry.dagster_event is not None
            error = entry.dagster_event.engine_event_data.error
            outcome.exception = exception_chain(error, "cls_name", "message", "cause")
        elif entry.user_message.startswith(LOG_PREFIX):
            outcome.logs.append((logging.getLevelName(entry.level), entry.user_message))
    return outcome


# ----- pipes_fast -----


def _pipes_fast_metadata(metadata: Any) -> dict[str, tuple[str, Any]]:
    def plain(value: Any) -> Any:
        return list(value.value.path) if value.type == "asset" else value.value

    return {name: (value.type, plain(value)) for name, value in sorted(metadata.items())}


def run_under_pipes_fast(scenario: str, step: Step, include_stdio: bool = False, **more_extras: Any) -> Outcome:
    """Run the scenario with pipes_fast's subprocess client (or session, when the script fails)."""
    import pipes_fast

    logger, records = capturing_logger(f"external-{uuid.uuid4()}")
    context = pipes_fast.StepContext(asset_keys=list(step.assets) or None, partition_key=step.partition, log=logger)
    all_extras = extras(scenario, step, **more_extras)
    outcome = Outcome()
    if scenario == "fail":
        with pipes_fast.open_pipes_session(
            context, pipes_fast.PipesTempFileContextInjector(), pipes_fast.PipesTempFileMessageReader(), all_extras
        ) as session:
            subprocess.run(
                command(), env={**os.environ, **session.get_bootstrap_env_vars()}, capture_output=True, check=False
            )
        results = session.get_results(implicit_materializations=False)
        outcome.custom_messages = list(session.get_custom_messages())
        outcome.exception = exception_chain(session.message_handler.exception, "name", "message", "cause")
    else:
        reader = pipes_fast.PipesTempFileMessageReader(include_stdio_in_messages=include_stdio)
        client = pipes_fast.PipesSubprocessClient(message_reader=reader, forward_stdio=False)
        invocation = client.run(context=context, command=command(), extras=all_extras)
        results = invocation.get_results()
        outcome.custom_messages = list(invocation.get_custom_messages())
    for result in results:
        assert result.asset_key is not None
        metadata = _pipes_fast_metadata(result.metadata)
        if isinstance(result, pipes_fast.MaterializeResult):
            outcome.results.append(("materialization", list(result.asset_key.path), result.data_version, metadata))
        else:
            outcome.results.append(
                (
                    "check",
                    list(result.asset_key.path),
                    result.check_name,
                    result.passed,
                    result.severity.value,
                    metadata,
                )
            )
    outcome.results.sort(key=repr)
    outcome.logs = [(r.levelname, r.getMessage()) for r in records.records if r.getMessage().startswith(LOG_PREFIX)]
    return outcome
