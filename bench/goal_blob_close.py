"""Goal of issue 9: on the S3 transport, ``client.run`` returns within one ``interval`` + 100 ms of
the external process exiting.

The same external process (``s3_child.py``: dagster-pipes' ``PipesS3ContextLoader`` and
``PipesS3MessageWriter``, a few custom messages, then exit) runs against the same moto server
(``tests/support/s3_server.py``) with the same reader interval (:data:`INTERVAL`) under three sides, each
with a fresh client, injector and reader per run:

- ``dagster-aws``: ``dagster.PipesSubprocessClient`` with dagster-aws's ``PipesS3ContextInjector``
  and ``PipesS3MessageReader``, in a live Dagster asset body (``dagster_asset_context``);
- ``pipes_fast.dagster``: its ``PipesSubprocessClient``, injector and reader, in the same body;
- ``pipes_fast``: the core ``PipesSubprocessClient``, injector and reader, with a ``StepContext``.

The close latency of a run is the wall-clock time from the child's exit to ``run`` returning: the
child writes ``time.time()`` to a file once its pipes are closed and exits at once
(``os._exit``), and the orchestrator reads ``time.time()`` as ``run`` returns (same machine, same
clock). Rounds are interleaved (dagster-aws first); every run checks that all the messages
arrived. The goal holds when the *worst* pipes_fast run (of both pipes_fast sides) closes within
``INTERVAL + SLACK``: it is a bound, so it is checked on every run, not the best.

dagster-aws is a bench-only peer (the ``bench`` extra); without it, its side is skipped and said so.
"""

from __future__ import annotations

import importlib
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Optional

import dagster
from dagster_baseline import dagster_asset_context
from streams import ASSET_KEYS
from timing import Goal

import pipes_fast
import pipes_fast.dagster

sys.path.append(str(Path(__file__).parents[1] / "tests"))
from support.s3_server import S3Bucket, new_bucket, s3_client, s3_server  # noqa: E402

INTERVAL = 1.0
"""The reader's (and the child writer's) interval, seconds."""
SLACK = 0.1
"""What the goal allows past one interval, seconds."""
MESSAGES = 5
"""Custom messages the child reports."""
MAX_ROUNDS = 3
"""Rounds at most: a dagster-aws run takes a few seconds."""
DAGSTER_AWS = "dagster-aws"
"""The baseline side's name."""
CHILD = [sys.executable, str(Path(__file__).with_name("s3_child.py"))]
DAGSTER_AWS_MISSING = "dagster-aws is not installed (pip install 'dagster-aws>=0.29,<0.30'): its side is skipped"


@dataclass(frozen=True)
class Side:
    """A client class with the S3 injector and reader it runs with, and the context it is given."""

    name: str
    client: type
    injector: type
    reader: type
    context: Any

    def close_seconds(
        self, bucket: S3Bucket, stamp: Path, *, interval: float = INTERVAL, count: int = MESSAGES
    ) -> float:
        """Run the child through a fresh client; seconds from its exit to ``run`` returning.

        Raises unless all ``count`` messages were delivered."""
        stamp.unlink(missing_ok=True)
        client = self.client(
            context_injector=self.injector(bucket=bucket.name, client=bucket.client),
            message_reader=self.reader(bucket=bucket.name, client=bucket.client, interval=interval),
        )
        invocation = client.run(context=self.context, command=[*CHILD, str(count), str(interval), str(stamp)])
        returned = time.time()
        delivered = list(invocation.get_custom_messages())
        if delivered != [{"i": i} for i in range(count)]:
            raise RuntimeError(f"{self.name} delivered {delivered!r:.300}, not the {count} messages sent")
        return returned - float(stamp.read_text())


def dagster_aws_pipes() -> Optional[ModuleType]:
    """``dagster_aws.pipes``, or None where dagster-aws is not installed."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its library-version check against dagster's
            return importlib.import_module("dagster_aws.pipes")
    except ImportError:
        return None


def pipes_fast_side(context: Any) -> Side:
    """pipes_fast's core client for ``context`` (a ``StepContext``)."""
    return Side(
        "pipes_fast",
        pipes_fast.PipesSubprocessClient,
        pipes_fast.PipesS3ContextInjector,
        pipes_fast.PipesS3MessageReader,
        context,
    )


def dagster_sides(context: dagster.AssetExecutionContext, dagster_aws: Optional[ModuleType]) -> list[Side]:
    """The clients run in a Dagster asset body: dagster-aws's (when installed), then pipes_fast.dagster's."""
    api = pipes_fast.dagster
    sides = [
        Side(
            "pipes_fast.dagster",
            api.PipesSubprocessClient,
            api.PipesS3ContextInjector,
            api.PipesS3MessageReader,
            context,
        )
    ]
    if dagster_aws is not None:
        sides.insert(
            0,
            Side(
                DAGSTER_AWS,
                dagster.PipesSubprocessClient,
                dagster_aws.PipesS3ContextInjector,
                dagster_aws.PipesS3MessageReader,
                context,
            ),
        )
    return sides


def spread(seconds: Sequence[float]) -> str:
    """Best, median and worst of ``seconds``, in ms."""
    return f"best {min(seconds) * 1e3:.0f} ms, median {statistics.median(seconds) * 1e3:.0f} ms, worst {max(seconds) * 1e3:.0f} ms"


def measure_s3_close(rounds: int) -> Goal:
    """pipes_fast's close after the child's exit within ``INTERVAL + SLACK`` on every run, with
    dagster-aws's beside it; ``min(rounds, MAX_ROUNDS)`` interleaved rounds."""
    rounds = min(rounds, MAX_ROUNDS)
    dagster_aws = dagster_aws_pipes()
    if dagster_aws is None:
        print(
            f"  S3 close: {DAGSTER_AWS_MISSING}; pipes_fast is measured against the budget alone",
            file=sys.stderr,
            flush=True,
        )
    with (
        tempfile.TemporaryDirectory() as folder,
        s3_server(Path(folder)) as endpoint,
        dagster_asset_context(ASSET_KEYS) as context,
    ):
        bucket = new_bucket(s3_client(endpoint))
        sides = [*dagster_sides(context, dagster_aws), pipes_fast_side(pipes_fast.StepContext())]
        closes: dict[str, list[float]] = {side.name: [] for side in sides}
        for _ in range(rounds):
            for side in sides:
                closes[side.name].append(side.close_seconds(bucket, Path(folder) / "exited"))
    fast = [s for name, seconds in closes.items() if name != DAGSTER_AWS for s in seconds]
    goal = Goal(
        f"S3 transport, close after the external process exits (interval {INTERVAL:g} s, worst of {rounds} rounds)",
        "interval + 100 ms",
        "pipes_fast's PipesS3MessageReader",
        1.0,
        baseline_seconds=INTERVAL + SLACK,
        candidate_seconds=max(fast),
    )
    report = "; ".join(f"{name} {spread(seconds)}" for name, seconds in closes.items())
    if dagster_aws is not None:
        report += f"; dagster-aws's best is {min(closes[DAGSTER_AWS]) / min(fast):.0f}x pipes_fast's best"
    print(f"  close latency over {rounds} rounds, {MESSAGES} messages: {report}", file=sys.stderr, flush=True)
    return goal
