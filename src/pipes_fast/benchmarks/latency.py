"""Live delivery: how long a message the external process writes takes to reach the
orchestrator's handler, and what an idle reader costs; pipes_fast's reader woken by inotify, polling,
and Dagster's file reader where Dagster is installed.

The external process (:data:`CHILD`, ``python -I -S``) opens the message file from its
``DAGSTER_PIPES_MESSAGES`` params with ``O_APPEND``, writes ``opened``, then :data:`MESSAGES`
custom messages ``{"i": i, "t": time.monotonic_ns(), "pad": "xx..."}``, one ``os.write`` per line,
each after a random gap (uniform :data:`GAPS`, the same seeded sequence for every side of a
round), then waits for its stdin to close and writes ``closed``. CLOCK_MONOTONIC is system-wide
on Linux, so the orchestrator compares its own ``time.monotonic_ns()`` at delivery with the stamp.
Every line is padded to :data:`LINE_BYTES`, a divisor of the page size, so that no line straddles
a page: a reader can see the first page of such a write before the second, and Dagster 1.13's
reader (``readline`` with no check for the newline) then fails on the torn line and stops.

Delivery is stamped at the handler, where a consumer can first see the message, by a reader
subclass that wraps the handler's entry point on the instance when the session starts reading:

- pipes_fast (:class:`StampedReader`): the handler's ``handle_lines`` (the router that decodes a
  batch of lines into the custom-message queue); after each batch, the time and
  ``handler.flow.queued`` (payloads delivered so far; nothing is drained during the run), so each
  message gets the time of the batch that delivered it. The session is pipes_fast's core
  ``open_pipes_session`` with a ``StepContext``, its tailer woken by inotify, or polling
  (``PIPES_FAST_NO_INOTIFY=1`` while the session runs);
- Dagster (:class:`StampedDagsterReader`): ``dagster.PipesFileMessageReader`` with Dagster's own
  ``open_pipes_session`` and ``PipesMessageHandler`` in a live asset body
  (``dagster_baseline.dagster_asset_context``); the time after each ``handle_message`` of a custom
  message.

Once every message arrived (checked: all of them, in order), the reader's thread (the one that
delivered them) is idle. In each round, its CPU time (``pthread_getcpuclockid``) over
:data:`IDLE_SECONDS`, starting :data:`SETTLE_SECONDS` after the last message, as a share of one
core, is the side's idle CPU in that round; the goal takes the best round, as every goal does. A
window holds two or three wake-ups, each costing 0.1-0.4 ms of CPU on these machines, and now and
then a collection of the garbage collector that lands in the reader thread: one round measured
0.05-0.17% where the others of the same run measured half of that.

Rounds are interleaved (Dagster, pipes_fast polling, pipes_fast inotify); percentiles are over
every message of every round, with the spread of each round's own percentile beside them
(:meth:`Measured.report`). ``bench/goal_latency.py`` holds the goals; ``pipes-fast bench`` reports
the figures.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pipes_fast

MESSAGES = 600
"""Custom messages per run."""
GAPS = (0.0005, 0.005)
"""The child's gap before each message: uniform between these, seconds."""
IDLE_SECONDS = 2.0
"""Idle time over which the reader thread's CPU is measured, in every round."""
SETTLE_SECONDS = 0.1
"""Wait after the last message before the idle measurement starts."""
ROUNDS = 3
"""Rounds the goals take: a round (three runs, each idle 2 s at its end) takes about 12 s."""
DELIVERY_TIMEOUT = 120.0
"""Longest wait for a run's messages, seconds."""
LINE_BYTES = 256
"""Every line the child writes is this long, newline included: no line straddles a page."""

DAGSTER, POLL, INOTIFY = "dagster", "pipes_fast (poll)", "pipes_fast (inotify)"

CHILD = r"""
import base64, json, os, random, sys, time, zlib

count, seed, width = int(sys.argv[1]), int(sys.argv[4]), int(sys.argv[5])
low, high = float(sys.argv[2]), float(sys.argv[3])
params = json.loads(zlib.decompress(base64.b64decode(os.environ["DAGSTER_PIPES_MESSAGES"])))
fd = os.open(params["path"], os.O_WRONLY | os.O_APPEND)

def padded(line):  # spaces before the closing brace
    return line[:-1] + b" " * (width - 1 - len(line)) + b"}\n"

os.write(fd, padded(b'{"__dagster_pipes_version":"0.1","method":"opened","params":{"extras":{}}}'))
gaps = random.Random(seed)
head = b'{"__dagster_pipes_version":"0.1","method":"report_custom_message","params":{"payload":{"i":%d,"t":%d,"pad":"'
for i in range(count):
    time.sleep(gaps.uniform(low, high))
    start = head % (i, time.monotonic_ns())
    os.write(fd, start + b"x" * (width - 5 - len(start)) + b'"}}}\n')
sys.stdin.buffer.read()
os.write(fd, padded(b'{"__dagster_pipes_version":"0.1","method":"closed","params":{}}'))
"""
"""The external process: ``python -I -S -c CHILD COUNT LOW HIGH SEED LINE_BYTES``, stdin a pipe."""


