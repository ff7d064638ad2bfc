"""``--message-reader s3://BUCKET[/PREFIX]``: the S3 reader (imported only when it is named)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pipes_fast.protocol import PipesParams
from pipes_fast.readers.base import PipesMessageReader
from pipes_fast.readers.s3 import PipesS3MessageReader


class _PrefixedS3MessageReader(PipesS3MessageReader):
    """The S3 reader with its random per-run key prefix under ``prefix``."""

    def __init__(self, prefix: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prefix = prefix

    @contextmanager
    def get_params(self) -> Iterator[PipesParams]:
        with super().get_params() as params:
            yield {**params, "key_prefix": f"{self.prefix}/{params['key_prefix']}"}


def s3_reader(value: str, interval: float) -> PipesMessageReader:
    """The reader ``value`` (``s3://BUCKET[/PREFIX]``) names, looking for chunks every ``interval``
    seconds; an ``argparse.ArgumentTypeError`` without a bucket or without boto3."""
    bucket, _, prefix = value[5:].partition("/")
    prefix = prefix.strip("/")
    if not bucket:
        raise argparse.ArgumentTypeError(f"no bucket in {value!r}: expected s3://BUCKET[/PREFIX]")
    try:
        import boto3  # type: ignore[import-untyped]  # optional: the s3 extra
    except ImportError:
        raise argparse.ArgumentTypeError(
            f"{value!r} needs boto3, which is not installed: python -m pip install boto3"
        ) from None
    client = boto3.client("s3")
    if prefix:
        return _PrefixedS3MessageReader(prefix, bucket=bucket, client=client, interval=interval)
    return PipesS3MessageReader(bucket=bucket, client=client, interval=interval)
