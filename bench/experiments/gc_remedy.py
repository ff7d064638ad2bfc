"""What Python's cyclic garbage collector costs a session whose consumer keeps what it receives,
and what each remedy gives back.

    python bench/experiments/gc_remedy.py [--count N] [--rounds R]

The stream is ``N`` custom messages (default 1M) whose payloads hold a list, as real payloads
often do: every payload is two containers the collector tracks. A session reads the pre-written
stream through ``PipesFileMessageReader`` (``dagster_baseline.replay_session``'s way: the file is
appended in one kernel copy while the session is open) and the consumer then does one of:

- ``keep``: ``get_custom_messages()`` after the session closed, keeping every payload;
- ``drain and drop``: ``drain_custom_messages(max_messages=10_000)`` until an empty batch while
  the session is open, then again after it closed, each batch consumed and let go (the pattern
  the README recommends for long streams: memory stays bounded);
- each of the two again with the collector paused (``gc.disable()``) for the session's span.

Then, with the kept payloads still alive, it times one full collection (``gc.collect()``), which
every later full collection of the process repeats, and the same after ``gc.freeze()``.

Each round runs every mode once, interleaved; the table shows the best and worst seconds of each.
pipes_fast itself raises only the first generation's threshold while it reads (``pipes_fast._system.gc``)
and never disables or freezes the collector: that is the consumer's call, for its own objects.
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1]))  # bench/: the shared helpers

from streams import append_file, pipes_session_stream, write_message_file  # noqa: E402

import pipes_fast  # noqa: E402
from pipes_fast.protocol import PipesMessage, make_message  # noqa: E402

BATCH = 10_000


def list_payloads(count: int) -> Iterator[PipesMessage]:
    """``count`` custom messages whose payloads hold a list (about 140 bytes a line)."""
    for i in range(count):
        yield make_message(
            "report_custom_message", {"payload": {"i": i, "name": f"item-{i:08d}", "tags": ["a", "b"], "ok": True}}
        )


def keep(session: Any, during: bool) -> int:
    """Nothing while the session is open; every payload, kept, after it closed."""
    return 0 if during else len(session.get_custom_messages())


def drain_and_drop(session: Any, during: bool) -> int:
    """Drain in batches until an empty one, both while the session is open and after it closed."""
    received = 0
    while batch := session.drain_custom_messages(max_messages=BATCH):
        received += len(batch)
    return received


Consumer = Callable[[Any, bool], int]
"""Called with the session while it is open (True) and after it closed (False); returns the
payloads it received then."""
MODES: dict[str, tuple[Consumer, bool]] = {
    "keep": (keep, False),
    "keep, GC paused": (keep, True),
    "drain and drop": (drain_and_drop, False),
    "drain and drop, GC paused": (drain_and_drop, True),
}
"""Each mode's consumer, and whether the collector is paused for the session's span."""
COLLECTIONS = ("full collection, payloads kept", "full collection, payloads kept, frozen")


def open_session(target: Path) -> Any:
    quiet = logging.getLogger("pipes_fast.bench.gc")
    quiet.setLevel(logging.ERROR)
    return pipes_fast.open_pipes_session(
        pipes_fast.StepContext(log=quiet),
        pipes_fast.PipesEnvContextInjector(),
        pipes_fast.PipesFileMessageReader(str(target)),
    )


def session_seconds(source: Path, target: Path, count: int, consume: Consumer, paused: bool) -> float:
    """Seconds from opening the session to the consumer done; raises unless all ``count`` arrived."""
    target.unlink(missing_ok=True)
    gc.collect()
    start = time.perf_counter()
    if paused:
        gc.disable()
    try:
        with open_session(target) as session:
            append_file(source, target)
            received = consume(session, True)
        received += consume(session, False)
    finally:
        gc.enable()
    seconds = time.perf_counter() - start
    if received != count:
        raise RuntimeError(f"{received} of {count} custom messages arrived")
    return seconds


def full_collection_seconds(source: Path, target: Path) -> tuple[float, float]:
    """One full collection while a session's payloads are kept: as is, then after ``gc.freeze()``."""
    target.unlink(missing_ok=True)
    with open_session(target) as session:
        append_file(source, target)
    kept = session.get_custom_messages()
    seconds = []
    for freeze in (False, True):
        if freeze:
            gc.freeze()
        start = time.perf_counter()
        gc.collect()
        seconds.append(time.perf_counter() - start)
    gc.unfreeze()
    del kept
    return seconds[0], seconds[1]


def measure(count: int, rounds: int) -> dict[str, list[float]]:
    """Seconds of each mode's session over ``rounds`` interleaved rounds."""
    seconds: dict[str, list[float]] = {name: [] for name in (*MODES, *COLLECTIONS)}
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "stream.jsonl"
        write_message_file(source, pipes_session_stream(list_payloads(count)))
        for _ in range(rounds):
            for name, (consume, paused) in MODES.items():
                seconds[name].append(session_seconds(source, Path(folder) / "messages", count, consume, paused))
            for name, collection in zip(COLLECTIONS, full_collection_seconds(source, Path(folder) / "messages")):
                seconds[name].append(collection)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="custom messages (default 1M)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    args = parser.parse_args(argv)
    seconds = measure(args.count, args.rounds)
    base = min(seconds["keep"])
    print(f"{args.count} custom messages with list payloads, {args.rounds} rounds (best–worst):")
    for name, values in seconds.items():
        print(f"  {name:40} {min(values) * 1e3:8.2f}–{max(values) * 1e3:.2f} ms  ({min(values) / base:.2f}x keep)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
