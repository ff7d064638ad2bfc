"""One orchestrator process of ``goal_scale``: N sessions at once in threads sharing one client.

    python scale_worker.py CONFIG_JSON OUT_PATH

Each thread runs ``scale_child.py`` through the side's ``PipesSubprocessClient`` (pipes_fast's,
pipes_fast.dagster's or Dagster's own; the Dagster ones in the live context of one
``dagster.materialize`` run), with the extra ``{"session": number}``. Once every child is open
and idle (each says so on a FIFO), the process's RSS is sampled; then a closed FIFO lets them all
go at once. After one session of warm-up (imports, first reader), it measures the process's CPU
(``RUSAGE_SELF``) and the children's (``RUSAGE_CHILDREN``: every child is reaped by then) from
the first thread started to the last joined, checks that every session got exactly its own
messages, in order, and collects every warning of the ``pipes_fast`` loggers. Only public API is
used, so it measures whatever the current code does. Writes the figures as JSON to ``OUT_PATH``.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import select
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

CHILD = str(Path(__file__).with_name("scale_child.py"))
READY_TIMEOUT = 600.0
"""Longest wait for every child to be open and idle, seconds."""
SETTLE_SECONDS = 0.5
"""Wait after every child is ready before sampling the RSS of the open, idle sessions."""
WARM_UP_MESSAGES = 10


@dataclass(frozen=True)
class Config:
    """A run: ``side`` is the client (``pipes_fast``, ``pipes_fast.dagster`` or ``dagster``),
    ``children`` what the children report with (``pipes_fast`` or ``dagster_pipes``), ``mode``
    ``stream`` (custom messages, as fast as they go) or ``latency`` (timestamped log lines)."""

    side: str
    children: str
    sessions: int
    messages: int
    mode: str = "stream"


class Collector(logging.Handler):
    """Keeps ``(arrival monotonic_ns, level, text)`` of every record it handles."""

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.records: list[tuple[int, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((time.monotonic_ns(), record.levelno, record.getMessage()))


Runner = Callable[[int, logging.Logger, list[str]], Sequence[Any]]
"""Runs session ``number`` to completion (the context's log and the command given) and returns its
custom messages."""


@contextmanager
def runner(side: str) -> Iterator[Runner]:
    """How ``side`` runs one session: one client shared by every thread."""
    if side == "pipes_fast":
        import pipes_fast

        client = pipes_fast.PipesSubprocessClient()

        def run(number: int, log: logging.Logger, command: list[str]) -> Sequence[Any]:
            context = pipes_fast.StepContext(log=log)
            return client.run(context=context, extras={"session": number}, command=command).get_custom_messages()

        yield run
        return
    import dagster

    import pipes_fast.dagster
    from pipes_fast.benchmarks._dagster import dagster_asset_context

    shared = (
        pipes_fast.dagster.PipesSubprocessClient() if side == "pipes_fast.dagster" else dagster.PipesSubprocessClient()
    )
    with dagster_asset_context(["scale"], log_level="ERROR") as live:  # what it loses is counted here

        def run_in_dagster(number: int, log: logging.Logger, command: list[str]) -> Sequence[Any]:
            completed = shared.run(context=live, extras={"session": number}, command=command)
            return completed.get_custom_messages()  # type: ignore[no-any-return]

        yield run_in_dagster


class Barrier:
    """Children write a byte to the FIFO ``ready`` when open, and block reading ``go`` until it is closed.

    This process holds both FIFOs open read-write, so no child's ``open`` blocks and ``ready`` never
    reaches end-of-file; closing ``go`` gives every child end-of-file at once.
    """

    def __init__(self, folder: Path) -> None:
        for name in ("ready", "go"):
            os.mkfifo(folder / name)
        self._ready = os.open(folder / "ready", os.O_RDWR | os.O_NONBLOCK)
        self._go = os.open(folder / "go", os.O_RDWR)

    def wait_ready(self, count: int, finished: Callable[[], int]) -> int:
        """Until ``count`` children are ready, less the sessions ``finished`` already (failed before
        the go); returns how many are."""
        ready, deadline = 0, time.monotonic() + READY_TIMEOUT
        while ready + finished() < count and time.monotonic() < deadline:
            if select.select([self._ready], [], [], 0.2)[0]:
                ready += len(os.read(self._ready, 65536))
        return ready

    def go(self) -> None:
        os.close(self._go)

    def close(self) -> None:
        os.close(self._ready)


def rss_kb() -> int:
    """This process's resident set now, KB (``VmRSS`` of /proc/self/status)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def waiting_resources() -> dict[str, int]:
    """What this process holds to wait for its sessions' messages: inotify instances, and threads
    other than the sessions' own (the readers' pool, the watcher)."""
    instances = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            instances += os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:inotify"
        except OSError:
            pass  # the listing's own descriptor
    pipes_fast_threads = sum(thread.name.startswith("pipes_fast") for thread in threading.enumerate())
    return {"inotify_instances": instances, "pipes_fast_threads": pipes_fast_threads}


def raise_open_files_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@dataclass
class Sessions:
    """What the sessions of one run got back: per session, the payloads or log lines it was given."""

    custom: dict[int, Sequence[Any]]
    logs: dict[int, list[tuple[int, int, str]]]
    errors: list[str]


def run_sessions(config: Config, run: Runner, folder: Path) -> dict[str, Any]:
    """Run ``config.sessions`` sessions at once, their FIFOs in ``folder``; their timing,
    resources and what came back."""
    barrier = Barrier(folder)
    command = [sys.executable, CHILD, config.mode, config.children, str(config.messages), str(folder)]
    done: list[int] = []
    got = Sessions({}, {}, [])

    def session(number: int) -> None:
        log = logging.Logger(f"scale.{number}")
        collector = Collector(logging.INFO)
        log.addHandler(collector)
        try:
            got.custom[number] = run(number, log, command)
        except Exception as error:  # counted as a failed session
            got.errors.append(f"session {number}: {type(error).__name__}: {error}"[:500])
        finally:
            got.logs[number] = collector.records
            done.append(number)

    threads = [threading.Thread(target=session, args=(n,), daemon=True) for n in range(config.sessions)]
    rss_base = rss_kb()
    self_before, children_before = (resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    started = time.monotonic()
    for thread in threads:
        thread.start()
    ready = barrier.wait_ready(config.sessions, lambda: len(done))
    opened = time.monotonic()
    time.sleep(SETTLE_SECONDS)
    rss_idle = rss_kb()
    held = waiting_resources()
    went = time.monotonic()
    barrier.go()
    for thread in threads:
        thread.join()
    ended = time.monotonic()
    barrier.close()
    self_after, children_after = (resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    cpu = (self_after.ru_utime - self_before.ru_utime) + (self_after.ru_stime - self_before.ru_stime)
    return {
        "ready": ready,
        "seconds": ended - started - (went - opened),  # the settle pause left out
        "startup_seconds": opened - started,
        "stream_seconds": ended - went,
        "cpu_seconds": cpu,
        "children_user_seconds": children_after.ru_utime - children_before.ru_utime,
        "children_sys_seconds": children_after.ru_stime - children_before.ru_stime,
        "rss_base_kb": rss_base,
        "rss_idle_kb": rss_idle,
        **held,
        "errors": got.errors,
        "session_warnings": warnings_by_text(record for records in got.logs.values() for record in records),
        **delivery(config, got),
    }


def ordered(sequence: Sequence[int]) -> int:
    """How many of ``sequence`` do not follow the one before."""
    return sum(1 for before, after in zip(sequence, sequence[1:]) if after <= before)


def delivery(config: Config, got: Sessions) -> dict[str, Any]:
    """Messages lost, misordered and foreign (another session's) over every session, and the
    latency of each log line in ``latency`` mode."""
    lost = misordered = foreign = 0
    latencies: list[float] = []
    for number in range(config.sessions):
        if config.mode == "stream":
            payloads = got.custom.get(number, ())
            own = [p.get("i") for p in payloads if isinstance(p, dict) and p.get("s") == number]
            foreign += len(payloads) - len(own)
        else:
            stamped = (text.split() for _, _, text in got.logs.get(number, ()))
            lines = [
                (at, fields)
                for (at, _, _), fields in zip(got.logs.get(number, ()), stamped)
                if len(fields) == 3 and all(field.isdigit() for field in fields)  # the child's, not the session's
            ]
            mine = [(at, fields) for at, fields in lines if fields[0] == str(number)]
            foreign += len(lines) - len(mine)
            own = [int(fields[1]) for _, fields in mine]
            latencies += [(at - int(fields[2])) / 1e9 for at, fields in mine]
        lost += config.messages - len(set(own) & set(range(config.messages)))
        misordered += ordered(own)
    return {"lost": lost, "misordered": misordered, "foreign": foreign, "latencies": latencies}


def warnings_by_text(records: Iterable[tuple[int, int, str]]) -> dict[str, int]:
    """How many times each warning (or worse) of ``records`` was given."""
    return dict(Counter(text for _, level, text in records if level >= logging.WARNING))


def measure(config: Config) -> dict[str, Any]:
    """One warm-up session, then ``config``'s run; the figures."""
    import pipes_fast

    raise_open_files_limit()
    collector = Collector(logging.WARNING)
    logging.getLogger("pipes_fast").addHandler(collector)
    warm_up = Config(config.side, config.children, 1, WARM_UP_MESSAGES, config.mode)
    with tempfile.TemporaryDirectory(prefix="pipes-scale-") as temporary, runner(config.side) as run:
        folders = [Path(temporary) / name for name in ("warm-up", "run")]
        for folder in folders:
            folder.mkdir()
        run_sessions(warm_up, run, folders[0])
        figures = run_sessions(config, run, folders[1])
    return {
        "config": asdict(config),
        "implementation": pipes_fast.IMPLEMENTATION,
        **figures,
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "warnings": warnings_by_text(collector.records),
    }


def main() -> None:
    config = Config(**json.loads(sys.argv[1]))
    Path(sys.argv[2]).write_text(json.dumps(measure(config)))


if __name__ == "__main__":
    main()
