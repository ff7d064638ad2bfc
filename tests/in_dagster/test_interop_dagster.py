"""The Dagster half of the interop suite: the reference runs and their normalisation are sound.

These tests exercise only Dagster's own orchestrator (no pipes_fast code runs), so they are not
parametrised over the hot-path implementations. They pin down that each scenario does what it
claims under Dagster before pipes_fast is compared against it in ``test_interop_compare.py``.
"""

from __future__ import annotations

import logging

import pytest
from support.orchestrators import DAGSTER_SCENARIOS, canonical, dagster_run, expected_metadata, scenario_id
from support.scenarios import SCENARIOS_BY_ID, Scenario
from support.scripts import payloads

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::dagster.PreviewWarning"),
]

SUCCEEDING = tuple(scenario for scenario in DAGSTER_SCENARIOS if not scenario.fails)


@pytest.mark.parametrize("scenario", DAGSTER_SCENARIOS, ids=scenario_id)
def test_outcome(scenario: Scenario) -> None:
    """The run fails exactly where the script raises."""
    assert dagster_run(scenario.id).observation.failed is scenario.fails


@pytest.mark.parametrize("scenario", SUCCEEDING, ids=scenario_id)
def test_context_as_specified(scenario: Scenario) -> None:
    """The script saw the context the scenario describes, with Dagster's run id and job name."""
    obs = dagster_run(scenario.id).observation
    assert obs.context == scenario.expected_context()
    assert (obs.seen_run_id, obs.seen_job_name) == (obs.run_id, obs.job_name)


@pytest.mark.parametrize("scenario", SUCCEEDING, ids=scenario_id)
def test_events_agree_with_pipes_results(scenario: Scenario) -> None:
    """Materialization events and check evaluations normalise to the pipes results the step got."""
    run = dagster_run(scenario.id)
    assert run.results_view == (run.observation.materializations, run.observation.checks)


def test_every_metadata_type() -> None:
    """Every wire metadata type comes back from Dagster as sent (the normaliser's reverse map)."""
    obs = dagster_run("assets").observation
    orders = next(m for m in obs.materializations if m.asset_key == payloads.ORDERS)
    assert orders.metadata == expected_metadata(payloads.EVERY_TYPE)
    assert orders.data_version == payloads.ORDERS_DATA_VERSION
    assert {m.asset_key: m.data_version for m in obs.materializations} == {
        payloads.ORDERS: payloads.ORDERS_DATA_VERSION,
        payloads.LINES: None,
        payloads.CUSTOMERS: None,  # implicit
    }


def test_edge_values() -> None:
    """NaN, infinities and integers beyond 64 bits reach Dagster intact."""
    obs = dagster_run("edge_values").observation
    assert {m.asset_key: m.metadata for m in obs.materializations} == {
        path: expected_metadata(spec) for path, spec in payloads.EDGE_VALUES.items()
    }
    assert obs.custom_messages == [canonical(p) for p in payloads.edge_custom_messages()]


def test_checks() -> None:
    """Both severities, passed and failed, with metadata."""
    obs = dagster_run("assets").observation
    got = [(c.asset_key, c.check_name, c.passed, c.severity) for c in obs.checks]
    assert got == [(path, name, passed, sev) for path, name, passed, sev, _ in payloads.CHECKS]


@pytest.mark.parametrize("scenario_id", ["assets", "assets_cli", "op_retry"])
def test_custom_messages_logs_and_streams(scenario_id: str) -> None:
    """Custom messages in order, one log per level, stream text on the matching stream."""
    obs = dagster_run(scenario_id).observation
    assert obs.custom_messages == [canonical(p) for p in payloads.CUSTOM_PAYLOADS]
    assert obs.logs == [
        (getattr(logging, level.upper()), f"{payloads.LOG_MARKER} {level} message ✓") for level in payloads.LOG_LEVELS
    ]
    assert obs.stdout == payloads.STREAM_TEXTS["stdout"].splitlines()
    assert obs.stderr == payloads.STREAM_TEXTS["stderr"].splitlines()


def test_partitions_materialized() -> None:
    """Single-key runs materialize exactly their partition."""
    for partitioned in ("static_partition", "hourly_dst"):
        case = SCENARIOS_BY_ID[partitioned].partition
        assert case is not None
        assert dagster_run(partitioned).event_partitions == [case.key]


def test_external_exception() -> None:
    """The closed message's exception reaches Dagster with its message, stack and cause."""
    obs = dagster_run("fail").observation
    error = obs.external_error
    assert error is not None
    assert error.name == "ValueError"
    assert payloads.ERROR_MESSAGE in error.message
    assert any("scenario_fail" in frame for frame in error.stack)
    assert error.cause is not None and payloads.CAUSE_MESSAGE in error.cause.message
    assert obs.logs == [(logging.WARNING, f"{payloads.LOG_MARKER} about to fail")]


def test_stdio_in_messages() -> None:
    """With include_stdio_in_messages, what the script prints comes back on the matching stream.

    dagster-pipes' stderr tee writes through the already-redirected stdout, so stderr lines also
    come back on stdout.
    """
    obs = dagster_run("stdio").observation
    printed = payloads.STDIO_LINES
    assert sorted(obs.stdout) == sorted(printed["stdout"] + printed["stderr"])
    assert sorted(obs.stderr) == sorted(printed["stderr"])


def test_files_cleaned_up() -> None:
    """Dagster's file injector and reader leave nothing behind."""
    assert dagster_run("assets_cli").observation.leftovers == []
