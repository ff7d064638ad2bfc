"""pipes_fast.external's blob-store writers: real scripts under pipes_fast's orchestrator
(``PipesDirectoryMessageReader``; ``PipesS3MessageReader`` on the moto test server) deliver
everything in order, zstd-compressed when the reader accepts it and plain when not, like the same
scripts on dagster-pipes' writers; chunks appear whole; failed uploads are retried; closing is
prompt; the classes take dagster-pipes' parameters.

Scripts run on the hot-path implementation in use (``PIPES_FAST_NO_EXTENSIONS=1`` for the pure one).
"""

from __future__ import annotations

import inspect
import json
import math
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO, Any

import dagster_pipes
import pytest
import zstandard
from support import SCRIPTS
from support.files import bootstrap_env, context_data, payloads
from support.helpers import wait_for
from support.s3_server import S3Bucket
from support.waits import WOKEN, recording_waits

import pipes_fast.external as ours
from pipes_fast import (
    PipesDirectoryMessageReader,
    PipesS3ContextInjector,
    PipesS3MessageReader,
    PipesSubprocessClient,
    StepContext,
)
from pipes_fast.external import blob
from pipes_fast.protocol import PipesParams

pytestmark = pytest.mark.timeout(120)

SCRIPT = str(SCRIPTS / "blob_writer.py")
LIBRARIES = ("pipes_fast.external", "dagster_pipes")
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@contextmanager
def without_zstd(params: AbstractContextManager[PipesParams]) -> Iterator[PipesParams]:
    """A reader's params without ``accept_compression``, as an older reader gives them."""
    with params as given:
        yield {key: value for key, value in given.items() if key != "accept_compression"}


class PlainReader(PipesDirectoryMessageReader):
    def read_messages(self, handler: Any) -> Any:
        return without_zstd(super().read_messages(handler))


class PlainS3Reader(PipesS3MessageReader):
    def read_messages(self, handler: Any) -> Any:
        return without_zstd(super().read_messages(handler))


def run(folder: Path, library: str, count: int, *, interval: float = 0.05, zstd: bool = True, pad: int = 0) -> Any:
    """Run the script under pipes_fast's client, its chunks kept in ``folder``; the invocation."""
    reader_class = PipesDirectoryMessageReader if zstd else PlainReader
    client = PipesSubprocessClient(message_reader=reader_class(str(folder), interval=0.05), forward_stdio=False)
    command = [sys.executable, SCRIPT, library, "directory", str(count), str(interval), str(pad)]
    return client.run(context=StepContext(["orders"]), command=command)


def chunk_folder(folder: Path) -> Path:
    """Where the chunks are: the session's sub-directory that a directory reader given ``folder``
    made there, or ``folder`` itself where a test gave it to a writer directly."""
    made = [p for p in folder.iterdir() if p.is_dir() and p.name.startswith("pipes-")]
    assert len(made) <= 1, made
    return made[0] if made else folder


def chunks(folder: Path) -> list[bytes]:
    """The chunk files, in order: 1.json, 2.json, ..."""
    folder = chunk_folder(folder)
    names = sorted((p for p in folder.iterdir() if p.suffix == ".json"), key=lambda p: int(p.stem))
    assert [int(p.stem) for p in names] == list(range(1, len(names) + 1))
    return [p.read_bytes() for p in names]


def chunk_text(data: bytes) -> bytes:
    return zstandard.ZstdDecompressor().stream_reader(data).read() if data.startswith(ZSTD_MAGIC) else data


def chunk_messages(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for data in chunks(folder) for line in chunk_text(data).split(b"\n")]


def delivered(invocation: Any) -> tuple[Any, ...]:
    (result,) = invocation.get_results()
    return (
        invocation.get_custom_messages(),
        result.asset_key.to_user_string(),
        result.data_version,
        {name: value.value for name, value in result.metadata.items()},
    )


def expected(count: int, pad: int = 0) -> tuple[Any, ...]:
    return tuple({"i": i, "pad": "x" * pad} for i in range(count)), "orders", "v1", {"count": count}


# ----- delivery -----


