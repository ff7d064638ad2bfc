"""Synthetic Pipes message streams shared by the benchmarks."""

from __future__ import annotations

import orjson

from pipes_fast.protocol import make_message

READ_BYTES = 16 * 1024
"""Piece size fed to the framer: what ``FileTailer`` reads at a time."""


def custom_message_lines(count: int) -> list[bytes]:
    """``count`` custom-message lines of about 140 bytes each."""
    return [
        orjson.dumps(make_message("report_custom_message", {"payload": {"i": i, "name": f"item-{i:08d}", "tags": ["a", "b"], "ok": True}}))
        for i in range(count)
    ]


def as_pieces(lines: list[bytes], piece_bytes: int = READ_BYTES) -> list[bytes]:
    """The lines as a byte stream cut into reads of ``piece_bytes``."""
    data = b"\n".join(lines) + b"\n"
    return [data[i : i + piece_bytes] for i in range(0, len(data), piece_bytes)]
