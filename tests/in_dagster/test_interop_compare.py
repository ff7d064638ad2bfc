"""pipes_fast against Dagster's own orchestrator, running the same dagster-pipes scripts.

Every scenario runs under Dagster once (cached for the session) and under pipes_fast once per
injector × reader pair and hot-path implementation (cached per test session too); each test then
compares one aspect of the two normalised observations.
"""

from __future__ import annotations

from typing import Any

import pytest
from support.orchestrators import (
    DAGSTER_SCENARIOS,
    Observation,
    canonical,
    dagster_run,
    pair_id,
    pipes_fast_run,
    recording_logger,
    scenario_id,
    step_context,
)
from support.scenarios import PAIRS, SCENARIOS, SCENARIOS_BY_ID, Scenario, make_pair
from support.scripts import payloads

from pipes_fast import _hotpath

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::dagster.PreviewWarning"),
]

# what is compared between the two orchestrators, one test per aspect
ASPECTS = (
    "failed",
    "materializations",
    "checks",
    "context",
    "identity",
    "custom_messages",
    "logs",
    "stdout",
    "stderr",
    "leftovers",
)
SUCCEEDING = tuple(scenario for scenario in SCENARIOS if not scenario.fails)


def aspect_of(obs: Observation, aspect: str, scenario: Scenario) -> Any:
    """One comparable aspect of an observation.

    ``identity`` is whether the script saw the run id and job name this orchestrator passed.
    Captured stdio arrives in chunks whose interleaving across the two tee'd streams is not
    fixed, so those lines are compared as a multiset.
    """
    if aspect == "identity":
        return (obs.seen_run_id == obs.run_id, obs.seen_job_name == obs.job_name)
    value = getattr(obs, aspect)
    if aspect in ("stdout", "stderr") and scenario.include_stdio:
        return sorted(value)
    return value


@pytest.fixture
def observed(
    scenario: Scenario,
    pair: tuple[str, str],
    capfd: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Observation:
    """The pipes_fast run of ``scenario`` with ``pair`` on the hot path in use."""
    return pipes_fast_run(scenario, pair, _hotpath.implementation.__name__, capfd, tmp_path_factory)


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
@pytest.mark.parametrize("scenario", DAGSTER_SCENARIOS, ids=scenario_id)
@pytest.mark.parametrize("aspect", ASPECTS)
def test_matches_dagster(aspect: str, scenario: Scenario, observed: Observation) -> None:
    """pipes_fast produces what Dagster produces for the same script."""
    expected = aspect_of(dagster_run(scenario.id).observation, aspect, scenario)
    assert aspect_of(observed, aspect, scenario) == expected


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
@pytest.mark.parametrize("scenario", SUCCEEDING, ids=scenario_id)
def test_context_as_specified(scenario: Scenario, observed: Observation) -> None:
    """The script sees the step the StepContext describes, including the run id and job name."""
    assert not observed.failed, observed.error
    assert observed.context == scenario.expected_context()
    assert (observed.seen_run_id, observed.seen_job_name) == (observed.run_id, observed.job_name)


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
@pytest.mark.parametrize("scenario", [SCENARIOS_BY_ID["daily_range"]], ids=scenario_id)
def test_partition_range(scenario: Scenario, observed: Observation) -> None:
    """A multi-partition range (no single key) reaches the script, which reports it back.

    Dagster 1.13 injects no partition data for such a run, so the expectation is the spec.
    """
    case = scenario.partition
    assert case is not None
    assert [(m.asset_key, m.metadata, m.data_version) for m in observed.materializations] == [
        (
            scenario.sorted_paths[0],
            {
                "partition_key": ("null", canonical(None)),
                "partition_key_range": ("json", canonical(case.wire()["partition_key_range"])),
            },
            "partition-v1",
        )
    ]


def _squash(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
@pytest.mark.parametrize("scenario", [SCENARIOS_BY_ID["fail"]], ids=scenario_id)
def test_external_exception(scenario: Scenario, observed: Observation) -> None:
    """An exception in the script's ``with`` block: the client raises PipesExecutionError and
    logs the external error, its message and stack (what Dagster's engine event carries), as an
    error on context.log."""
    import pipes_fast

    assert isinstance(observed.error, pipes_fast.PipesExecutionError)
    reference = dagster_run(scenario.id).observation.external_error
    assert reference is not None
    logged = [_squash(text) for text in observed.error_logs]
    wanted = [_squash(reference.message), *(_squash(frame) for frame in reference.stack)]
    assert any(all(part in text for part in wanted) for text in logged), (wanted, logged)


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
@pytest.mark.parametrize("scenario", [SCENARIOS_BY_ID["fail"]], ids=scenario_id)
def test_external_exception_cause(scenario: Scenario, observed: Observation) -> None:
    """The explicit cause of the external exception is logged too (Dagster keeps it)."""
    reference = dagster_run(scenario.id).observation.external_error
    assert reference is not None and reference.cause is not None
    cause = _squash(reference.cause.message)
    assert any(cause in _squash(text) for text in observed.error_logs), observed.error_logs


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
@pytest.mark.parametrize("scenario", [SCENARIOS_BY_ID["stdio"]], ids=scenario_id)
def test_stdio_in_messages(scenario: Scenario, observed: Observation) -> None:
    """include_stdio_in_messages=True: every printed line comes back through the messages (to
    this process's streams), and forward_stdio=False still captured the child's own output."""
    printed = payloads.STDIO_LINES
    assert set(printed["stdout"]) <= set(observed.stdout)
    assert sorted(observed.stderr) == sorted(printed["stderr"])
    # dagster-pipes' stderr tee writes through the already redirected stdout: look in both
    captured = (observed.captured["stdout"] or "") + (observed.captured["stderr"] or "")
    assert all(line in captured for line in printed["stdout"] + printed["stderr"])


@pytest.mark.parametrize("forward_stdio", [True, False])
def test_forward_stdio(
    forward_stdio: bool,
    capfd: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Without include_stdio_in_messages, printed lines reach this process's streams exactly once
    when forwarded, and only the invocation's captured text otherwise."""
    import pipes_fast

    scenario = SCENARIOS_BY_ID["stdio"]
    logger, _ = recording_logger("forward")
    context = step_context(scenario, run_id="forward-run", job_name="forward", log=logger)
    workdir = tmp_path_factory.mktemp("forward")
    injector, reader = make_pair(pipes_fast, ("tempfile", "tempfile"), workdir, include_stdio=False)
    client = pipes_fast.PipesSubprocessClient(
        context_injector=injector, message_reader=reader, forward_stdio=forward_stdio
    )
    capfd.readouterr()
    invocation = client.run(context=context, command=scenario.command())
    out, err = capfd.readouterr()
    printed = payloads.STDIO_LINES
    if forward_stdio:
        assert (invocation.stdout, invocation.stderr) == (None, None)
        assert [line for line in out.splitlines() if line in printed["stdout"]] == printed["stdout"]
        assert [line for line in err.splitlines() if line in printed["stderr"]] == printed["stderr"]
    else:
        assert invocation.stdout.splitlines() == printed["stdout"]
        assert invocation.stderr.splitlines() == printed["stderr"]
        assert not any(line in out or line in err for line in printed["stdout"] + printed["stderr"])
    assert len(invocation.get_results()) == 1