@pytest.mark.parametrize("zstd", [True, False], ids=["zstd", "plain"])
def test_a_script_is_delivered_whole_and_in_order(tmp_path: Path, zstd: bool) -> None:
    invocation = run(tmp_path, "pipes_fast.external", 20_000, interval=0.02, zstd=zstd)
    assert delivered(invocation) == expected(20_000)
    written = chunks(tmp_path)
    assert len(written) > 1, "several chunks were uploaded while the script ran"
    assert all(data.startswith(ZSTD_MAGIC) == zstd for data in written)
    assert not [p for p in chunk_folder(tmp_path).iterdir() if p.suffix != ".json"], "no temporary file is left behind"
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in chunk_folder(tmp_path).iterdir())


def test_plain_chunks_are_written_as_dagster_pipes_writes_them(tmp_path: Path) -> None:
    """Lines joined by newlines, none at the end; each line the message's JSON."""
    for library, folder in (("pipes_fast.external", "ours"), ("dagster_pipes", "theirs")):
        (tmp_path / folder).mkdir()
        run(tmp_path / folder, library, 50, zstd=False)
    ours_chunks, theirs_chunks = chunks(tmp_path / "ours"), chunks(tmp_path / "theirs")
    assert not any(data.endswith(b"\n") for data in ours_chunks + theirs_chunks)
    assert chunk_messages(tmp_path / "ours") == chunk_messages(tmp_path / "theirs")


@pytest.mark.parametrize("library", LIBRARIES)
def test_dagster_pipes_writers_and_ours_deliver_the_same(tmp_path: Path, library: str) -> None:
    """The same script, the import swapped: the same results, messages and order (dagster-pipes'
    writer ignores ``accept_compression`` and writes plain chunks)."""
    invocation = run(tmp_path, library, 3_000, interval=0.5, pad=10)
    assert delivered(invocation) == expected(3_000, pad=10)
    assert all(data.startswith(ZSTD_MAGIC) == (library == "pipes_fast.external") for data in chunks(tmp_path))


def test_stdio_is_included_in_the_messages_when_asked(tmp_path: Path) -> None:
    messages = {"path": str(tmp_path), "include_stdio_in_messages": True, "accept_compression": ["zstd"]}
    env = {**os.environ, **bootstrap_env(context_data(), messages)}
    command = [sys.executable, SCRIPT, "pipes_fast.external", "directory", "3", "0.05"]
    process = subprocess.run(command, env=env, capture_output=True, timeout=60, check=True)
    assert process.stdout == b"printed by the script\n"
    written = chunk_messages(tmp_path)
    # the capture reads what the pipe holds: the text may come in more than one piece
    assert "".join(p["text"] for p in payloads(written, "log_external_stream")) == "printed by the script\n"
    assert (written[0]["method"], written[-1]["method"]) == ("opened", "closed")
    assert payloads(written, "report_custom_message", "payload") == [{"i": i, "pad": ""} for i in range(3)]


# ----- the channel itself -----


class Store(blob.PipesBlobStoreMessageWriterChannel):
    """A channel uploading into a dict; ``failures`` uploads fail first."""

    compressible = True

    def __init__(self, failures: int = 0, *, interval: float = 0.01, close_timeout: float = 60) -> None:
        super().__init__(interval=interval, close_timeout=close_timeout)
        self.chunks: dict[int, Any] = {}
        self.failures = failures

    def upload_messages_chunk(self, payload: IO[Any], index: int) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("the store is down")
        self.chunks[index] = payload.read()

    def messages(self) -> list[Any]:
        text = b"\n".join(chunk_text(c) if isinstance(c, bytes) else c.encode() for _, c in sorted(self.chunks.items()))
        return [json.loads(line)["params"]["payload"] for line in text.split(b"\n")]


def custom(payload: Any) -> Any:
    return {"__dagster_pipes_version": "0.1", "method": "report_custom_message", "params": {"payload": payload}}


@pytest.mark.reliability("store-retries")
def test_a_failed_upload_is_retried_with_the_same_chunk() -> None:
    channel = Store(failures=3)
    with pytest.warns(ours.DagsterPipesWarning, match="could not upload chunk 1, trying again"):
        with channel.buffered_upload_loop():
            for i in range(100):
                channel.write_message(custom(i))
                time.sleep(0.001)
    assert channel.messages() == list(range(100))
    assert sorted(channel.chunks) == list(range(1, len(channel.chunks) + 1)), "no chunk number was skipped"


