"""The blob-store reader for a directory: chunks ``DIR/1.json``, ``DIR/2.json``, ... on a filesystem
both processes see (a local disk, a network mount, Databricks Unity Catalog volumes)."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Optional

from pipes_fast._files import READ_FLAGS, why_not_regular
from pipes_fast.errors import PipesError
from pipes_fast.protocol import PipesParams
from pipes_fast.readers.blob import PipesBlobStoreMessageReader
from pipes_fast.readers.logs import PipesLogReader

class PipesDirectoryMessageReader(PipesBlobStoreMessageReader):
    """Reads message chunks from ``path``, or from a private temporary directory (removed when the
    session closes) when ``path`` is None. Params: ``{"path": DIR}``, as dagster-pipes'
    ``PipesUnityCatalogVolumesMessageWriter`` and pipes_fast's expect.

    Writers may write a chunk in place (dagster-pipes does), so a chunk is read once the next one
    exists, or at the sweep after the session closed; chunks are opened without following
    symbolic links, and anything but a regular file is refused with a warning.
    """

    def __init__(self, path: Optional[str] = None, *, interval: float = 10, log_readers: Optional[Sequence[PipesLogReader]] = None) -> None:
        super().__init__(interval=interval, log_readers=log_readers)
        self.path = None if path is None else os.fspath(path)

    @contextmanager
    def get_params(self) -> Iterator[PipesParams]:
        if self.path is not None:
            if not os.path.isdir(self.path):
                raise PipesError(f"message directory {self.path} does not exist or is not a directory")
            yield {"path": self.path}
            return
        folder = tempfile.mkdtemp(prefix="pipes_fast-chunks-")  # owner-only (0700)
        try:
            yield {"path": folder}
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def download_messages_chunk(self, index: int, params: PipesParams) -> Optional[bytes]:
        if not (self.final_sweep or os.path.exists(self._chunk_path(index + 1, params))):
            return None  # the writer may still be writing it
        try:
            fd = os.open(self._chunk_path(index, params), READ_FLAGS)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise PipesError("it is a symbolic link, which is not followed") from None
            raise
        try:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                raise PipesError(why_not_regular(mode))
            with os.fdopen(fd, "rb", closefd=False) as chunk:
                return chunk.read()
        finally:
            os.close(fd)

    def chunk_name(self, index: int, params: PipesParams) -> str:
        return f"chunk {self._chunk_path(index, params)}"

    def no_messages_debug_text(self) -> str:
        where = "a temporary directory" if self.path is None else self.path
        return f"Attempted to read message chunks from {where}: expected 1.json, 2.json, ... written there."

    @staticmethod
    def _chunk_path(index: int, params: PipesParams) -> str:
        return os.path.join(params["path"], f"{index}.json")
