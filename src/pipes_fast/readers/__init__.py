"""Message readers: where the orchestration side reads what the external process reports."""

from pipes_fast.readers.base import MessageStream, PipesMessageReader
from pipes_fast.readers.file import PipesFileMessageReader, PipesTempFileMessageReader

__all__ = ["MessageStream", "PipesFileMessageReader", "PipesMessageReader", "PipesTempFileMessageReader"]
