"""The blob-store reader for a directory: chunks ``1.json``, ``2.json``, ... on a filesystem both
processes see (a local disk, a network mount, Databricks Unity Catalog volumes)."""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Optional

from pipes_fast._system.files import READ_FLAGS, why_not_regular
from pipes_fast.errors import PipesError
from pipes_fast.protocol import PipesParams
from pipes_fast.readers.blob import CLOSE_TIMEOUT_SECONDS, PipesBlobStoreMessageReader, chunk_index
from pipes_fast.readers.logs import PipesLogReader


class PipesDirectoryMessageReader(PipesBlobStoreMessageReader):
    """Reads message chunks from a directory of its own for each session. Params: ``{"path": DIR}``,
    as dagster-pipes' ``PipesUnityCatalogVolumesMessageWriter`` and pipes_fast's expect.

    With ``path``, each session's directory is a new sub-directory of it, ``path/pipes-<random>/``
    (made with the usual permissions, so that a writer running as another user can write there;
    kept afterwards, with its chunks, as an S3 reader's objects are): a directory used again, or
    by sessions at the same time, never mixes their chunks. Without ``path``, it is a private
    temporary directory, removed when the session closes.

    Writers may write a chunk in place (dagster-pipes does), so a chunk is read once the next one
    exists, or at the final sweep after the session closed; chunks are opened without following
    symbolic links, and anything but a regular file is refused with a warning.
    """

    def __init__(
        self,
        path: Optional[str] = None,
        *,
        interval: float = 10,
        log_readers: Optional[Sequence[PipesLogReader]] = None,
        close_timeout: float = CLOSE_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(interval=interval, log_readers=log_readers, close_timeout=close_timeout)
        self.path = None if path is None else os.fspath(path)

    @contextmanager
    def get_params(self) -> Iterator[PipesParams]:
        if self.path is None:
            folder = tempfile.mkdtemp(prefix="pipes_fast-chunks-")  # owner-only (0700)
            try:
                yield {"path": folder}
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            return
        if not os.path.isdir(self.path):
            raise PipesError(f"message directory {self.path} does not exist or is not a directory")
        folder = os.path.join(self.path, f"pipes-{secrets.token_hex(8)}")
        try:
            os.mkdir(folder)  # a new name: never a directory that was there, nor a link's target
        except OSError as exc:
            raise PipesError(f"cannot make this session's directory in {self.path}: {exc.strerror}") from None
        yield {"path": folder}

    def download_messages_chunk(self, index: int, params: PipesParams) -> Optional[bytes]:
        try:
            fd = os.open(self._chunk_path(index, params), READ_FLAGS)
        except FileNotFoundError:
            if not os.path.isdir(params["path"]):  # the store is gone, not the chunk: a failure
                raise FileNotFoundError(f"the directory {params['path']} is not there") from None
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

    def chunk_is_settled(self, index: int, params: PipesParams) -> bool:
        return os.path.lexists(self._chunk_path(index + 1, params))

    def list_chunks(self, params: PipesParams) -> list[int]:
        return [index for name in os.listdir(params["path"]) if (index := chunk_index(name)) is not None]

    def chunk_name(self, index: int, params: PipesParams) -> str:
        return f"chunk {self._chunk_path(index, params)}"

    def no_messages_debug_text(self) -> str:
        where = "a temporary directory" if self.path is None else f"a new directory in {self.path}"
        return f"Attempted to read message chunks from {where}: expected 1.json, 2.json, ... written there."

    @staticmethod
    def _chunk_path(index: int, params: PipesParams) -> str:
        return os.path.join(params["path"], f"{index}.json")
