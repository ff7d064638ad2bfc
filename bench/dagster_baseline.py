"""Dagster's own orchestration side as the baseline: its reader and handler over a pre-written file.

Both sides of the orchestration goals are driven by :func:`replay_session`, so they do exactly the
same work: open a session with ``PipesEnvContextInjector`` and ``PipesFileMessageReader(target,
cleanup_file=False)``, append the pre-written message file to ``target`` (the reader created it, and
Dagster's truncates it, when the session opened), close the session, then collect the results.

For Dagster the context is a real ``AssetExecutionContext``: :func:`dagster_asset_context` (from
``pipes_fast.benchmarks``, which ``pipes-fast bench`` shares) starts a ``dagster.materialize`` run on a background thread and hands over the context of its asset body,
which waits until the benchmark is done, so one run's startup serves every round. Dagster's reader
thread is not patched: it tails the file with its own ``readline`` loop and 10 ms sleeps, and the
handler builds ``MaterializeResult``s with resolved metadata, as in a real run.
"""

import gc
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from streams import append_file

from pipes_fast.benchmarks._dagster import dagster_asset_context, quiet_run_config  # noqa: F401 (re-exported)

DAGSTER_WARNINGS = [
    pytest.mark.filterwarnings("ignore::dagster.PreviewWarning"),
    # Dagster's own open_pipes_session reads the deprecated context.run_id
    pytest.mark.filterwarnings("ignore:AssetExecutionContext.run_id is deprecated:DeprecationWarning"),
]
"""The warnings Dagster's own Pipes classes give, filtered in bench suites that run them."""


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