@pytest.mark.reliability("store-retries")
def test_while_the_process_runs_a_chunk_is_retried_until_the_store_is_back() -> None:
    """Dozens of failures in a row (an outage of several intervals) lose nothing and skip no number."""
    channel = Store(failures=40, interval=0.01)
    with pytest.warns(ours.DagsterPipesWarning, match="could not upload chunk 1"):
        with channel.buffered_upload_loop():
            channel.write_message(custom(0))
            deadline = time.monotonic() + 30
            while channel.failures and time.monotonic() < deadline:
                time.sleep(0.01)
            for i in range(1, 50):
                channel.write_message(custom(i))
    assert channel.failures == 0
    assert channel.messages() == list(range(50))
    assert sorted(channel.chunks) == list(range(1, len(channel.chunks) + 1))


@pytest.mark.reliability("store-retries")
def test_at_close_a_chunk_that_never_uploads_is_given_up_after_close_timeout_with_a_warning() -> None:
    channel = Store(failures=10**9, interval=30, close_timeout=0.3)
    with pytest.warns(ours.DagsterPipesWarning, match="gave up uploading chunk 1 after 0.3 s .*2 in all, are lost"):
        with channel.buffered_upload_loop():
            channel.write_message(custom("lost"))
            channel.write_message(custom("lost too"))
    assert channel.chunks == {}


def test_closing_uploads_the_last_chunk_at_once(tmp_path: Path) -> None:
    """The upload thread waits out its 30 s interval on an event: closing sets it, the wait ends
    woken (not run out), and the last chunk is uploaded (dagster-pipes' thread sleeps in whole seconds)."""
    writer = ours.PipesUnityCatalogVolumesMessageWriter(interval=30)
    with recording_waits(blob) as waits, writer.open({"path": str(tmp_path)}) as channel:
        channel.write_message(custom(1))
        wait_for(lambda: waits.begun > 0, "the upload thread to wait for its interval")
        waits.mark("closing")
    assert waits.ended_after("closing") == [WOKEN]
    assert chunks(tmp_path) == [json.dumps(custom(1), separators=(",", ":")).encode()]


def test_a_message_that_cannot_be_written_fails_at_the_call_and_the_rest_goes_on(tmp_path: Path) -> None:
    channel = Store()
    with channel.buffered_upload_loop():
        channel.write_message(custom(1))
        with pytest.raises(ours.DagsterPipesError, match="not JSON-serializable"):
            channel.write_message(custom(object()))
        channel.write_message(custom(float("nan")))  # as json.dumps writes it
        flushed = [message["params"]["payload"] for message in channel.flush_messages()]  # type: ignore[index]
        assert flushed[0] == 1 and math.isnan(flushed[1])  # taken out of the buffer: not uploaded
        channel.write_message(custom(2))
    assert channel.messages() == [2]
    with pytest.raises(ours.DagsterPipesError, match="upload loop has ended"):
        channel.write_message(custom(3))


def test_messages_from_many_threads_all_arrive_whole() -> None:
    channel = Store()

    def write(thread: int) -> None:
        for i in range(2000):
            channel.write_message(custom([thread, i]))

    with channel.buffered_upload_loop():
        threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    received = channel.messages()
    for t in range(4):
        assert [i for thread, i in received if thread == t] == list(range(2000))


@pytest.mark.parametrize("zstd", [True, False], ids=["zstd", "plain"])
def test_a_chunk_is_never_seen_half_written(tmp_path: Path, zstd: bool) -> None:
    """A reader polling the directory while big chunks are uploaded only ever finds whole ones."""
    channel = ours.PipesBufferedFilesystemMessageWriterChannel(str(tmp_path), interval=0.001)
    channel.compression = "zstd" if zstd else None
    stop = threading.Event()
    seen: dict[str, int] = {}
    torn: list[str] = []

    def poll() -> None:
        while not stop.is_set():
            for name in os.listdir(tmp_path):
                if name.endswith(".json") and name not in seen:
                    data = (tmp_path / name).read_bytes()
                    try:
                        seen[name] = len([json.loads(line) for line in chunk_text(data).split(b"\n")])
                    except (ValueError, zstandard.ZstdError) as exc:
                        torn.append(f"{name}: {exc!r:.100}")
                        seen[name] = 0

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        with channel.buffered_upload_loop():
            for _ in range(60):
                channel.write_message(custom(os.urandom(300_000).hex()))  # 600 kB a message
                time.sleep(0.002)
    finally:
        stop.set()
        poller.join()
    assert sum(len(chunk_text(d).split(b"\n")) for d in chunks(tmp_path)) == 60
    assert torn == []
    assert seen and sum(seen.values()) <= 60


