"""S3: the message writer that uploads chunks as ``PREFIX/1.json``, ``PREFIX/2.json``, ... and the
context loader that reads the context from an object, as dagster-pipes' S3 classes do.

``client`` is a ``boto3.client("s3")``; this module never imports boto3 itself.
"""

from __future__ import annotations

from pipes_fast.external.blob import (
    CLOSE_TIMEOUT_SECONDS,
    PipesBlobStoreMessageWriter,
    PipesBlobStoreMessageWriterChannel,
)
from pipes_fast.external.loaders import LoadedContext, PipesContextLoader
from pipes_fast.external.validation import param_of_type

TYPE_CHECKING = False  # typing stays unimported at run time: see pipes_fast.external
if TYPE_CHECKING:
    from typing import IO, Any, ContextManager

    from pipes_fast.protocol import PipesContextData, PipesParams


class PipesS3MessageWriter(PipesBlobStoreMessageWriter["PipesS3MessageWriterChannel"]):
    """Uploads message chunks to the bucket and key prefix the params name
    (``{"bucket": B, "key_prefix": P}``) every ``interval`` seconds."""

    def __init__(self, client: Any, *, interval: float = 10, close_timeout: float = CLOSE_TIMEOUT_SECONDS) -> None:
        super().__init__(interval=interval, close_timeout=close_timeout)
        self._client = client

    def make_channel(self, params: PipesParams) -> PipesS3MessageWriterChannel:
        key_prefix = params.get("key_prefix")
        if key_prefix is not None:
            key_prefix = param_of_type(params, "key_prefix", str, self)
        return PipesS3MessageWriterChannel(
            client=self._client,
            bucket=param_of_type(params, "bucket", str, self),
            key_prefix=key_prefix,
            interval=self.interval,
            close_timeout=self.close_timeout,
        )


class PipesS3MessageWriterChannel(PipesBlobStoreMessageWriterChannel):
    """Uploads chunk N as the object ``key_prefix/N.json`` (``N.json`` without a prefix) in ``bucket``."""

    compressible = True

    def __init__(
        self,
        client: Any,
        bucket: str,
        key_prefix: str | None,
        *,
        interval: float = 10,
        close_timeout: float = CLOSE_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(interval=interval, close_timeout=close_timeout)
        self._client = client
        self._bucket = bucket
        self._key_prefix = key_prefix

    def upload_messages_chunk(self, payload: IO, index: int) -> None:  # type: ignore[type-arg]
        key = f"{self._key_prefix}/{index}.json" if self._key_prefix else f"{index}.json"
        self._client.put_object(Body=payload.read(), Bucket=self._bucket, Key=key)


class PipesS3ContextLoader(PipesContextLoader):
    """Loads the context from the JSON object the params name (``{"bucket": B, "key": K}``)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def load_context(self, params: PipesParams) -> ContextManager[PipesContextData]:
        import json

        bucket = param_of_type(params, "bucket", str, self)
        key = param_of_type(params, "key", str, self)
        body = self._client.get_object(Bucket=bucket, Key=key)["Body"]
        try:
            return LoadedContext(json.loads(body.read().decode("utf-8")))
        finally:
            body.close()
