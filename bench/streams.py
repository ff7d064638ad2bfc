"""Synthetic Pipes message streams shared by the benchmarks."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import orjson

from pipes_fast.protocol import PipesMessage, make_message

READ_BYTES = 16 * 1024
"""Piece size fed to the framer: what ``FileTailer`` reads at a time."""


def custom_message_lines(count: int) -> list[bytes]:
    """``count`` custom-message lines of about 140 bytes each."""
    return [
        orjson.dumps(
            make_message(
                "report_custom_message", {"payload": {"i": i, "name": f"item-{i:08d}", "tags": ["a", "b"], "ok": True}}
            )
        )
        for i in range(count)
    ]


def as_pieces(lines: list[bytes], piece_bytes: int = READ_BYTES) -> list[bytes]:
    """The lines as a byte stream cut into reads of ``piece_bytes``."""
    data = b"\n".join(lines) + b"\n"
    return [data[i : i + piece_bytes] for i in range(0, len(data), piece_bytes)]


# ----- complete message files, as dagster-pipes' file writer leaves them -----

ASSET_KEYS: tuple[str, ...] = ("warehouse/orders", "warehouse/customers", "lake/events", "reports/daily_summary")
"""Asset keys (escaped user strings) of the step the orchestration benchmarks read for."""


def pipes_session_stream(body: Iterable[PipesMessage]) -> Iterator[PipesMessage]:
    """``opened``, the ``body`` messages, then ``closed``: what one ``open_dagster_pipes`` session writes."""
    yield make_message("opened", {"extras": {}})
    yield from body
    yield make_message("closed", {})


def small_custom_messages(count: int) -> Iterator[PipesMessage]:
    """``count`` small ``report_custom_message`` messages (about 140 bytes a line)."""
    for i in range(count):
        yield make_message("report_custom_message", {"payload": {"i": i, "name": f"item-{i:08d}", "ok": True}})


def materialization_messages(count: int, asset_keys: Sequence[str] = ASSET_KEYS) -> Iterator[PipesMessage]:
    """``count`` ``report_asset_materialization`` messages cycling over ``asset_keys``.

    Each carries a data version and two metadata entries: an inferred int and a typed path, as
    ``PipesContext.report_asset_materialization(metadata={"rows": i, "path": MetadataValue...})``
    normalizes them.
    """
    for i in range(count):
        key = asset_keys[i % len(asset_keys)]
        metadata = {
            "rows": {"raw_value": i * 37 % 100_003, "type": "__infer__"},
            "path": {"raw_value": f"s3://datalake/{key}/part-{i:06d}.parquet", "type": "path"},
        }
        yield make_message(
            "report_asset_materialization", {"asset_key": key, "data_version": f"{i:016x}", "metadata": metadata}
        )


def write_message_file(path: Path, messages: Iterable[PipesMessage]) -> int:
    """Write ``messages`` one per line with ``json.dumps``, as ``PipesFileMessageWriterChannel`` does.

    Returns the number of lines written.
    """
    lines = 0
    with open(path, "w", encoding="utf-8") as f:
        for lines, message in enumerate(messages, 1):  # noqa: B007 - the count is returned
            f.write(json.dumps(message) + "\n")
    return lines


def append_file(source: Path, target: Path) -> int:
    """Append all of ``source`` to ``target`` in kernel-side copies; return the bytes copied.

    This plays the external process of a replayed session: the reader under test created (and
    truncated) ``target`` when the session opened and tails it while the copy runs.
    """
    copied = 0
    out = os.open(target, os.O_WRONLY | os.O_CREAT, 0o600)  # not O_APPEND: sendfile refuses it
    try:
        os.lseek(out, 0, os.SEEK_END)
        with open(source, "rb") as src:
            size = os.fstat(src.fileno()).st_size
            while copied < size:
                sent = os.sendfile(out, src.fileno(), copied, size - copied)
                if sent == 0:
                    break
                copied += sent
    finally:
        os.close(out)
    return copied
