"""Goal of issue 12: inside Dagster, ``pipes_fast.dagster.ray.PipesRayJobClient`` returns a Ray job's
results in at most half the time dagster-ray's ``PipesRayJobClient`` (0.4.8) takes.

Both clients run the same small ``dagster_pipes`` script (:data:`SCRIPT`: ordinary output, logs,
:data:`CUSTOM_MESSAGES` custom messages and a materialization with metadata and a data version)
as a Ray job on the same throwaway local cluster (``local_cluster()``, started by the measure
function), in the live asset body of a ``dagster.materialize`` run (``dagster_asset_context``),
each with a fresh client (dagster-ray's reader serves one run) and the default ``poll_interval``
(1 s: what users get). A run is timed from the ``client.run(...)`` call to its results and custom
messages returned, and checked to have delivered everything the script sent.

Each round also times the floor: the bare job alone, submitted with the same entrypoint and a
Pipes context in its environment (its messages go to its log, unread), then
``get_job_status`` polled every :data:`FLOOR_POLL_SECONDS` until it ends, so the report can say
how far over the job itself each client is. Rounds are interleaved (dagster-ray, pipes_fast,
floor); the goal compares the best round of each client. Every round's seconds are kept in
:data:`LAST_SECONDS`.

Ray, dagster-ray and Dagster are optional here: without Ray or dagster-ray the goal is skipped
(a ``Goal`` named so, target 0) and the reason printed.
"""

from __future__ import annotations

import gc
import importlib
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any, Optional

from timing import Goal

from pipes_fast import StepContext
from pipes_fast._logic.codec import encode_param
from pipes_fast.context import build_context_data

MAX_ROUNDS = 5
"""Rounds at most: a dagster-ray run takes about 6.5 s."""
TARGET = 2.0
"""pipes_fast.ray takes at most half dagster-ray's time."""
FLOOR_POLL_SECONDS = 0.05
"""How often the floor polls the bare job's status."""
FLOOR_TIMEOUT_SECONDS = 120.0
"""Bound on the bare job's run."""
JOB_TIMEOUT_SECONDS = 120.0
"""Each client's ``timeout``."""

ASSET = "orders"
CUSTOM_MESSAGES = [{"i": i, "label": f"m{i}"} for i in range(20)]
ROWS = 3
DATA_VERSION = "v42"
SCRIPT = f"""
    from dagster_pipes import open_dagster_pipes

    with open_dagster_pipes() as pipes:
        print("job output: starting", flush=True)
        pipes.log.info("job log: starting")
        for message in {CUSTOM_MESSAGES!r}:
            pipes.report_custom_message(message)
        pipes.log.warning("job log: rows counted")
        pipes.report_asset_materialization(
            metadata={{"rows": {ROWS}, "owner": "team-a", "ratio": 0.25,
                       "schema": {{"raw_value": {{"cols": ["id", "qty"]}}, "type": "json"}}}},
            data_version={DATA_VERSION!r},
        )
        print("job output: done", flush=True)
"""
"""The job both clients run (and the floor, with nobody reading its messages)."""

BASELINE, CANDIDATE, FLOOR = "dagster-ray", "pipes_fast.ray", "bare job"
"""The sides of a round."""
LAST_SECONDS: dict[str, list[float]] = {}
"""Every round's seconds of each side in the last measurement."""


def missing_dependency() -> Optional[str]:
    """Why the goal cannot be measured here (Ray or dagster-ray not installed), or None."""
    for module, install in (
        ("ray.job_submission", "ray[default]"),
        ("dagster_ray.core.pipes", "dagster-ray>=0.4.8,<0.5"),
    ):
        try:
            importlib.import_module(module)
        except ImportError:
            return f"{module.split('.')[0]} is not installed (pip install '{install}')"
    return None


def write_script(folder: Path) -> str:
    """:data:`SCRIPT` as ``folder/job.py``; its path."""
    path = folder / "job.py"
    path.write_text(textwrap.dedent(SCRIPT))
    return str(path)


