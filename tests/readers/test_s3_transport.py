"""The S3 transport against a real S3 server (moto over HTTP, see ``support/s3_server.py``).

dagster-pipes' own ``PipesS3ContextLoader`` and ``PipesS3MessageWriter`` run in a subprocess under
pipes_fast's S3 injector and reader; other tests play the writer themselves, uploading chunks the
way a writer would (``PREFIX/N.json``, one JSON message per line).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import threading
from collections.abc import Collection
from io import StringIO
from typing import Any, Optional

import pytest
import zstandard
from support import SCRIPTS
from support.helpers import (
    DAGSTER_CLIENTS,
    capturing_logger,
    chunk,
    closed,
    custom,
    materialization,
    materialize_in_dagster,
    opened,
)
from support.orchestrators import Observation, pipes_fast_run, run_with_transport, scenario_id
from support.s3_server import S3Bucket
from support.scenarios import SCENARIOS_BY_ID, Scenario
from support.scripts import payloads
from support.waits import WOKEN, recording_waits

from pipes_fast import (
    PipesEnvContextInjector,
    PipesS3ContextInjector,
    PipesS3LogReader,
    PipesS3MessageReader,
    StepContext,
    _hotpath,
    open_pipes_session,
)
from pipes_fast.readers import blob

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # botocore's utcnow()
]

KEY_PREFIX = re.compile(r"[A-Za-z]{30}")


def on_s3(scenario: Scenario) -> Scenario:
    """The scenario run by the interop script over S3 (its writer's interval: 0.1 s)."""
    return dataclasses.replace(scenario, program=SCRIPTS / "s3_script.py", arguments=("--interval", "0.1"))


# ----- interop with dagster-pipes' S3 loader and writer -----


@pytest.mark.parametrize(
    "scenario",
    [SCENARIOS_BY_ID["assets"], SCENARIOS_BY_ID["stdio"]],
    ids=scenario_id,
)
def test_a_dagster_pipes_script_over_s3_delivers_what_it_does_over_a_file(
    scenario: Scenario,
    s3_bucket: S3Bucket,
    capfd: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Materializations, checks, custom messages, logs, streams (and, with
    include_stdio_in_messages, the script's prints) arrive as through a message file; the context
    object is deleted after the run and the chunks have dagster-aws's keys."""
    injector = PipesS3ContextInjector(bucket=s3_bucket.name, client=s3_bucket.client)
    reader = PipesS3MessageReader(
        bucket=s3_bucket.name, client=s3_bucket.client, interval=0.2, include_stdio_in_messages=scenario.include_stdio
    )
    over_s3 = run_with_transport(on_s3(scenario), injector, reader, capfd)
    over_file = pipes_fast_run(
        scenario, ("tempfile", "tempfile"), _hotpath.implementation.__name__, capfd, tmp_path_factory
    )

    assert not over_s3.failed, (over_s3.error, over_s3.captured)
    assert over_s3.context == scenario.expected_context()
    assert (over_s3.seen_run_id, over_s3.seen_job_name) == (over_s3.run_id, over_s3.job_name)
    assert comparable(over_s3, scenario) == comparable(over_file, scenario)
    if scenario.include_stdio:
        assert set(payloads.STDIO_LINES["stdout"]) <= set(over_s3.stdout)
    keys = s3_bucket.keys()
    prefixes = {key.split("/")[0] for key in keys}
    assert len(prefixes) == 1 and KEY_PREFIX.fullmatch(prefixes.pop()), keys  # the context key is gone
    assert [key.split("/")[1] for key in keys] == sorted(f"{n}.json" for n in range(1, len(keys) + 1))


def comparable(obs: Observation, scenario: Scenario) -> dict[str, Any]:
    """What must not depend on the transport (printed lines: as a multiset, their interleaving varies)."""
    aspects = ("failed", "materializations", "checks", "custom_messages", "logs", "error_logs", "stdout", "stderr")
    view = {aspect: getattr(obs, aspect) for aspect in aspects}
    if scenario.include_stdio:
        view["stdout"], view["stderr"] = sorted(obs.stdout), sorted(obs.stderr)
    return view


def test_the_session_closes_without_waiting_for_the_interval(s3_bucket: S3Bucket) -> None:
    """The reader polls every 10 s, waiting on an event; once the process has exited, closing sets
    it: the wait in progress ends woken, not run out, and the final sweep reads the rest."""
    log, records = capturing_logger("s3-prompt-close")
    injector = PipesS3ContextInjector(bucket=s3_bucket.name, client=s3_bucket.client)
    reader = PipesS3MessageReader(bucket=s3_bucket.name, client=s3_bucket.client, interval=10)
    with recording_waits(blob) as waits, open_pipes_session(StepContext(log=log), injector, reader) as session:
        env = {**os.environ, **session.get_bootstrap_env_vars()}
        subprocess.run(on_s3(SCENARIOS_BY_ID["op_retry"]).command(), env=env, check=True, capture_output=True)
        waits.mark("closing")
    assert waits.ended_after("closing") == [WOKEN]
    assert session.message_handler.received_closed_message
    assert list(session.get_custom_messages()[1:]) == payloads.CUSTOM_PAYLOADS
    assert [w for w in records.messages(30) if not w.startswith(payloads.LOG_MARKER)] == []


# ----- the context injector -----


@pytest.mark.parametrize("key_prefix", [None, "runs/"])
def test_the_context_object_has_dagster_aws_keys_and_is_deleted_even_on_error(
    s3_bucket: S3Bucket, key_prefix: Optional[str]
) -> None:
    injector = PipesS3ContextInjector(bucket=s3_bucket.name, client=s3_bucket.client, key_prefix=key_prefix)
    context_data: Any = {"run_id": "r1", "extras": {"n": 1}}
    with pytest.raises(RuntimeError, match="the step failed"):
        with injector.inject_context(context_data) as params:
            assert params == {"bucket": s3_bucket.name, "key": s3_bucket.keys()[0]}
            assert re.fullmatch(rf"{key_prefix or ''}[A-Za-z]{{30}}/context\.json", params["key"])
            stored = s3_bucket.client.get_object(Bucket=s3_bucket.name, Key=params["key"])["Body"].read()
            assert json.loads(stored) == context_data
            raise RuntimeError("the step failed")
    assert s3_bucket.keys() == []


# ----- the message reader, with chunks the test uploads -----


class S3Run:
    """A session over an S3 reader whose chunks the test uploads; what came back."""

    def __init__(self, bucket: S3Bucket, *, log_readers: Optional[list[Any]] = None) -> None:
        self.bucket = bucket
        self.log, self.records = capturing_logger(bucket.name)
        # the reader polls once at the start, then only at the sweep after the session closed
        self.reader = PipesS3MessageReader(
            bucket=bucket.name, client=bucket.client, interval=10, log_readers=log_readers
        )
        self.key_prefix = ""

    @property
    def warnings(self) -> list[str]:
        return self.records.messages(30)

    def url(self, index: int) -> str:
        return f"s3://{self.bucket.name}/{self.key_prefix}/{index}.json"

    def session(self, *chunks: Optional[bytes], archived: Collection[int] = ()) -> Any:
        """Open a session, upload ``chunks`` as PREFIX/1.json, PREFIX/2.json, ... (None leaves a
        gap; those numbered in ``archived`` go to the GLACIER storage class), close; the session."""
        with open_pipes_session(
            StepContext(["orders"], log=self.log), PipesEnvContextInjector(), self.reader
        ) as session:
            self.key_prefix = session.message_reader_params["key_prefix"]
            for index, content in enumerate(chunks, start=1):
                if content is not None:
                    storage = {"StorageClass": "GLACIER"} if index in archived else {}
                    self.bucket.client.put_object(
                        Bucket=self.bucket.name, Key=f"{self.key_prefix}/{index}.json", Body=content, **storage
                    )
        return session


def test_the_params_are_those_of_dagster_aws(s3_bucket: S3Bucket) -> None:
    run = S3Run(s3_bucket)
    session = run.session(chunk(opened(), closed()))
    params = session.message_reader_params
    assert params == {
        "bucket": s3_bucket.name,
        "key_prefix": params["key_prefix"],
        "include_stdio_in_messages": False,
        "accept_compression": ["zstd"],
    }
    assert KEY_PREFIX.fullmatch(params["key_prefix"])


@pytest.mark.reliability("blob-chunks")
def test_bad_chunks_are_reported_by_key_and_the_stream_goes_on(s3_bucket: S3Bucket) -> None:
    """Chunk 1 missing, then an empty chunk, a truncated last line, a chunk that is not JSON, a
    zstd frame and an archived object: each bad one is reported with its key, the rest delivered."""
    run = S3Run(s3_bucket)
    session = run.session(
        None,
        chunk(opened(), materialization("orders", data_version="v1")),
        b"",
        chunk(custom(3), closed()[:25]),
        b"this is not json\x00\xff",
        zstandard.ZstdCompressor().compress(chunk(custom(6))),
        chunk(custom("archived")),
        chunk(custom(8), closed()),
        archived={7},
    )
    assert session.get_custom_messages() == (3, 6, 8)
    (result,) = session.get_results()
    assert result.data_version == "v1"
    assert session.message_handler.received_closed_message
    warnings = "\n".join(run.warnings)
    assert f"the writer never uploaded {run.url(1)}: reading on from {run.url(2)}" in warnings
    assert f"{run.url(3)} is empty" in warnings
    assert f"line of {run.url(4)} line 2:" in warnings
    assert f"line of {run.url(5)} line 1:" in warnings
    assert f"skipped {run.url(7)}: the object is archived" in warnings
    assert run.url(6) not in warnings and run.url(8) not in warnings


# ----- the log reader -----


class RecordingClient:
    """A real client that records the ``Range`` of every GET of the object and the bytes it returned."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.gets: list[tuple[Optional[str], Optional[int]]] = []

    def get_object(self, **kwargs: Any) -> Any:
        try:
            response = self._client.get_object(**kwargs)
        except Exception:
            self.gets.append((kwargs.get("Range"), None))
            raise
        self.gets.append((kwargs.get("Range"), response["ContentLength"]))
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_the_log_reader_fetches_only_new_bytes_and_keeps_characters_whole(s3_bucket: S3Bucket) -> None:
    text = "first line ✓\nsecond: ünïcødé 🚀\n"
    data = text.encode()
    # each upload of the growing log ends inside a multi-byte character, but the last
    cuts = [data.index("✓".encode()) + 1, data.index("🚀".encode()) + 3, len(data)]
    client = RecordingClient(s3_bucket.client)
    reader = PipesS3LogReader(bucket=s3_bucket.name, key="logs/stdout", client=client)
    assert not reader.target_is_readable({})
    assert reader.download_log_chunk({}) is None  # not there yet
    pieces = []
    for cut in cuts:
        s3_bucket.put("logs/stdout", data[:cut])
        assert reader.target_is_readable({})
        pieces.append(reader.download_log_chunk({}))
    assert reader.download_log_chunk({}) is None  # nothing new
    assert pieces == ["first line ", "✓\nsecond: ünïcødé ", "🚀\n"]
    starts = [0, 0, *cuts]
    assert [rng for rng, _ in client.gets] == [f"bytes={start}-" for start in starts]
    assert sum(size or 0 for _, size in client.gets) == len(data)  # no byte fetched twice


def test_a_log_ending_inside_a_character_ends_with_a_replacement_character(s3_bucket: S3Bucket) -> None:
    """The bytes of a character cut short are not dropped at the last read: they come out as U+FFFD."""
    target = StringIO()
    s3_bucket.put("logs/stderr", "done ✓".encode()[:-1])
    reader = PipesS3LogReader(bucket=s3_bucket.name, key="logs/stderr", client=s3_bucket.client, target_stream=target)
    reader.start({}, threading.Event())
    reader.stop()
    assert target.getvalue() == "done \ufffd"


def test_log_readers_start_when_opened_and_are_drained_at_close(s3_bucket: S3Bucket) -> None:
    target = StringIO()
    log_reader = PipesS3LogReader(
        bucket=s3_bucket.name, key="logs/stderr", client=s3_bucket.client, interval=10, target_stream=target
    )
    s3_bucket.put("logs/stderr", "warming up ⚠\nlast words\n")
    run = S3Run(s3_bucket, log_readers=[log_reader])
    run.session(chunk(opened(), custom(1), closed()))
    assert target.getvalue() == "warming up ⚠\nlast words\n"
    assert not log_reader.is_running()
    assert log_reader.name == f"PipesS3LogReader(s3://{s3_bucket.name}/logs/stderr)"
    assert run.warnings == []


DAGSTER_PIPES_S3_SCRIPT = """
import boto3
from dagster_pipes import PipesS3ContextLoader, PipesS3MessageWriter, open_dagster_pipes

client = boto3.client("s3")
with open_dagster_pipes(context_loader=PipesS3ContextLoader(client), message_writer=PipesS3MessageWriter(client, interval=0.1)) as pipes:
    pipes.report_asset_materialization(metadata={"rows": 7}, data_version="s3")
"""


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::dagster.PreviewWarning")
@pytest.mark.parametrize("orchestrator", DAGSTER_CLIENTS)
def test_in_dagster_the_s3_reader_and_injector_serve_either_client(s3_bucket: S3Bucket, orchestrator: str) -> None:
    import dagster

    import pipes_fast.dagster

    materialization = materialize_in_dagster(
        orchestrator,
        DAGSTER_PIPES_S3_SCRIPT,
        context_injector=pipes_fast.dagster.PipesS3ContextInjector(bucket=s3_bucket.name, client=s3_bucket.client),
        message_reader=pipes_fast.dagster.PipesS3MessageReader(
            bucket=s3_bucket.name, client=s3_bucket.client, interval=0.2
        ),
    )
    assert materialization.metadata == {"rows": dagster.MetadataValue.int(7)}
    assert materialization.tags["dagster/data_version"] == "s3"
