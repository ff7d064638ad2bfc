"""Smoke test of the Ray fan-out benchmark (``ray_fanout.py``) at small scale, on a real local cluster.

    python -m pytest bench/test_bench_ray_fanout.py --benchmark-disable -q

3 jobs x 2,000 custom messages at once through ``pipes_fast.ray.PipesRayJobClient``: every job's
messages arrive exactly once and in order, and the script's ``--json`` run says so (exit 0). The
same fan-out inside a Dagster asset through pipes_fast.dagster.ray (exact too) and dagster-ray (its
losses are what the benchmark counts, so only order and uniqueness are asserted for it). No timing is asserted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

pytest.importorskip("ray.job_submission", reason="needs Ray: pip install 'ray[default]'")

from dagster_baseline import DAGSTER_WARNINGS  # noqa: E402
from ray_fanout import (  # noqa: E402
    DAGSTER_RAY,
    PIPES_FAST,
    delivery,
    fan_out,
    in_dagster_runners,
    main,
    most_at_once,
    pipes_fast_runner,
)

from pipes_fast.ray.local_cluster import local_cluster  # noqa: E402

JOBS, MESSAGES = 3, 2_000

pytestmark = [
    *DAGSTER_WARNINGS,
    pytest.mark.filterwarnings("ignore:ssl=None is deprecated:DeprecationWarning"),  # Ray's tail_job_logs
    pytest.mark.filterwarnings(
        "ignore:AssetExecutionContext.dagster_run is deprecated:DeprecationWarning"
    ),  # dagster-ray
]


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    with local_cluster() as address:
        yield address


def test_delivery_tells_loss_duplicates_order_and_strays() -> None:
    timing = {"job": 1, "timing": {"start": 0.0, "end": 1.0, "seconds": 1.0}}
    sent = [{"job": 1, "seq": i} for i in range(3)]
    assert delivery(1, 3, [*sent, timing]).exact
    assert not delivery(1, 3, sent).exact  # no timing: the job did not finish
    assert not delivery(1, 3, [*sent[:2], timing]).exact
    assert not delivery(1, 3, [*sent, sent[2], timing]).exact
    assert not delivery(1, 3, [sent[1], sent[0], sent[2], timing]).exact
    assert not delivery(1, 3, [*sent, {"job": 2, "seq": 0}, timing]).exact
    assert not delivery(1, 3, [*sent[1:], {"job": 1, "seq": 3}, timing]).exact  # one lost, one never sent


def test_most_at_once() -> None:
    assert most_at_once([]) == 0
    assert most_at_once([(0.0, 1.0), (1.0, 2.0)]) == 1  # one ends as the next starts
    assert most_at_once([(0.0, 3.0), (1.0, 2.0), (1.5, 4.0)]) == 3


def test_pipes_fast_fan_out_delivers_every_message_once_in_order(ray_address: str) -> None:
    run_job, job_client = pipes_fast_runner(ray_address, poll_interval=0.2)
    result = fan_out(PIPES_FAST, run_job, job_client, JOBS, MESSAGES)
    assert [r.error for r in result.records] == [None] * JOBS
    for record in result.records:
        assert record.delivery is not None
        assert (record.delivery.delivered, record.delivery.unique) == (MESSAGES, MESSAGES)
        assert record.delivery.in_order and not record.delivery.foreign
    assert result.exact and result.delivered == JOBS * MESSAGES
    figures = result.figures()
    assert figures["cpu_seconds"] > 0 and figures["wall_minus_writing_seconds"] > 0
    print(f"\n{figures}")


def test_fan_out_inside_dagster(ray_address: str) -> None:
    pytest.importorskip("dagster_ray")
    _, job_client = pipes_fast_runner(ray_address, poll_interval=0.2)
    with in_dagster_runners(ray_address, poll_interval=0.2) as sides:
        results = {side: fan_out(side, run_job, job_client, JOBS, MESSAGES) for side, run_job in sides.items()}
    for side, result in results.items():
        assert [r.error for r in result.records] == [None] * JOBS, side
        for record in result.records:
            assert record.delivery is not None
            assert record.delivery.delivered == record.delivery.unique <= MESSAGES
            assert record.delivery.in_order and not record.delivery.foreign
        assert result.exact or side == DAGSTER_RAY  # dagster-ray's losses are what the benchmark counts


def test_script_json_run(ray_address: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--jobs", str(JOBS), "--messages", str(MESSAGES), "--runs", "1", "--single", "--poll-interval", "0.2"]
    assert main([*argv, "--address", ray_address, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    (fan,) = report["runs"][f"{PIPES_FAST} {JOBS}x{MESSAGES}"]
    (single,) = report["runs"][f"{PIPES_FAST} single 1x{MESSAGES}"]
    assert (fan["delivered"], single["delivered"]) == (JOBS * MESSAGES, MESSAGES)
    assert fan["exact"] and single["exact"]
    assert set(report["summary"][f"{PIPES_FAST} {JOBS}x{MESSAGES}"]) >= {"wall_seconds", "cpu_seconds"}
