"""Run caches shared by the interop test modules.

Dagster runs are slow, so each scenario runs under Dagster once per test session; each
(scenario, pair, hot-path implementation) runs under pipes_fast once, however many aspects of it
the tests compare.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from interop.dagster_side import DagsterRun, run_under_dagster
from interop.observation import Observation
from interop.pipes_fast_side import run_under_pipes_fast
from interop.scenarios import SCENARIOS, SCENARIOS_BY_ID, Scenario

DAGSTER_SCENARIOS = tuple(scenario for scenario in SCENARIOS if scenario.dagster_reference)


@functools.cache
def dagster_run(scenario_id: str) -> DagsterRun:
    """The (cached) Dagster run of a scenario."""
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
