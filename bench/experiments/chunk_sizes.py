"""A 100k-custom-message stream through the blob-store transport on a directory (as on Unity
Catalog volumes), plain JSON chunks vs zstd chunks: the bytes pipes_fast.external's writer stores,
and the reader's throughput on them.

``python bench/experiments/chunk_sizes.py [--count N] [--interval SECONDS] [--runs R]``: with the default
interval (10 s) the stream is one chunk; a short interval shows what smaller chunks, uploaded while
it runs, cost. The reader (``PipesDirectoryMessageReader`` in a session) is timed on chunk files
written beforehand, from opening the session to ``get_custom_messages()`` after it closed, in R
runs interleaved plain, zstd, plain, ...; every run checks that all the messages arrived.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))  # bench/: the shared helpers

from streams import pipes_session_stream, small_custom_messages  # noqa: E402

import pipes_fast  # noqa: E402
from pipes_fast import PipesDirectoryMessageReader, PipesEnvContextInjector, StepContext, open_pipes_session  # noqa: E402
from pipes_fast.external import PipesUnityCatalogVolumesMessageWriter  # noqa: E402
from pipes_fast.protocol import PipesParams  # noqa: E402

KINDS = {"plain": False, "zstd": True}
"""The chunk formats compared, and whether the writer was offered zstd."""


def write_chunks(folder: Path, count: int, interval: float, zstd: bool) -> float:
    """Write ``count`` custom messages (in an opened/closed session) as chunks into ``folder``; seconds taken."""
    params = {"path": str(folder), **({"accept_compression": ["zstd"]} if zstd else {})}
    started = time.perf_counter()
    with PipesUnityCatalogVolumesMessageWriter(interval=interval).open(params) as channel:
        for message in pipes_session_stream(small_custom_messages(count)):
            channel.write_message(message)
    return time.perf_counter() - started


def stored(folder: Path) -> tuple[int, int]:
    """(bytes, chunks) in ``folder``."""
    sizes = [os.path.getsize(folder / name) for name in os.listdir(folder)]
    return sum(sizes), len(sizes)


class WrittenChunksReader(PipesDirectoryMessageReader):
    """A directory reader of chunks written before the session (a session's reader would make a
    new directory of its own): what is timed is the reading alone."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    @contextmanager
    def get_params(self) -> Iterator[PipesParams]:
        yield {"path": str(self.folder)}


def read_chunks(folder: Path, count: int) -> float:
    """Seconds for a session over a directory reader of ``folder`` to deliver its ``count`` custom
    messages; raises unless all of them arrived, in order."""
    gc.collect()
    started = time.perf_counter()
    with open_pipes_session(StepContext(), PipesEnvContextInjector(), WrittenChunksReader(folder)) as session:
        pass
    messages = session.get_custom_messages()
    seconds = time.perf_counter() - started
    if len(messages) != count or (count and messages[-1]["i"] != count - 1):
        raise RuntimeError(f"the reader delivered {len(messages)} of {count} messages from {folder}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--interval", type=float, default=10)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    implementation = "compiled" if pipes_fast.EXTENSION else "pure"
    print(f"{args.count:,} custom messages, writer interval {args.interval:g} s, {implementation} hot path")
    with tempfile.TemporaryDirectory() as root:
        folders = {kind: Path(root, kind) for kind in KINDS}
        size: dict[str, int] = {}
        for kind, zstd in KINDS.items():
            folders[kind].mkdir()
            written = write_chunks(folders[kind], args.count, args.interval, zstd)
            size[kind], chunks = stored(folders[kind])
            print(f"{kind:>5}: {size[kind]:>12,} bytes in {chunks} chunk(s), written in {written:.2f} s")
        print(f"ratio: {size['plain'] / size['zstd']:.1f}x smaller with zstd")
        reads: dict[str, list[float]] = {kind: [] for kind in KINDS}
        for _ in range(args.runs):
            for kind, folder in folders.items():
                reads[kind].append(read_chunks(folder, args.count))
    print(f"reader throughput over {args.runs} runs (best / median / worst):")
    for kind, seconds in reads.items():
        rates = sorted(args.count / s for s in seconds)
        print(f"{kind:>5}: {rates[-1]:>12,.0f} / {statistics.median(rates):,.0f} / {rates[0]:,.0f} messages/s")


if __name__ == "__main__":
    main()
