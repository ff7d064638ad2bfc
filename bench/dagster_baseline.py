"""Dagster's own orchestration side as the baseline: its reader and handler over a pre-written file.

Both sides of the orchestration goals are driven by :func:`replay_session`, so they do exactly the
same work: open a session with ``PipesEnvContextInjector`` and ``PipesFileMessageReader(target,
cleanup_file=False)``, append the pre-written message file to ``target`` (the reader created it, and
Dagster's truncates it, when the session opened), close the session, then collect the results.

For Dagster the context is a real ``AssetExecutionContext``: :func:`dagster_asset_context` starts a
``dagster.materialize`` run on a background thread and hands over the context of its asset body,
which waits until the benchmark is done, so one run's startup serves every round. Dagster's reader
thread is not patched: it tails the file with its own ``readline`` loop and 10 ms sleeps, and the
handler builds ``MaterializeResult``s with resolved metadata, as in a real run.
"""

import gc
import os
import queue
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import dagster
import pytest

from streams import append_file

STARTUP_TIMEOUT_SECONDS = 120.0
DAGSTER_WARNINGS = [
    pytest.mark.filterwarnings("ignore::dagster.PreviewWarning"),
    # Dagster's own open_pipes_session reads the deprecated context.run_id
    pytest.mark.filterwarnings("ignore:AssetExecutionContext.run_id is deprecated:DeprecationWarning"),
]
"""The warnings Dagster's own Pipes classes give, filtered in bench suites that run them."""


def quiet_run_config(log_level: str = "WARNING") -> dict[str, Any]:
    """Keep the host run's console quiet (below ``log_level``); events still go to the run's
    (ephemeral) instance."""
    return {"loggers": {"console": {"config": {"log_level": log_level}}}}


@dataclass
class Replay:
    """What one replayed session gave back, and how long it took from open to results."""

    seconds: float
    results: Sequence[Any]
    custom_messages: Sequence[Any]


def replay_session(api: ModuleType, context: Any, source: Path, target: Path) -> Replay:
    """Read ``source`` through a session of ``api`` (``dagster`` or ``pipes_fast``) for ``context``.

    Times the session from open to ``get_results()`` and ``get_custom_messages()`` after it closed;
    creating the message file's content is part of it (a kernel copy, the same for both sides),
    releasing the results and removing ``target`` are not.
    """
    if target.exists():
        target.unlink()
    gc.collect()
    start = time.perf_counter()
    with api.open_pipes_session(
        context, api.PipesEnvContextInjector(), api.PipesFileMessageReader(str(target), cleanup_file=False)
    ) as session:
        append_file(source, target)
    results = tuple(session.get_results())
    custom_messages = tuple(session.get_custom_messages())
    seconds = time.perf_counter() - start
    os.unlink(target)
    return Replay(seconds, results, custom_messages)


@contextmanager
def dagster_asset_context(asset_keys: Sequence[str], log_level: str = "WARNING") -> Iterator[dagster.AssetExecutionContext]:
    """The live context of a ``dagster.materialize`` run's multi-asset selecting ``asset_keys``,
    its console showing records from ``log_level`` up.

    The asset body waits until the ``with`` block ends, then reports each key once, so the run
    succeeds. The run's startup happens on entering, outside any timing.
    """
    keys = [dagster.AssetKey.from_escaped_user_string(k) for k in asset_keys]
    handover: queue.Queue[dagster.AssetExecutionContext | BaseException] = queue.Queue()
    done = threading.Event()

    @dagster.multi_asset(specs=[dagster.AssetSpec(k) for k in keys], name="pipes_bench_step")
    def step(context: dagster.AssetExecutionContext) -> Iterator[dagster.MaterializeResult]:
        # (no ``from __future__ import annotations`` here: Dagster checks this annotation's class)
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
