"""Goals of issue 10: the file reader stays near the bare loop that only reads, splits and parses.

The baseline is the physical floor of reading a message file: ``os.read`` in 16 KiB pieces,
``split(b"\\n")`` with the torn tail carried over, and ``orjson.loads`` of every line, keeping
nothing. The candidate is what ``PipesFileMessageReader``'s thread does with the same file: the
tailer's reads, the framer, and the handler's router building results and payloads, under the
reader's relaxed collector threshold, with a consumer that lets each read's results go (as a
draining consumer does). Both read the same pre-written file (``opened``, the messages,
``closed``), interleaved, best of the rounds.

- custom messages: within 1.3x of the floor (target ratio 1/1.3);
- materializations with two metadata entries and a data version: within 2x (target 1/2).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
from streams import (
    ASSET_KEYS,
    READ_BYTES,
    materialization_messages,
    pipes_session_stream,
    small_custom_messages,
    write_message_file,
)
from timing import Goal, best_of

import pipes_fast
from pipes_fast._system.gc import relaxed_gc
from pipes_fast._system.tailer import FileTailer
from pipes_fast.handler import PipesMessageHandler
from pipes_fast.readers.base import MessageStream

COUNT = 200_000


def bare_loop(path: Path) -> Callable[[], None]:
    """Read, split and parse every line of ``path``: the floor."""

    def read() -> None:
        fd = os.open(path, os.O_RDONLY)
        loads, tail = orjson.loads, b""
        try:
            while piece := os.read(fd, READ_BYTES):
                lines = (tail + piece).split(b"\n")
                tail = lines.pop()
                for line in lines:
                    loads(line)
        finally:
            os.close(fd)

    return read


def reader_loop(path: Path) -> Callable[[], None]:
    """What the file reader's thread does with ``path``, results let go after each read."""
    quiet = logging.getLogger("pipes_fast.bench.reader")
    quiet.setLevel(logging.ERROR)
    step = pipes_fast.StepContext(list(ASSET_KEYS), log=quiet)

    def read() -> None:
        handler = PipesMessageHandler(step, pipes_fast.PipesFileMessageReader(str(path)))
        stream = MessageStream(handler, f"line of file {path}")
        results, payloads = handler._router.results, handler._router.custom_messages
        with FileTailer(path) as tailer, relaxed_gc():
            while piece := tailer.read():
                stream.feed(piece)
                results.clear()
                payloads.clear()
            stream.close()
        if not handler.received_closed_message:
            raise RuntimeError("the reader did not reach the closed message")

    return read


def compare(name: str, messages: Callable[[int], Iterator[Any]], target: float, rounds: int) -> Goal:
    goal = Goal(
        f"file reader, {COUNT // 1000}k {name}", "bare read+split+orjson.loads loop", "reader thread's work", target
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "messages.jsonl"
        write_message_file(path, pipes_session_stream(messages(COUNT)))
        goal.baseline_seconds, goal.candidate_seconds = best_of(rounds, bare_loop(path), reader_loop(path))
    return goal


def measure_reader_custom_messages(rounds: int) -> Goal:
    return compare("custom messages", small_custom_messages, 1 / 1.3, rounds)


def measure_reader_materializations(rounds: int) -> Goal:
    return compare("materializations", materialization_messages, 1 / 2, rounds)
