"""Files that may hold secrets: created readable and writable by their owner only."""

from __future__ import annotations

import os


def write_private_file(path: str, data: bytes = b"") -> None:
    """Create or truncate ``path`` with mode 0600 and write ``data`` to it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
