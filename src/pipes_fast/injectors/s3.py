"""The S3 context injector: the context as an object in a bucket, for dagster-pipes'
``PipesS3ContextLoader`` (``client`` is a boto3 S3 client, passed in)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Optional

from pipes_fast._logic.s3 import random_key_prefix, s3_url
from pipes_fast.injectors import PipesContextInjector, context_json
from pipes_fast.protocol import PipesContextData, PipesParams

CONTEXT_FILENAME = "context.json"


class PipesS3ContextInjector(PipesContextInjector):
    """Puts the context data at ``{key_prefix}{random letters}/context.json`` in ``bucket``
    (params ``{"bucket", "key"}``, as dagster-aws's) and deletes it when the session closes,
    however it closes."""

    def __init__(self, *, bucket: str, client: Any, key_prefix: Optional[str] = None) -> None:
        self.bucket = bucket
        self.client = client
        self.key_prefix = key_prefix

    @contextmanager
    def inject_context(self, context_data: PipesContextData) -> Iterator[PipesParams]:
        payload = context_json(context_data)
        key = f"{self.key_prefix or ''}{random_key_prefix()}/{CONTEXT_FILENAME}"
        self.client.put_object(Body=payload, Bucket=self.bucket, Key=key)
        try:
            yield {"bucket": self.bucket, "key": key}
        finally:
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def no_messages_debug_text(self) -> str:
        where = s3_url(self.bucket, f"{self.key_prefix or ''}.../{CONTEXT_FILENAME}")
        return (
            f"Attempted to inject context via an object in S3 ({where}). Expected PipesS3ContextLoader"
            " to be passed to open_dagster_pipes in the external process."
        )