def submit_params(script: str, env_vars: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """Fresh submit params running ``script`` under this interpreter (dagster-ray fills in the
    dict it is given)."""
    return {"entrypoint": f"{sys.executable} {script}", "runtime_env": {"env_vars": dict(env_vars or {})}}


def client_factories() -> dict[str, Callable[[str], Any]]:
    """``{side: client class}`` for the two clients, each made from the dashboard address."""
    from dagster_ray.core.pipes import PipesRayJobClient as DagsterRayJobClient

    from pipes_fast.dagster.ray import PipesRayJobClient

    def dagster_ray(address: str) -> Any:
        return DagsterRayJobClient(address, timeout=JOB_TIMEOUT_SECONDS)

    def pipes_fast_ray(address: str) -> Any:
        return PipesRayJobClient(address, timeout=JOB_TIMEOUT_SECONDS)

    return {BASELINE: dagster_ray, CANDIDATE: pipes_fast_ray}


def check_delivered(side: str, results: Sequence[Any], custom_messages: Sequence[Any]) -> None:
    """Raise unless ``side`` delivered every custom message and the materialization."""
    if list(custom_messages) != CUSTOM_MESSAGES:
        raise RuntimeError(
            f"{side} delivered custom messages {list(custom_messages)!r:.300}, not the {len(CUSTOM_MESSAGES)} sent"
        )
    if (
        len(results) != 1
        or results[0].metadata["rows"].value != ROWS
        or getattr(results[0].data_version, "value", None) != DATA_VERSION
    ):
        raise RuntimeError(f"{side} delivered results {list(results)!r:.300}, not the one materialization sent")


def run_client(side: str, client: Any, context: Any, script: str) -> float:
    """Run the job through ``client`` in ``context``; seconds from ``run`` to its results and custom
    messages. Raises unless everything was delivered."""
    gc.collect()
    start = time.perf_counter()
    invocation = client.run(context=context, submit_job_params=submit_params(script))
    results = tuple(invocation.get_results())
    custom_messages = tuple(invocation.get_custom_messages())
    seconds = time.perf_counter() - start
    check_delivered(side, results, custom_messages)
    return seconds


def floor_env() -> dict[str, str]:
    """A Pipes context for :data:`ASSET` and stdout messages: what the bare job is given."""
    data = build_context_data(StepContext(ASSET))
    return {
        "DAGSTER_PIPES_CONTEXT": encode_param({"data": data}),
        "DAGSTER_PIPES_MESSAGES": encode_param({"stdio": "stdout"}),
    }


def bare_job_seconds(job_client: Any, script: str) -> float:
    """Submit the job with no Pipes client around it and poll its status every
    :data:`FLOOR_POLL_SECONDS` until it ends; seconds from submitting to seeing it succeeded."""
    params = submit_params(script, floor_env())
    gc.collect()
    start = time.perf_counter()
    job_id = job_client.submit_job(**params)
    while True:
        status = str(getattr(job_client.get_job_status(job_id), "value", ""))
        if status in ("SUCCEEDED", "FAILED", "STOPPED"):
            break
        if time.perf_counter() - start > FLOOR_TIMEOUT_SECONDS:
            job_client.stop_job(job_id)
            raise RuntimeError(f"the bare job {job_id} did not end within {FLOOR_TIMEOUT_SECONDS:g} s")
        time.sleep(FLOOR_POLL_SECONDS)
    seconds = time.perf_counter() - start
    if status != "SUCCEEDED":
        raise RuntimeError(f"the bare job {job_id} ended {status}")
    return seconds


def time_rounds(rounds: int, address: str, folder: Path) -> dict[str, list[float]]:
    """``rounds`` interleaved rounds on the cluster at ``address``: each side's seconds per round."""
    from dagster_baseline import dagster_asset_context
    from ray.job_submission import JobSubmissionClient

    script = write_script(folder)
    factories = client_factories()
    job_client = JobSubmissionClient(address)
    seconds: dict[str, list[float]] = {side: [] for side in (*factories, FLOOR)}
    with dagster_asset_context((ASSET,)) as context:
        for _ in range(rounds):
            for side, make in factories.items():
                seconds[side].append(run_client(side, make(address), context, script))
            seconds[FLOOR].append(bare_job_seconds(job_client, script))
    return seconds


def spread(values: Sequence[float]) -> str:
    """Best, median and worst of ``values``, in seconds."""
    return f"best {min(values):.2f} s, median {statistics.median(values):.2f} s, worst {max(values):.2f} s"


def measure_ray_job_in_dagster(rounds: int) -> Goal:
    """pipes_fast.ray's ``run`` to results inside Dagster, at least :data:`TARGET` x faster than
    dagster-ray's on the same job; ``min(rounds, MAX_ROUNDS)`` interleaved rounds."""
    rounds = min(rounds, MAX_ROUNDS)
    name = f"Ray job inside Dagster, run() to results, {len(CUSTOM_MESSAGES)} custom messages, default poll_interval"
    reason = missing_dependency()
    if reason is not None:
        print(f"  {name}: {reason}; skipped", file=sys.stderr, flush=True)
        return Goal(f"{name} (skipped: {reason})", BASELINE, CANDIDATE, 0.0, 1.0, 1.0)
    from pipes_fast.ray.local_cluster import local_cluster

    # the clients forward the job's ordinary output to stdout: kept off this process's stdout
    with tempfile.TemporaryDirectory() as folder, local_cluster() as address, redirect_stdout(sys.stderr):
        seconds = time_rounds(rounds, address, Path(folder))
    LAST_SECONDS.clear()
    LAST_SECONDS.update(seconds)
    goal = Goal(
        name,
        f"dagster-ray {_dagster_ray_version()} PipesRayJobClient",
        "pipes_fast.dagster.ray.PipesRayJobClient",
        TARGET,
    )
    goal.baseline_seconds, goal.candidate_seconds = min(seconds[BASELINE]), min(seconds[CANDIDATE])
    floor = min(seconds[FLOOR])
    over = "; ".join(f"{side} {min(seconds[side]) - floor:+.2f} s" for side in (BASELINE, CANDIDATE))
    report = "; ".join(f"{side} {spread(values)}" for side, values in seconds.items())
    print(
        f"  {rounds} rounds: {report}. Over the bare job (best vs best): {over}",
        file=sys.stderr,
        flush=True,
    )
    return goal


def _dagster_ray_version() -> str:
    from importlib.metadata import version

    return version("dagster-ray")
