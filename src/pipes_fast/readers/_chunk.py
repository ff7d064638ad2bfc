"""One blob-store chunk into a message stream: plain text, or zstd frames decompressed as a stream.

A chunk that starts with a zstd frame (magic ``28 B5 2F FD``) or a skippable frame (magic
``0x184D2A50``..``0x184D2A5F``, little-endian) is walked frame by frame, as ``zstd -d`` reads a
file: every zstd frame is decompressed in turn and its content fed to the stream in pieces of at
most ``PIECE_BYTES``, skippable frames are skipped, and bytes after the last frame that are not a
frame are fed as plain text (with a warning). Each zstd frame's compressed length is found from
its block headers (RFC 8878, section 3.1.1), so a frame is decompressed from exactly its own
bytes and its output is read ``PIECE_BYTES`` at a time: memory stays O(``PIECE_BYTES`` + the
frame's window) whatever the chunk inflates to. The window is at most 128 MiB, zstd's own default
limit for decoders (larger windows are refused as corrupt); ordinary compressors use a few MiB.
"""

from __future__ import annotations

from typing import Callable

import zstandard

from pipes_fast.readers.base import MessageStream

__all__ = ["MAX_CHUNK_BYTES", "PIECE_BYTES", "ZSTD_MAGIC", "feed_chunk"]

MAX_CHUNK_BYTES = 1 << 30
"""What a chunk's zstd frames may decompress to, in all; past it the rest is refused (a bomb)."""
PIECE_BYTES = 1 << 20
"""The most decompressed bytes handed to the stream at once."""
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

_SKIPPABLE_HIGH = b"\x2a\x4d\x18"  # bytes 1-3 of a skippable frame's magic; byte 0 is 0x50..0x5F
_FCS_BYTES = (0, 2, 4, 8)  # Frame_Content_Size field size by its flag (flag 0: 1 byte if single segment)
_DICT_ID_BYTES = (0, 1, 2, 4)
_RESERVED_BLOCK = 3


class _Corrupt(Exception):
    """A frame that cannot be read; the message says why."""


def _is_skippable(data: bytes, offset: int) -> bool:
    return offset < len(data) and 0x50 <= data[offset] <= 0x5F and data.startswith(_SKIPPABLE_HIGH, offset + 1)


def _is_frame(data: bytes, offset: int) -> bool:
    return data.startswith(ZSTD_MAGIC, offset) or _is_skippable(data, offset)


def _uint_le(data: bytes, offset: int, size: int) -> int:
    if offset + size > len(data):
        raise _Corrupt("it is cut short")
    return int.from_bytes(data[offset : offset + size], "little")


def _zstd_frame_end(data: bytes, start: int) -> int:
    """Where the zstd frame at ``start`` ends: its header, its blocks up to the last, its checksum."""
    descriptor = _uint_le(data, start + 4, 1)
    if descriptor & 0x08:
        raise _Corrupt("its header's reserved bit is set")
    single_segment = descriptor & 0x20
    fcs_flag = descriptor >> 6
    fcs = _FCS_BYTES[fcs_flag] or (1 if single_segment else 0)
    offset = start + 5 + (0 if single_segment else 1) + _DICT_ID_BYTES[descriptor & 0x03] + fcs
    while True:
        header = _uint_le(data, offset, 3)
        block_type, size = (header >> 1) & 0x03, header >> 3
        if block_type == _RESERVED_BLOCK:
            raise _Corrupt("it has a block of the reserved type")
        offset += 3 + (1 if block_type == 1 else size)  # an RLE block holds one byte
        if header & 1:  # the last block
            break
    end = offset + (4 if descriptor & 0x04 else 0)  # the content checksum
    if end > len(data):
        raise _Corrupt("it is cut short")
    return end


def _feed_frame(stream: MessageStream, frame: memoryview, budget: int) -> int:
    """Decompress one zstd frame into ``stream``, ``PIECE_BYTES`` at a time, at most ``budget``
    bytes of it; returns how many bytes it fed. Raises ``zstandard.ZstdError`` if it is corrupt."""
    fed = 0
    with zstandard.ZstdDecompressor().stream_reader(frame, read_across_frames=False) as reader:
        while fed <= budget:
            piece = reader.read(min(PIECE_BYTES, budget + 1 - fed))
            if not piece:
                break
            stream.feed(piece[: budget - fed])
            fed += len(piece)
    return fed


def feed_chunk(stream: MessageStream, data: bytes, name: str, warn: Callable[[str], None]) -> None:
    """Feed the chunk ``data`` (called ``name`` in warnings) to ``stream``; the caller closes the stream.

    Data that does not start with a zstd or skippable frame is plain text, fed as it is. Otherwise
    every frame is read in turn (see the module's docstring). Nothing is dropped without a
    ``warn``: text after the last frame is fed and warned about; at a corrupt frame what came
    before it stays delivered and the rest of the chunk is skipped; past ``MAX_CHUNK_BYTES`` of
    decompressed content the rest of the chunk is refused. Each warning names the chunk and the
    byte offset (in the chunk as stored) where its trouble starts.
    """
    if not _is_frame(data, 0):
        stream.feed(data)
        return
    view = memoryview(data)
    offset = inflated = 0
    while offset < len(data):
        try:
            if _is_skippable(data, offset):
                end = offset + 8 + _uint_le(data, offset + 4, 4)
                if end > len(data):
                    raise _Corrupt("it is cut short")
            elif data.startswith(ZSTD_MAGIC, offset):
                end = _zstd_frame_end(data, offset)
                inflated += _feed_frame(stream, view[offset:end], MAX_CHUNK_BYTES - inflated)
                if inflated > MAX_CHUNK_BYTES:
                    warn(
                        f"[pipes] {name}: it decompresses to more than {MAX_CHUNK_BYTES} bytes; what follows "
                        f"that much, in the frame at byte {offset}, was not read"
                    )
                    return
            else:
                warn(
                    f"[pipes] {name}: bytes {offset}-{len(data)} after its last zstd frame are not a frame; "
                    "read as plain text"
                )
                stream.feed(data[offset:])
                return
        except (_Corrupt, zstandard.ZstdError) as exc:
            warn(
                f"[pipes] {name}: the frame at byte {offset} is not a readable zstd frame ({exc}); "
                "the rest of the chunk was skipped"
            )
            return
        offset = end
