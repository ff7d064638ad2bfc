"""Reader and writer throughput on small custom messages, beside their floors and Dagster's.

- Reader: the hot path's work on a stream held in memory, cut in 16 KiB reads as the file reader
  reads it: frame the lines, decode them and route the payloads (the compiled extension where it
  is in use, and the pure implementation, in the same process); the floor, a bare loop that splits and ``orjson.loads`` each
  line; Dagster's, ``json.loads`` and its ``PipesMessageHandler.handle_message`` for each line.
  Every side keeps what it decoded until the run ends, as a consumer of the whole stream does.
- Stdio: the same messages, each after a line of ordinary output, as a script printing as it
  reports writes them to stdout: the hot path's demultiplexer (``StdioDemux``) and router; the
  floor, a bare loop that splits, ``orjson.loads`` each line that starts with ``{`` and holds the
  Pipes key, and joins the other lines back into output; Dagster's,
  ``extract_message_or_forward_to_file`` for each line (what dagster-ray does with each chunk of
  a Ray job's log), output to ``os.devnull``.
- Writer: ``pipes_fast.external.PipesFileMessageWriterChannel`` unbuffered (past its first
  messages, once the hot path took over) and buffered; the floor, a bare ``os.write`` loop of the
  same lines; dagster-pipes' ``PipesFileMessageWriterChannel``.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from importlib.util import find_spec
from typing import Any

import orjson

import pipes_fast
from pipes_fast._system.gc import relaxed_gc
from pipes_fast.benchmarks.figures import Figure, rates, rounds_of
from pipes_fast.protocol import PipesMessage, make_message

READ_BYTES = 16 * 1024
"""What the file reader reads at a time."""


def custom_messages(count: int) -> list[PipesMessage]:
    """``count`` custom messages of about 140 bytes a line."""
    return [
        make_message(
            "report_custom_message", {"payload": {"i": i, "name": f"item-{i:08d}", "tags": ["a", "b"], "ok": True}}
        )
        for i in range(count)
    ]


def reader(count: int, rounds: int) -> list[Figure]:
    """Messages per second read by each side (see the module's docstring)."""
    pieces = _reads(b"".join(orjson.dumps(message) + b"\n" for message in custom_messages(count)))
    sides = _hot_paths(pieces, count, stdio=False)
    sides["floor: split + orjson.loads"] = lambda: _bare_loop(pieces)
    if find_spec("dagster") is not None:
        sides["dagster"] = _dagster_handler(pieces, count)
    return rates(f"reader throughput, {count:,} custom messages", rounds_of(sides, rounds), count)


def stdio(count: int, rounds: int) -> list[Figure]:
    """Messages per second picked out of ordinary output by each side (see the module's docstring)."""
    pieces = interleaved_pieces(count)
    sides = _hot_paths(pieces, count, stdio=True)
    sides["floor: split + orjson.loads + join"] = lambda: demux_floor(pieces)
    if find_spec("dagster") is not None:
        sides["dagster"] = dagster_stdio(pieces, count)
    return rates(f"stdio throughput, {count:,} custom messages among output", rounds_of(sides, rounds), count)


def interleaved_pieces(count: int) -> list[bytes]:
    """``count`` custom messages, each after a line of ordinary output, in 16 KiB reads."""
    lines = []
    for n, message in enumerate(custom_messages(count)):
        lines += [b"row %d: loaded 2,048 records from the warehouse in 0.25 s" % n, orjson.dumps(message)]
    return _reads(b"\n".join(lines) + b"\n")


def _reads(data: bytes) -> list[bytes]:
    """``data`` cut into the reads the file reader makes."""
    return [data[i : i + READ_BYTES] for i in range(0, len(data), READ_BYTES)]


def demux_floor(pieces: list[bytes]) -> None:
    """The floor of the stdio transport: split, decode and keep the messages, join the output back."""
    kept: list[Any] = []
    loads, keep, tail = orjson.loads, kept.append, b""
    with relaxed_gc():
        for piece in pieces:
            lines = (tail + piece).split(b"\n")
            tail = lines.pop()
            output = []
            for line in lines:
                if line[:1] == b"{" and b'"__dagster_pipes_version"' in line:
                    keep(loads(line)["params"]["payload"])
                else:
                    output.append(line)
            b"\n".join(output)


def dagster_stdio(pieces: list[bytes], count: int) -> Callable[[], object]:
    """Dagster's stdio handling of the pieces: each line through ``extract_message_or_forward_to_file``."""
    import dagster

    from pipes_fast.dagster._internals import extract_message_or_forward_to_file

    warnings.filterwarnings("ignore", category=dagster.PreviewWarning)
    context = dagster.build_asset_context()
    text = [piece.decode("utf-8", "replace") for piece in pieces]  # Ray's log chunks come as text

    def read() -> None:
        handler = dagster.PipesMessageHandler(context, dagster.PipesFileMessageReader(os.devnull))
        with open(os.devnull, "w") as devnull:
            for chunk in text:
                for line in chunk.split("\n"):  # as dagster-ray: a line torn between chunks is lost
                    if line:
                        extract_message_or_forward_to_file(handler, line, devnull)
        delivered = len(handler.get_custom_messages())
        if delivered < count * 0.9:
            raise RuntimeError(f"Dagster's handler delivered {delivered} of {count} messages")

    return read


def _hot_paths(pieces: list[bytes], count: int, *, stdio: bool) -> dict[str, Callable[[], object]]:
    """The hot path of each implementation in use: the pure one, and the compiled one where it is
    built (not with PIPES_FAST_NO_EXTENSIONS=1)."""
    from pipes_fast import _hotpath

    names = ["compiled", "pure"] if pipes_fast.EXTENSION else ["pure"]
    implementations = {
        "pipes_fast (compiled)" if name == "compiled" else "pipes_fast (pure Python)": _hotpath.load(name)
        for name in names
    }
    return {side: _hot_path(module, pieces, count, stdio=stdio) for side, module in implementations.items()}


def _hot_path(implementation: Any, pieces: list[bytes], count: int, *, stdio: bool) -> Callable[[], object]:
    """Frame (``stdio``: pick out of output) and route the pieces, checking all ``count`` arrived."""

    def read() -> None:
        if stdio:
            demux = implementation.StdioDemux().feed

            def frame(piece: bytes) -> list[bytes]:
                return demux(piece)[0]  # type: ignore[no-any-return]

        else:
            frame = implementation.LineFramer().feed
        router = implementation.MessageRouter(None, _refuse, _refuse)
        with relaxed_gc():
            for piece in pieces:
                router.route_lines(frame(piece))
        if len(router.custom_messages) != count:
            raise RuntimeError(f"{implementation.__name__} did not deliver every message")

    return read


def _refuse(what: object) -> None:
    raise RuntimeError(f"unexpected in a stream of custom messages: {what!r:.200}")


def _bare_loop(pieces: list[bytes]) -> None:
    kept: list[Any] = []
    loads, keep, tail = orjson.loads, kept.append, b""
    with relaxed_gc():  # the floor gets the collector threshold pipes_fast's reader reads with
        for piece in pieces:
            lines = (tail + piece).split(b"\n")
            tail = lines.pop()
            for line in lines:
                keep(loads(line)["params"]["payload"])


def _dagster_handler(pieces: list[bytes], count: int) -> Callable[[], object]:
    import dagster

    warnings.filterwarnings("ignore", category=dagster.PreviewWarning)
    context = dagster.build_asset_context()

    def read() -> None:
        handler = dagster.PipesMessageHandler(context, dagster.PipesFileMessageReader(os.devnull))
        loads, handle, tail = json.loads, handler.handle_message, b""
        for piece in pieces:
            lines = (tail + piece).split(b"\n")
            tail = lines.pop()
            for line in lines:
                handle(loads(line))
        if len(handler.get_custom_messages()) != count:
            raise RuntimeError("Dagster's handler did not deliver every message")

    return read


def writer(count: int, rounds: int) -> list[Figure]:
    """Messages per second written by each side (see the module's docstring)."""
    from pipes_fast.external import PipesFileMessageWriterChannel, writers

    messages = custom_messages(count)
    with tempfile.TemporaryDirectory(prefix="pipes_fast-bench-") as folder:
        unbuffered = PipesFileMessageWriterChannel(os.path.join(folder, "unbuffered"))
        buffered = PipesFileMessageWriterChannel(os.path.join(folder, "buffered"), buffered=True)
        with unbuffered, buffered:
            write_all(unbuffered, custom_messages(writers.ORJSON_AFTER))  # past the switch to the hot path
            lines = [orjson.dumps(message) + b"\n" for message in messages]
            floor = os.open(os.path.join(folder, "floor"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            sides: dict[str, Callable[[], object]] = {
                "pipes_fast, unbuffered": lambda: write_all(unbuffered, messages),
                "pipes_fast, buffered": lambda: write_all(buffered, messages),
                "floor: bare os.write": lambda: bare_writes(floor, lines),
            }
            if find_spec("dagster_pipes") is not None:
                import dagster_pipes

                theirs = dagster_pipes.PipesFileMessageWriterChannel(os.path.join(folder, "dagster_pipes"))
                sides["dagster_pipes"] = lambda: write_all(theirs, messages)
            try:
                seconds = rounds_of(sides, rounds)
            finally:
                os.close(floor)
    return rates(f"writer throughput, {count:,} custom messages", seconds, count)


def write_all(channel: Any, messages: Sequence[PipesMessage]) -> None:
    """Write ``messages`` through ``channel``, then flush what it buffered (where it can)."""
    write = channel.write_message
    for message in messages:
        write(message)
    flush = getattr(channel, "flush", None)
    if flush is not None:
        flush()


def bare_writes(fd: int, lines: Sequence[bytes]) -> None:
    """The floor of a writer: each pre-encoded line in one ``os.write``."""
    write = os.write
    for line in lines:
        write(fd, line)
