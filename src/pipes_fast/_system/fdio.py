"""Writing to file descriptors."""

from __future__ import annotations

import os


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``, however many ``write`` calls the kernel takes."""
    written = os.write(fd, data)
    if written < len(data):  # rare: a pipe, a signal, a full disk
        view = memoryview(data)[written:]
        while view:
            view = view[os.write(fd, view) :]
