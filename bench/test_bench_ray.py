"""pytest-benchmark suite of the Ray goal: dagster-ray's ``PipesRayJobClient`` and pipes_fast.dagster.ray's
inside a live Dagster asset body, on one local Ray cluster (see ``goal_ray``).

    pytest bench/test_bench_ray.py --benchmark-group-by=group

Under ``--benchmark-disable`` (CI) each client runs the job once and must deliver everything the
script sent (every custom message, the materialization with its metadata and data version), and
the floor (the bare job) runs once. Skipped without Ray or dagster-ray. The goal itself is
measured by ``python bench/goals.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ray.job_submission", reason="needs Ray: pip install 'ray[default]'")
pytest.importorskip("dagster_ray", reason="needs dagster-ray: pip install 'dagster-ray>=0.4.8,<0.5'")

from dagster_baseline import DAGSTER_WARNINGS, dagster_asset_context  # noqa: E402
from goal_ray import ASSET, BASELINE, CANDIDATE, bare_job_seconds, client_factories, run_client, write_script  # noqa: E402
from timing import BENCH_ROUNDS  # noqa: E402

from pipes_fast.ray.local_cluster import local_cluster  # noqa: E402

pytestmark = [
    *DAGSTER_WARNINGS,
    pytest.mark.filterwarnings(
        "ignore:AssetExecutionContext.dagster_run is deprecated:DeprecationWarning"
    ),  # dagster-ray's
    pytest.mark.filterwarnings("ignore:ssl=None is deprecated:DeprecationWarning"),  # Ray's tail_job_logs
]

GROUP = "Ray job inside Dagster, run() to results"


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    with local_cluster() as address:
        yield address


@pytest.fixture(scope="module")
def context() -> Iterator[Any]:
    with dagster_asset_context((ASSET,)) as live:
        yield live


@pytest.mark.parametrize("side", [BASELINE, CANDIDATE])
def test_ray_client_delivers(benchmark: Any, ray_address: str, context: Any, tmp_path: Path, side: str) -> None:
    benchmark.group = GROUP
    script = write_script(tmp_path)
    make = client_factories()[side]
    # run_client raises unless the client delivered everything the script sent
    seconds = benchmark.pedantic(
        lambda: run_client(side, make(ray_address), context, script), rounds=BENCH_ROUNDS, iterations=1
    )
    assert seconds > 0


def test_bare_job(benchmark: Any, ray_address: str, tmp_path: Path) -> None:
    from ray.job_submission import JobSubmissionClient

    benchmark.group = GROUP
    script = write_script(tmp_path)
    seconds = benchmark.pedantic(
        bare_job_seconds, args=(JobSubmissionClient(ray_address), script), rounds=BENCH_ROUNDS, iterations=1
    )
    assert seconds > 0
