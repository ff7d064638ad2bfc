"""The S3 readers: message chunks ``PREFIX/1.json``, ``PREFIX/2.json``, ... in a bucket, as
dagster-pipes' ``PipesS3MessageWriter`` uploads them, and a log object the external process
uploads as it grows.

``client`` is a boto3 S3 client (``boto3.client("s3")``), passed in: pipes_fast does not import
boto3. An object that does not exist reads as "not there yet"; so does ``AccessDenied``, which is
what S3 answers for a missing key when the client may not list the bucket.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO, Any, Optional

from pipes_fast._logic.s3 import error_code, random_key_prefix, s3_url
from pipes_fast.errors import PipesError
from pipes_fast.protocol import PipesParams
from pipes_fast.readers.blob import CLOSE_TIMEOUT_SECONDS, PipesBlobStoreMessageReader, chunk_index
from pipes_fast.readers.logs import PipesChunkedLogReader, PipesLogReader

_MISSING = frozenset({"NoSuchKey", "404", "NotFound", "AccessDenied", "403"})
"""Error codes meaning the object is not (yet) there for this client (``"404"``, ``"403"``: a HEAD's)."""
_NOTHING_NEW = _MISSING | {"InvalidRange"}
"""For a ranged GET of a log, also: no byte past the range's start yet (HTTP 416)."""


def _read_body(response: Mapping[str, Any]) -> bytes:
    """The bytes of a ``get_object`` response; the connection goes back to the pool."""
    body = response["Body"]
    try:
        data: bytes = body.read()
    finally:
        body.close()
    return data


class PipesS3MessageReader(PipesBlobStoreMessageReader):
    """Reads message chunks that the external process uploads to ``bucket`` under a random key
    prefix (params ``{"bucket", "key_prefix", "include_stdio_in_messages"}``, as dagster-aws's).

    ``include_stdio_in_messages`` asks the writer to send the process's stdout and stderr as
    messages too. A chunk S3 will never serve (an archived object) is skipped with a warning; any
    other error is retried at the next poll, and at close within ``close_timeout`` (see
    :class:`PipesBlobStoreMessageReader`). At close, the chunks under the prefix are listed to
    find the writer's last one past a gap (a client that may not list the bucket looks a few ahead).
    """

    def __init__(
        self,
        *,
        bucket: str,
        client: Any,
        interval: float = 10,
        log_readers: Optional[Sequence[PipesLogReader]] = None,
        include_stdio_in_messages: bool = False,
        close_timeout: float = CLOSE_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(interval=interval, log_readers=log_readers, close_timeout=close_timeout)
        self.bucket = bucket
        self.client = client
        self.include_stdio_in_messages = include_stdio_in_messages

    @contextmanager
    def get_params(self) -> Iterator[PipesParams]:
        yield {
            "bucket": self.bucket,
            "key_prefix": random_key_prefix(),
            "include_stdio_in_messages": self.include_stdio_in_messages,
        }

    def download_messages_chunk(self, index: int, params: PipesParams) -> Optional[bytes]:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._chunk_key(index, params))
        except Exception as exc:
            code = error_code(exc)
            if code in _MISSING:
                return None
            if code == "InvalidObjectState":
                raise PipesError("the object is archived and must be restored before it can be read") from None
            raise
        return _read_body(response)

    def list_chunks(self, params: PipesParams) -> Optional[list[int]]:
        prefix = f"{params['key_prefix']}/"
        indices: list[int] = []
        token: dict[str, str] = {}
        while True:
            try:
                page = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix, **token)
            except Exception as exc:
                if error_code(exc) in _MISSING:  # may not list: look ahead instead
                    return None
                raise
            for item in page.get("Contents", ()):
                index = chunk_index(item["Key"][len(prefix) :])
                if index is not None:
                    indices.append(index)
            if not page.get("IsTruncated"):
                return indices
            token = {"ContinuationToken": page["NextContinuationToken"]}

    def chunk_name(self, index: int, params: PipesParams) -> str:
        return s3_url(self.bucket, self._chunk_key(index, params))

    def no_messages_debug_text(self) -> str:
        return (
            f"Attempted to read messages from S3 bucket {self.bucket} (keys PREFIX/1.json, PREFIX/2.json, ...)."
            " Expected PipesS3MessageWriter to be passed to open_dagster_pipes in the external process,"
            " and both sides to have access to the bucket."
        )

    @staticmethod
    def _chunk_key(index: int, params: PipesParams) -> str:
        return f"{params['key_prefix']}/{index}.json"


class PipesS3LogReader(PipesChunkedLogReader):
    """Copies the text of the object ``key`` in ``bucket`` to ``target_stream`` as it grows.

    Each poll fetches only the bytes past those already read (a ranged GET), and UTF-8 is
    decoded incrementally, so a character split between two polls comes out whole. The object is
    expected to grow only (as an appended log is re-uploaded).
    """

    def __init__(
        self,
        *,
        bucket: str,
        key: str,
        client: Any,
        interval: float = 10,
        target_stream: Optional[IO[str]] = None,
        debug_info: Optional[str] = None,
    ) -> None:
        super().__init__(interval=interval, target_stream=target_stream, debug_info=debug_info)
        self.bucket = bucket
        self.key = key
        self.client = client
        self.log_position = 0
        """How many bytes of the object have been read."""
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    @property
    def name(self) -> str:
        return f"PipesS3LogReader({s3_url(self.bucket, self.key)})"

    def target_is_readable(self, params: PipesParams) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key)
        except Exception:  # missing, or the store unreachable for now: not readable yet
            return False
        return True

    def download_log_chunk(self, params: PipesParams) -> Optional[str]:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.key, Range=f"bytes={self.log_position}-")
        except Exception as exc:
            if error_code(exc) in _NOTHING_NEW:
                return None
            raise
        data = _read_body(response)
        if "ContentRange" not in response:  # a store that ignores ranges sent the whole object
            data = data[self.log_position :]
        self.log_position += len(data)
        return self._decoder.decode(data) or None

    def finish_log(self) -> Optional[str]:
        """The bytes of a character the log ended in the middle of, as a replacement character."""
        return self._decoder.decode(b"", final=True) or None
