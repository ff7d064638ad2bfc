"""Writing to file descriptors."""

from __future__ import annotations

import os


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``, however many ``write`` calls the kernel takes."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
