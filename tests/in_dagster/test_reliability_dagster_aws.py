"""What dagster-aws 0.29 does with one S3 message reader shared by sessions running at the same
time (a resource used by several assets), for docs/RELIABILITY.md; pipes_fast's side of the case is
tests/readers/test_blob_store_faults.py."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import dagster
import pytest
from support import SCRIPTS
from support.s3_server import S3Bucket

dagster_aws_pipes = pytest.importorskip("dagster_aws.pipes")

pytestmark = [
    pytest.mark.reference,  # dagster-aws's behaviour, not pipes_fast's
    pytest.mark.timeout(120),
    pytest.mark.filterwarnings(
        "ignore::dagster.PreviewWarning",
        "ignore::DeprecationWarning",
        "ignore::pytest.PytestUnhandledThreadExceptionWarning",
    ),
]

WRITER = str(SCRIPTS / "blob_writer.py")
SESSIONS, COUNT = 4, 100


@pytest.mark.reliability("chunk-locations")
def test_dagster_aws_shares_one_readers_chunks_among_concurrent_sessions(
    s3_bucket: S3Bucket, observe: Callable[[str], None]
) -> None:
    """4 Dagster Pipes sessions at once through one dagster-aws PipesS3MessageReader, each child
    reporting 100 messages tagged with its number through dagster-pipes' S3 writer."""
    reader = dagster_aws_pipes.PipesS3MessageReader(bucket=s3_bucket.name, client=s3_bucket.client, interval=1)
    injector = dagster_aws_pipes.PipesS3ContextInjector(bucket=s3_bucket.name, client=s3_bucket.client)
    delivered: list[list[Any]] = [[] for _ in range(SESSIONS)]
    barrier = threading.Barrier(SESSIONS)

    errors: list[BaseException] = []

    def one(number: int) -> None:
        try:
            run_one(number)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def run_one(number: int) -> None:
        @dagster.asset(name=f"shared_reader_{number}")
        def asset(context):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN202 - Dagster reads the annotation
            barrier.wait(30)
            with dagster.open_pipes_session(
                context=context, context_injector=injector, message_reader=reader
            ) as session:
                script = (
                    f"import sys; sys.argv = ['', 'dagster_pipes', 's3', '{COUNT}', '0.05', '{number}']\n"
                    f"exec(open({WRITER!r}).read())"
                )
                subprocess.run(
                    [sys.executable, "-c", script],
                    env={**os.environ, **session.get_bootstrap_env_vars()},
                    capture_output=True,
                    timeout=60,
                    check=True,
                )
            delivered[number] = [len(m["pad"]) for m in session.get_custom_messages()]

        dagster.materialize([asset], raise_on_error=False)

    threads = [threading.Thread(target=one, args=(number,)) for number in range(SESSIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(100)
    assert errors == []
    own = [sum(1 for tag in got if tag == number) for number, got in enumerate(delivered)]
    foreign = [len(got) - mine for got, mine in zip(delivered, own)]
    assert all(0 <= mine <= COUNT for mine in own)
    exact = own == [COUNT] * SESSIONS and not any(foreign)
    observe(
        f"{SESSIONS} sessions at once through one reader, {COUNT} messages each: each session received "
        f"{', '.join(map(str, own))} of its own and {', '.join(map(str, foreign))} of the others' messages"
        + (
            " (this time exactly; how much is lost depends on how the sessions overlap: the reader's one counter"
            " and one thread serve whichever session opened last)"
            if exact
            else " (the reader's one counter and one thread serve whichever session opened last; how much is lost"
            " depends on how the sessions overlap)"
        )
    )
