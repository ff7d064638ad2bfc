"""Scripts written with pipes_fast.external, run under Dagster's own orchestrator and under
pipes_fast's: both receive the same results, logs, custom messages, exception and output, and
that is what the script reported.

The pipes_fast side runs on the hot-path implementation in use.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from support.orchestrators import (
    CheckEvaluation,
    Materialization,
    Observation,
    canonical,
    expected_metadata,
    run_under_dagster,
    run_under_pipes_fast,
)
from support.scenarios import EXTERNAL_SCRIPT, PartitionCase, Scenario
from support.scripts import payloads

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::dagster.PreviewWarning")

PAIR = ("env", "tempfile")
COMPARED = ("failed", "materializations", "checks", "context", "custom_messages", "logs", "stdout", "stderr")


def scenario(
    name: str, *assets: str, checks: tuple[str, ...] = (), partition: str | None = None, **more: Any
) -> Scenario:
    """A scenario of external_script.py in a step for ``assets`` (slash-separated keys; none for an
    op), with ``checks`` on the first, bootstrapped through the client unless ``more`` says."""
    paths = [tuple(key.split("/")) for key in assets]
    case = None
    if partition is not None:
        static_keys = ("2024-01-01", "2024-01-02")
        case = PartitionCase("static", partition, (partition, partition), None, static_keys=static_keys)
    return Scenario(
        id=name,
        script=None,
        program=EXTERNAL_SCRIPT,
        assets=tuple((path, None) for path in paths),
        checks=tuple((paths[0], check) for check in checks),
        partition=case,
        pass_code_versions=False,
        extras={"scenario": name, "checks": list(checks), "main_asset": assets[0] if assets else None},
        **more,
    )


STEPS = {
    "multi-asset with checks": scenario("report_everything", "orders", "db/customers", checks=("row_count", "fresh")),
    "partitioned asset": scenario("report_everything", "daily", partition="2024-01-02"),
    "op": scenario("report_everything"),
}


def both(step: Scenario, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> tuple[Observation, Observation]:
    """The script's run under pipes_fast, then under Dagster."""
    return run_under_pipes_fast(step, PAIR, tmp_path, capfd), run_under_dagster(step).observation


def compared(observation: Observation) -> dict[str, Any]:
    return {name: getattr(observation, name) for name in COMPARED}


def expected_results(step: Scenario) -> tuple[list[Materialization], list[CheckEvaluation]]:
    if not step.assets:
        return [], []
    (main, _), *others = step.assets
    metadata = expected_metadata(payloads.EVERY_TYPE)
    materializations = [Materialization(main, metadata, "v1"), *(Materialization(path, {}, None) for path, _ in others)]
    checks = [
        CheckEvaluation(main, name, passed, severity, metadata)
        for (_, name), passed, severity, metadata in zip(
            step.checks, (True, False), ("ERROR", "WARN"), ({}, {"rows": ("int", "0")}), strict=False
        )
    ]
    return materializations, checks


def expected_description(step: Scenario) -> dict[str, Any]:
    description: dict[str, Any] = {
        "is_asset_step": step.is_asset_step,
        "is_partition_step": step.partition is not None,
        "extras": dict(step.extras),
        "retry_number": 0,
    }
    if step.assets:
        keys = sorted("/".join(path) for path, _ in step.assets)
        description.update(
            asset_keys=keys,
            code_version_by_asset_key=dict.fromkeys(keys),
            provenance_by_asset_key=dict.fromkeys(keys),
        )
    if step.partition:
        description.update(
            partition_key=step.partition.key,
            partition_key_range={"start": step.partition.key, "end": step.partition.key},
            partition_time_window=None,
        )
    return description


@pytest.mark.parametrize("name", STEPS)
def test_every_report_arrives_alike_under_dagster_and_pipes_fast(
    name: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    step = STEPS[name]
    ours, theirs = both(step, tmp_path, capfd)
    assert compared(ours) == compared(theirs)
    assert (theirs.materializations, theirs.checks) == expected_results(step)
    assert theirs.context == expected_description(step)
    assert theirs.custom_messages == [canonical(payload) for payload in payloads.CUSTOM_PAYLOADS]
    levels = [getattr(logging, level.upper()) for level in payloads.LOG_LEVELS]
    assert theirs.logs == [
        (level, f"{payloads.LOG_MARKER} {name} ünïcode")
        for level, name in zip(levels, payloads.LOG_LEVELS, strict=True)
    ]


def test_values_only_json_dumps_writes_arrive_alike_under_both(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """NaN, infinities, integers beyond 64 bits, non-string keys and tuples (compared as canonical
    JSON, so that NaN equals NaN)."""
    ours, theirs = both(scenario("report_awkward_values", "orders"), tmp_path, capfd)
    assert compared(ours) == compared(theirs)
    metadata = {
        "huge": ("int", canonical(2**70)),
        "int_keys": ("json", canonical({"1": "one", "2": "two"})),
        "minus_infinity": ("float", canonical(float("-inf"))),
        "nan": ("float", canonical(float("nan"))),
    }
    assert theirs.materializations == [Materialization(("orders",), metadata, None)]
    assert theirs.custom_messages == [canonical({"nan": float("nan"), str(10**30): "a huge key", "tuple": [1, [2]]})]


def test_an_exception_closes_the_session_with_its_cause_under_both(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    ours, theirs = both(scenario("fail", "orders", bootstrap="session", fails=True), tmp_path, capfd)
    assert ours.failed and theirs.failed
    assert ours.external_error == theirs.external_error
    assert theirs.external_error is not None and theirs.external_error.cause is not None
    error, cause = theirs.external_error, theirs.external_error.cause
    assert [(error.name, error.message.strip()), (cause.name, cause.message.strip())] == [
        ("ValueError", "ValueError: the step failed on purpose"),
        ("KeyError", "KeyError: 'missing'"),
    ]
    assert ours.materializations == theirs.materializations == []


def test_captured_output_reaches_both_orchestrators(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """Output written by Python, straight to the descriptors and by child processes comes back as
    ``log_external_stream`` messages, which both orchestrators write to their own stdout/stderr."""
    ours, theirs = both(scenario("print_things", "orders", include_stdio=True), tmp_path, capfd)
    assert (ours.stdout, ours.stderr) == (theirs.stdout, theirs.stderr)
    assert theirs.stdout == payloads.PRINTED_EVERY_WAY["stdout"].splitlines()
    assert theirs.stderr == payloads.PRINTED_EVERY_WAY["stderr"].splitlines()