@dataclass
class Deliveries:
    """When messages reached the handler: ``(monotonic_ns, messages delivered by then)`` after
    each delivery; ``complete`` is set once ``count`` were."""

    count: int
    stamps: list[tuple[int, int]] = field(default_factory=list)
    complete: threading.Event = field(default_factory=threading.Event)
    reader: Optional[threading.Thread] = None
    """The thread that delivered the first messages: the session's reader."""

    def wait(self, going: Callable[[], bool], name: str) -> None:
        """Until all arrived; raises once ``going()`` is False first, or after :data:`DELIVERY_TIMEOUT`."""
        deadline = time.monotonic() + DELIVERY_TIMEOUT
        while not self.complete.wait(1.0):
            if not going() or time.monotonic() > deadline:
                arrived = self.stamps[-1][1] if self.stamps else 0
                raise RuntimeError(f"{name}: {arrived} of {self.count} messages arrived, and no more will")

    def stamp(self, delivered: int) -> None:
        self.reader = self.reader or threading.current_thread()
        self.stamps.append((time.monotonic_ns(), delivered))
        if delivered >= self.count:
            self.complete.set()

    def latencies(self, payloads: Sequence[Any]) -> list[float]:
        """Seconds from each payload's stamp to its delivery; raises unless all arrived in order."""
        if [payload.get("i") for payload in payloads] != list(range(self.count)):
            raise RuntimeError(f"not the {self.count} payloads sent, in order: {payloads!r:.200}")
        seconds, stamps = [], iter(self.stamps)
        at, delivered = next(stamps)
        for i, payload in enumerate(payloads):
            while delivered <= i:
                at, delivered = next(stamps)
            seconds.append((at - payload["t"]) / 1e9)
        return seconds


class StampedReader(pipes_fast.PipesFileMessageReader):
    """pipes_fast's file reader, stamping each batch of lines its handler has routed."""

    def __init__(self, path: str, deliveries: Deliveries) -> None:
        super().__init__(path)
        self.deliveries = deliveries

    def read_messages(self, handler: Any) -> Any:
        route, flow, stamp = handler.handle_lines, handler.flow, self.deliveries.stamp

        def handle_lines(lines: list[bytes], first_line: int) -> Any:
            bad = route(lines, first_line)
            stamp(flow.queued)
            return bad

        handler.handle_lines = handle_lines
        return super().read_messages(handler)


@contextmanager
def environment(name: str, value: Optional[str]) -> Iterator[None]:
    """``os.environ[name]`` set to ``value`` (None: unset) for the block."""
    before = os.environ.pop(name, None)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        os.environ.pop(name, None)
        if before is not None:
            os.environ[name] = before


def idle_cpu_share(thread: threading.Thread, seconds: float) -> float:
    """After :data:`SETTLE_SECONDS`, the CPU time ``thread`` uses over ``seconds``, per second."""
    assert thread.ident is not None
    clock = time.pthread_getcpuclockid(thread.ident)
    time.sleep(SETTLE_SECONDS)
    cpu, started = time.clock_gettime(clock), time.monotonic()
    time.sleep(seconds)
    return (time.clock_gettime(clock) - cpu) / (time.monotonic() - started)


@dataclass
class Run:
    latencies: list[float]
    idle_cpu: Optional[float]
    """The reader thread's CPU seconds per idle second (None: not measured)."""


