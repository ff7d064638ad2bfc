"""Message readers: where the orchestration side reads what the external process reports."""

from pipes_fast.readers.base import MessageStream, PipesMessageReader
from pipes_fast.readers.blob import PipesBlobStoreMessageReader
from pipes_fast.readers.composite import PipesCompositeMessageReader
from pipes_fast.readers.directory import PipesDirectoryMessageReader
from pipes_fast.readers.file import PipesFileMessageReader, PipesTempFileMessageReader
from pipes_fast.readers.logs import PipesChunkedLogReader, PipesLogReader
from pipes_fast.readers.s3 import PipesS3LogReader, PipesS3MessageReader
from pipes_fast.readers.stdio import PipesStdioMessageReader

__all__ = [
    "MessageStream",
    "PipesBlobStoreMessageReader",
    "PipesChunkedLogReader",
    "PipesCompositeMessageReader",
    "PipesDirectoryMessageReader",
    "PipesFileMessageReader",
    "PipesLogReader",
    "PipesMessageReader",
    "PipesS3LogReader",
    "PipesS3MessageReader",
    "PipesStdioMessageReader",
    "PipesTempFileMessageReader",
]