# ----- the same API as dagster-pipes -----

CLASSES = (
    "PipesBlobStoreMessageWriter",
    "PipesBlobStoreMessageWriterChannel",
    "PipesBufferedFilesystemMessageWriterChannel",
    "PipesUnityCatalogVolumesMessageWriter",
    "PipesS3MessageWriter",
    "PipesS3MessageWriterChannel",
    "PipesS3ContextLoader",
)


def parameters(function: Any) -> list[tuple[str, Any, Any]]:
    """Names, kinds and defaults: what a caller sees (annotations may differ)."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


@pytest.mark.parametrize("name", CLASSES)
def test_each_class_has_dagster_pipes_public_methods_and_parameters(name: str) -> None:
    """dagster-pipes' methods and parameters, in order; beyond them only keyword-only parameters
    with defaults (``close_timeout``), so every call written for dagster-pipes works."""
    mine, theirs = getattr(ours, name), getattr(dagster_pipes, name)
    public = [m for m in dir(theirs) if not m.startswith("_") or m == "__init__"]
    for method in public:
        assert hasattr(mine, method), f"{name}.{method}"
        if callable(getattr(theirs, method)):
            their_parameters = parameters(getattr(theirs, method))
            my_parameters = parameters(getattr(mine, method))
            assert my_parameters[: len(their_parameters)] == their_parameters, f"{name}.{method}"
            extra = my_parameters[len(their_parameters) :]
            assert all(
                kind == inspect.Parameter.KEYWORD_ONLY and default is not inspect.Parameter.empty
                for _, kind, default in extra
            ), f"{name}.{method}: {extra}"
    bases = [base.__name__ for base in theirs.__mro__ if base.__module__ == "dagster_pipes"]
    assert all(issubclass(mine, getattr(ours, base)) for base in bases)


def test_the_blob_writers_load_only_when_used() -> None:
    code = (
        "import sys, pipes_fast.external as e\n"
        "lazy = {'pipes_fast.external.blob', 'pipes_fast.external.s3', 'zstandard', 'threading'}\n"
        "assert not lazy & set(sys.modules)\n"
        "e.PipesS3MessageWriter\n"
        "assert 'pipes_fast.external.s3' in sys.modules and 'zstandard' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ----- S3, against the test server -----


@pytest.mark.parametrize(
    ("library", "zstd"),
    [("pipes_fast.external", True), ("pipes_fast.external", False), ("dagster_pipes", True)],
    ids=["ours-zstd", "ours-plain", "dagster-pipes"],
)
def test_the_s3_writer_and_context_loader_under_pipes_fasts_s3_reader(
    s3_bucket: S3Bucket, library: str, zstd: bool
) -> None:
    reader_class = PipesS3MessageReader if zstd else PlainS3Reader
    client = PipesSubprocessClient(
        context_injector=PipesS3ContextInjector(bucket=s3_bucket.name, client=s3_bucket.client),
        message_reader=reader_class(bucket=s3_bucket.name, client=s3_bucket.client, interval=0.05),
        forward_stdio=False,
    )
    command = [sys.executable, SCRIPT, library, "s3", "5000", "0.1", "10"]
    invocation = client.run(context=StepContext(["orders"]), command=command)
    assert delivered(invocation) == expected(5000, pad=10)
    bodies = [
        s3_bucket.client.get_object(Bucket=s3_bucket.name, Key=key)["Body"].read()
        for key in s3_bucket.keys()
        if key.endswith(".json") and key.rsplit("/", 1)[-1][0].isdigit()
    ]
    assert bodies and all(body.startswith(ZSTD_MAGIC) == (zstd and library == "pipes_fast.external") for body in bodies)