@dataclass(frozen=True)
class Side:
    """A session kind: its ``open_pipes_session`` and env injector, the stamped reader it reads
    with, its context, and ``PIPES_FAST_NO_INOTIFY`` while it runs (None: unset)."""

    name: str
    open_session: Callable[..., AbstractContextManager[Any]]
    injector: Callable[[], Any]
    reader: Callable[[str, Deliveries], Any]
    context: Any
    no_inotify: Optional[str] = None

    def run(self, folder: Path, seed: int, *, count: int = MESSAGES, idle: float = 0.0) -> Run:
        """One session reading the child's ``count`` messages, then ``idle`` seconds of nothing
        (the reader's CPU over them measured unless 0)."""
        deliveries = Deliveries(count)
        reader = self.reader(str(folder / "messages"), deliveries)
        command = [sys.executable, "-I", "-S", "-c", CHILD, str(count), *map(str, GAPS), str(seed), str(LINE_BYTES)]
        with (
            environment("PIPES_FAST_NO_INOTIFY", self.no_inotify),
            self.open_session(self.context, self.injector(), reader) as session,
        ):
            env = {**os.environ, **session.get_bootstrap_env_vars()}
            with subprocess.Popen(command, env=env, stdin=subprocess.PIPE) as child:
                assert child.stdin is not None
                try:
                    deliveries.wait(lambda: child.poll() is None, self.name)
                    assert deliveries.reader is not None
                    idle_cpu = idle_cpu_share(deliveries.reader, idle) if idle else None
                finally:
                    child.stdin.close()  # the child writes closed and exits
                if child.wait(DELIVERY_TIMEOUT) != 0:
                    raise RuntimeError(f"{self.name}: the child failed")
        return Run(deliveries.latencies(session.get_custom_messages()), idle_cpu)


def pipes_fast_side(name: str, no_inotify: Optional[str]) -> Side:
    return Side(
        name,
        pipes_fast.open_pipes_session,
        pipes_fast.PipesEnvContextInjector,
        StampedReader,
        pipes_fast.StepContext(),
        no_inotify,
    )


def dagster_side(dagster_context: Any) -> Side:
    """Dagster's own ``open_pipes_session`` and file reader, for a live Dagster asset ``dagster_context``."""
    import dagster

    class StampedDagsterReader(dagster.PipesFileMessageReader):
        """Dagster's file reader, stamping each custom message its handler has handled."""

        def __init__(self, path: str, deliveries: Deliveries) -> None:
            super().__init__(path)
            self.deliveries = deliveries

        def read_messages(self, handler: Any) -> Any:
            handle, stamp = handler.handle_message, self.deliveries.stamp
            delivered = 0

            def handle_message(message: Any) -> None:
                nonlocal delivered
                handle(message)
                if message["method"] == "report_custom_message":
                    delivered += 1
                    stamp(delivered)

            handler.handle_message = handle_message
            return super().read_messages(handler)

    return Side(
        DAGSTER, dagster.open_pipes_session, dagster.PipesEnvContextInjector, StampedDagsterReader, dagster_context
    )


def sides(dagster_context: Any = None) -> list[Side]:
    """Every side, in the order of a round: Dagster's (given its asset context), pipes_fast polling,
    pipes_fast with inotify."""
    dagster = [] if dagster_context is None else [dagster_side(dagster_context)]
    return [*dagster, pipes_fast_side(POLL, "1"), pipes_fast_side(INOTIFY, None)]


PERCENTILES = (50, 90, 99)


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


def percentiles(seconds: Sequence[float]) -> dict[int, float]:
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return {p: cuts[p - 1] for p in PERCENTILES}


@dataclass
class Measured:
    """A side's runs: latencies pooled over rounds, and each round's own figures."""

    runs: list[Run] = field(default_factory=list)

    @property
    def pooled(self) -> dict[int, float]:
        return percentiles([s for run in self.runs for s in run.latencies])

    @property
    def idle_cpus(self) -> list[float]:
        return [run.idle_cpu for run in self.runs if run.idle_cpu is not None]

    def report(self) -> str:
        pooled, rounds = self.pooled, [percentiles(run.latencies) for run in self.runs]
        figures = [
            f"p{p} {ms(pooled[p])} ({ms(min(r[p] for r in rounds))}-{ms(max(r[p] for r in rounds))})"
            for p in PERCENTILES
        ]
        worst = max(s for run in self.runs for s in run.latencies)
        idle = self.idle_cpus
        return f"{', '.join(figures)}, max {ms(worst)}; idle reader CPU {min(idle):.3%} ({min(idle):.3%}-{max(idle):.3%}) of a core"


def measure(
    rounds: int = ROUNDS, *, count: int = MESSAGES, dagster_context: Any = None, idle: float = IDLE_SECONDS
) -> dict[str, Measured]:
    """Every side (Dagster's if ``dagster_context`` is given) over ``rounds`` interleaved rounds of
    ``count`` messages, each run idle for ``idle`` seconds at its end."""
    measured: dict[str, Measured] = {}
    with tempfile.TemporaryDirectory() as folder:
        every = sides(dagster_context)
        for seed in range(rounds):
            for side in every:
                measured.setdefault(side.name, Measured()).runs.append(
                    side.run(Path(folder), seed, count=count, idle=idle)
                )
    return measured
