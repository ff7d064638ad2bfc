"""Dagster's own side for comparisons: the live context of a real ``dagster.materialize`` run.

Dagster's ``open_pipes_session`` and clients need the context of a running asset (a context
built with ``build_asset_context`` lacks the run); :func:`dagster_asset_context` starts a run on a
background thread and hands over its asset body's context until the block ends. Imports Dagster:
only for the benchmarks, where Dagster is installed. (No ``from __future__ import annotations``:
Dagster checks the asset body's annotation, a class.)
"""

import queue
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dagster

STARTUP_TIMEOUT_SECONDS = 120.0
"""Longest wait for the host run to reach its asset body."""


def quiet_run_config(log_level: str = "WARNING") -> dict[str, Any]:
    """Keep the host run's console quiet (below ``log_level``); events still go to the run's
    (ephemeral) instance."""
    return {"loggers": {"console": {"config": {"log_level": log_level}}}}


@contextmanager
def dagster_asset_context(
    asset_keys: Sequence[str], log_level: str = "WARNING"
) -> Iterator[dagster.AssetExecutionContext]:
    """The live context of a ``dagster.materialize`` run's multi-asset selecting ``asset_keys``,
    its console showing records from ``log_level`` up.

    The asset body waits until the ``with`` block ends, then reports each key once, so the run
    succeeds. The run's startup happens on entering, outside any timing.
    """
    keys = [dagster.AssetKey.from_escaped_user_string(k) for k in asset_keys]
    handover: queue.Queue[Any] = queue.Queue()
    done = threading.Event()

    @dagster.multi_asset(specs=[dagster.AssetSpec(k) for k in keys], name="pipes_bench_step")
    def step(context: dagster.AssetExecutionContext) -> Iterator[dagster.MaterializeResult]:  # type: ignore[type-arg]
        handover.put(context)
        done.wait()
        for key in keys:
            yield dagster.MaterializeResult(asset_key=key)

    def run() -> None:
        try:
            dagster.materialize([step], run_config=quiet_run_config(log_level))
        except BaseException as error:  # surfaced to the waiting caller
            handover.put(error)

    warnings.filterwarnings("ignore", category=dagster.PreviewWarning)
    thread = threading.Thread(target=run, name="dagster-host-run", daemon=True)
    thread.start()
    try:
        handed = handover.get(timeout=STARTUP_TIMEOUT_SECONDS)
        if isinstance(handed, BaseException):
            raise RuntimeError("the Dagster host run failed before reaching its asset body") from handed
        yield handed
    finally:
        done.set()
        thread.join()
    if not handover.empty():
        raise RuntimeError("the Dagster host run failed after the benchmark") from handover.get()
