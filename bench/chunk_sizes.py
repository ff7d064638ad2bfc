"""Bytes stored for a 100k-custom-message stream through pipes_fast.external's blob-store writer
(a directory, as on Unity Catalog volumes): plain JSON chunks vs zstd chunks, and the ratio.

``python bench/chunk_sizes.py [--count N] [--interval SECONDS]``: with the default interval (10 s)
the stream is one chunk; a short interval shows what smaller chunks, uploaded while it runs, cost.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from streams import pipes_session_stream, small_custom_messages

from pipes_fast.external import PipesUnityCatalogVolumesMessageWriter


def stored(count: int, interval: float, zstd: bool) -> tuple[int, int, float]:
    """(bytes stored, chunks, seconds) for ``count`` custom messages written through the writer."""
    with tempfile.TemporaryDirectory() as folder:
        params = {"path": folder, **({"accept_compression": ["zstd"]} if zstd else {})}
        started = time.perf_counter()
        with PipesUnityCatalogVolumesMessageWriter(interval=interval).open(params) as channel:
            for message in pipes_session_stream(small_custom_messages(count)):
                channel.write_message(message)
        seconds = time.perf_counter() - started
        sizes = [os.path.getsize(os.path.join(folder, name)) for name in os.listdir(folder)]
    return sum(sizes), len(sizes), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--interval", type=float, default=10)
    args = parser.parse_args()
    plain, plain_chunks, plain_seconds = stored(args.count, args.interval, zstd=False)
    packed, packed_chunks, packed_seconds = stored(args.count, args.interval, zstd=True)
    print(f"{args.count} custom messages, interval {args.interval} s")
    print(f"plain: {plain:>12,} bytes in {plain_chunks} chunk(s), {plain_seconds:.2f} s")
    print(f"zstd:  {packed:>12,} bytes in {packed_chunks} chunk(s), {packed_seconds:.2f} s")
    print(f"ratio: {plain / packed:.1f}x smaller with zstd")


if __name__ == "__main__":
    main()
