"""Message readers: where the orchestration side reads what the external process reports.

Each reader is imported on first use (``pipes-fast run`` with the default reader loads neither
the blob-store nor the S3 readers)."""

from __future__ import annotations

from pipes_fast._system.lazy import exports

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from pipes_fast.readers.base import MessageStream as MessageStream
    from pipes_fast.readers.base import PipesMessageReader as PipesMessageReader
    from pipes_fast.readers.blob import PipesBlobStoreMessageReader as PipesBlobStoreMessageReader
    from pipes_fast.readers.composite import PipesCompositeMessageReader as PipesCompositeMessageReader
    from pipes_fast.readers.directory import PipesDirectoryMessageReader as PipesDirectoryMessageReader
    from pipes_fast.readers.file import PipesFileMessageReader as PipesFileMessageReader
    from pipes_fast.readers.file import PipesTempFileMessageReader as PipesTempFileMessageReader
    from pipes_fast.readers.logs import PipesChunkedLogReader as PipesChunkedLogReader
    from pipes_fast.readers.logs import PipesLogReader as PipesLogReader
    from pipes_fast.readers.s3 import PipesS3LogReader as PipesS3LogReader
    from pipes_fast.readers.s3 import PipesS3MessageReader as PipesS3MessageReader
    from pipes_fast.readers.stdio import PipesStdioMessageReader as PipesStdioMessageReader

_LAZY = {
    "MessageStream": "pipes_fast.readers.base",
    "PipesMessageReader": "pipes_fast.readers.base",
    "PipesBlobStoreMessageReader": "pipes_fast.readers.blob",
    "PipesCompositeMessageReader": "pipes_fast.readers.composite",
    "PipesDirectoryMessageReader": "pipes_fast.readers.directory",
    "PipesFileMessageReader": "pipes_fast.readers.file",
    "PipesTempFileMessageReader": "pipes_fast.readers.file",
    "PipesChunkedLogReader": "pipes_fast.readers.logs",
    "PipesLogReader": "pipes_fast.readers.logs",
    "PipesS3LogReader": "pipes_fast.readers.s3",
    "PipesS3MessageReader": "pipes_fast.readers.s3",
    "PipesStdioMessageReader": "pipes_fast.readers.stdio",
}
"""Each public name -> the module defining it."""

__getattr__, __dir__ = exports(__name__, _LAZY)
__all__ = sorted(_LAZY)
