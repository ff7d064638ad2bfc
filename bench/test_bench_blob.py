"""Smoke and benchmark suites of the blob-store transport (issue 9): the directory reader on
plain and zstd chunks (``chunk_sizes``), and the S3 close of each client (``goal_blob_close``).

    pytest bench/test_bench_blob.py --benchmark-group-by=group

Under ``--benchmark-disable`` (CI) a few hundred messages check that every side delivers them all;
the dagster-aws side is skipped where dagster-aws is not installed (it is in the ``bench`` extra).
The close latency itself is measured by ``python bench/goals.py``, not here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chunk_sizes import KINDS, read_chunks, write_chunks
from dagster_baseline import DAGSTER_WARNINGS, dagster_asset_context
from goal_blob_close import DAGSTER_AWS, DAGSTER_AWS_MISSING, Side, dagster_aws_pipes, dagster_sides, pipes_fast_side
from streams import ASSET_KEYS
from support.s3_server import S3Bucket, new_bucket, s3_client, s3_server  # tests/ is on the path since goal_blob_close
from timing import BENCH_ROUNDS, bench_count

import pipes_fast

pytestmark = [*DAGSTER_WARNINGS, pytest.mark.filterwarnings("ignore::DeprecationWarning")]  # botocore's utcnow()

CHUNK_STREAM = 100_000
"""Messages of the chunk-reading workload (as ``chunk_sizes.py``), before ``bench_count``."""
SMOKE_INTERVAL = 0.2
"""The S3 reader's and writer's interval in the smoke runs, seconds."""


@pytest.mark.parametrize("kind", list(KINDS))
def test_directory_reader_reads_chunks(benchmark: Any, tmp_path: Path, kind: str) -> None:
    count = bench_count(benchmark, CHUNK_STREAM)
    benchmark.group = f"directory reader, {count:,} custom messages in chunks"
    write_chunks(tmp_path, count, interval=10, zstd=KINDS[kind])
    benchmark.pedantic(read_chunks, args=(tmp_path, count), rounds=BENCH_ROUNDS, iterations=1)


@pytest.fixture(scope="module")
def bucket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Bucket]:
    with s3_server(tmp_path_factory.mktemp("s3-server")) as endpoint:
        yield new_bucket(s3_client(endpoint))


@pytest.fixture(scope="module")
def sides() -> Iterator[dict[str, Side]]:
    """Every side of the close goal by name (dagster-aws's where it is installed)."""
    with dagster_asset_context(ASSET_KEYS) as context:
        every = [*dagster_sides(context, dagster_aws_pipes()), pipes_fast_side(pipes_fast.StepContext())]
        yield {side.name: side for side in every}


@pytest.mark.parametrize("name", [DAGSTER_AWS, "pipes_fast.dagster", "pipes_fast"])
def test_s3_client_delivers_and_closes(sides: dict[str, Side], bucket: S3Bucket, tmp_path: Path, name: str) -> None:
    if name not in sides:
        pytest.skip(DAGSTER_AWS_MISSING)
    seconds = sides[name].close_seconds(bucket, tmp_path / "exited", interval=SMOKE_INTERVAL, count=3)
    assert seconds >= 0  # the child stamped its exit before run returned
