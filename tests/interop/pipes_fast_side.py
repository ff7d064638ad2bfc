"""Runs a scenario's script under pipes_fast's orchestrator and normalises what it produced.

The same scenario and the same injector × reader pair as on the Dagster side, through
``pipes_fast.PipesSubprocessClient`` (or ``pipes_fast.open_pipes_session`` plus a subprocess given
the CLI arguments), with a ``StepContext`` built from the scenario.
"""

from __future__ import annotations

import logging
import os
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from interop.dagster_side import cli_arguments
from interop.observation import Observation, normalise_results, pipes_fast_metadata
from interop.scenarios import Scenario, make_pair


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
    scenario: Scenario,
    pair: tuple[str, str],
    workdir: Path,
    capfd: pytest.CaptureFixture[str],
) -> Observation:
    """Run the scenario's script under pipes_fast with the given pair; normalise the outcome."""
    import pipes_fast

    injector, reader = make_pair(pipes_fast, pair, workdir, include_stdio=scenario.include_stdio)
    obs = run_with_transport(scenario, injector, reader, capfd)
    obs.leftovers = sorted(os.listdir(workdir))
    return obs


def run_with_transport(
    scenario: Scenario,
    injector: Any,
    reader: Any,
    capfd: pytest.CaptureFixture[str],
    command: Callable[..., list[str]] | None = None,
) -> Observation:
    """Run ``command`` (the scenario's script by default; called with the CLI bootstrap arguments
    if the scenario bootstraps that way) under pipes_fast with this injector and reader."""
    import pipes_fast

    command = command or scenario.command
    logger, handler = recording_logger(scenario.id)
    run_id, job_name = str(uuid.uuid4()), f"interop_{scenario.id}"
    obs = Observation(orchestrator="pipes_fast", run_id=run_id, job_name=job_name)
    context = step_context(scenario, run_id=run_id, job_name=job_name, log=logger)
    extras = dict(scenario.extras)
    custom: list[Any] = []
    results: list[Any] = []
    capfd.readouterr()  # drop anything written before the run
    try:
        if scenario.bootstrap == "cli":
            with pipes_fast.open_pipes_session(
                context=context, context_injector=injector, message_reader=reader, extras=extras
            ) as session:
                argv = command(*cli_arguments(session.get_bootstrap_cli_arguments()))
                process = subprocess.run(argv, capture_output=True, text=True, check=False)
            obs.captured = {"stdout": process.stdout, "stderr": process.stderr}
            obs.failed = process.returncode != 0
            custom, results = list(session.get_custom_messages()), list(session.get_results())
        else:
            client = pipes_fast.PipesSubprocessClient(
                context_injector=injector, message_reader=reader, forward_stdio=False
            )
            invocation = client.run(context=context, command=command(), extras=extras)
            obs.captured = {"stdout": invocation.stdout, "stderr": invocation.stderr}
            custom, results = list(invocation.get_custom_messages()), list(invocation.get_results())
    except pipes_fast.PipesExecutionError as error:
        obs.failed = True
        obs.error = error
    out, err = capfd.readouterr()
    obs.take_streams(out, err)
    obs.take_custom_messages(custom)
    obs.take_logs(handler.records)
    obs.materializations, obs.checks = normalise_results(results, pipes_fast_metadata)
    return obs
