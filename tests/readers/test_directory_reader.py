"""PipesDirectoryMessageReader and the blob-store reader underneath it: chunks through the hot path.

Most tests play the writer themselves, putting chunk files into the session's directory the way a
writer would (dagster-pipes writes ``N.json`` in place, one JSON message per line, no trailing
newline); one runs dagster-pipes' own ``PipesUnityCatalogVolumesMessageWriter`` in a subprocess.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Optional

import pytest
import zstandard
from support.helpers import (
    DAGSTER_CLIENTS,
    capturing_logger,
    chunk,
    closed,
    custom,
    line,
    materialization,
    materialize_in_dagster,
    opened,
    wait_for,
)
from support.waits import WOKEN, recording_waits

from pipes_fast import (
    PipesChunkedLogReader,
    PipesDirectoryMessageReader,
    PipesEnvContextInjector,
    PipesSubprocessClient,
    StepContext,
    open_pipes_session,
)
from pipes_fast.protocol import PipesParams
from pipes_fast.readers import _chunk, blob

pytestmark = pytest.mark.timeout(60)


class Run:
    """A session over a directory reader whose chunks the test writes; what came back."""

    def __init__(self, tmp_path: Path, *, interval: float = 0.05, log_readers: Optional[list[Any]] = None) -> None:
        self.log, self.records = capturing_logger(tmp_path.name)
        self.reader = PipesDirectoryMessageReader(interval=interval, log_readers=log_readers)
        self.context = StepContext(["orders"], log=self.log)

    @property
    def warnings(self) -> list[str]:
        return self.records.messages(30)

    def session(self, *chunks: bytes, after: Optional[Any] = None) -> Any:
        """Open a session, write ``chunks`` as 1.json, 2.json, ... (None leaves a gap), call
        ``after(session, folder)``, close; the session."""
        with open_pipes_session(self.context, PipesEnvContextInjector(), self.reader) as session:
            folder = Path(session.message_reader_params["path"])
            for index, content in enumerate(chunks, start=1):
                if content is not None:
                    (folder / f"{index}.json").write_bytes(content)
            if after is not None:
                after(session, folder)
        return session


def test_chunks_are_delivered_in_order_through_the_hot_path(tmp_path: Path) -> None:
    run = Run(tmp_path)
    session = run.session(
        chunk(opened(), custom(1), custom(2)),
        chunk(materialization("orders", data_version="v1"), custom(3)),
        chunk(custom(4), closed()),
    )
    assert session.get_custom_messages() == (1, 2, 3, 4)
    (result,) = session.get_results()
    assert result.data_version == "v1"
    assert run.warnings == []
    assert session.message_reader_params["accept_compression"] == ["zstd"]


def test_a_zstd_chunk_reads_like_a_plain_one(tmp_path: Path) -> None:
    compressed = zstandard.ZstdCompressor().compress(chunk(custom(2), custom(3)))
    session = Run(tmp_path).session(chunk(opened(), custom(1)), compressed, chunk(closed()))
    assert session.get_custom_messages() == (1, 2, 3)


@pytest.mark.reliability("blob-chunks")
def test_bad_lines_are_reported_with_their_chunk_and_line(tmp_path: Path) -> None:
    run = Run(tmp_path)
    session = run.session(chunk(opened(), "not json", custom(1)), chunk(custom(2), '{"torn": '), chunk(closed()))
    assert session.get_custom_messages() == (1, 2)
    folder = session.message_reader_params["path"]
    assert any(f"line of chunk {folder}/1.json line 2:" in w for w in run.warnings), run.warnings
    assert any(f"line of chunk {folder}/2.json line 2:" in w for w in run.warnings), run.warnings


@pytest.mark.reliability("blob-chunks")
@pytest.mark.parametrize(
    ("content", "why"),
    [
        pytest.param(b"", "is empty", id="empty"),
        pytest.param(b"\x28\xb5\x2f\xfdnot a frame", "not a readable zstd frame", id="bad-zstd"),
    ],
)
def test_an_unreadable_chunk_is_reported_by_name_and_the_stream_goes_on(
    tmp_path: Path, content: bytes, why: str
) -> None:
    run = Run(tmp_path)
    session = run.session(chunk(opened(), custom(1)), content, chunk(custom(2), closed()))
    assert session.get_custom_messages() == (1, 2)
    assert any("2.json" in w and why in w for w in run.warnings), run.warnings


@pytest.mark.reliability("blob-chunks")
def test_a_skipped_chunk_does_not_stall_the_reader(tmp_path: Path) -> None:
    run = Run(tmp_path)
    session = run.session(chunk(opened(), custom(1)), None, chunk(custom(3), closed()))
    assert session.get_custom_messages() == (1, 3)
    folder = session.message_reader_params["path"]
    assert any(
        f"the writer never uploaded chunk {folder}/2.json: reading on from chunk {folder}/3.json" in w
        for w in run.warnings
    ), run.warnings


@pytest.mark.reliability("unsafe-files")
@pytest.mark.parametrize("kind", ["symlink", "fifo"])
def test_a_chunk_that_is_not_a_regular_file_is_refused(tmp_path: Path, kind: str) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(chunk(custom("secret")))

    def plant(session: Any, folder: Path) -> None:
        (folder / "1.json").write_bytes(chunk(opened(), custom(1)))
        if kind == "symlink":
            (folder / "2.json").symlink_to(secret)
        else:
            os.mkfifo(folder / "2.json")
        (folder / "3.json").write_bytes(chunk(custom(3), closed()))

    run = Run(tmp_path)
    session = run.session(after=plant)
    assert session.get_custom_messages() == (1, 3)
    expected = "symbolic link" if kind == "symlink" else "FIFO"
    assert any("2.json" in w and expected in w for w in run.warnings), run.warnings


def test_a_chunk_is_read_once_and_only_when_the_writer_has_moved_on(tmp_path: Path) -> None:
    """A chunk written in place may be half written: it is read once the next exists (or at close)."""
    seen: list[tuple[int, bool]] = []
    reader_class = PipesDirectoryMessageReader

    class Recording(reader_class):  # type: ignore[misc, valid-type]
        def download_messages_chunk(self, index: int, params: PipesParams) -> Optional[bytes]:
            content = super().download_messages_chunk(index, params)
            if content is not None:
                seen.append((index, self.chunk_is_settled(index, params)))
            return content

    def write_slowly(session: Any, folder: Path) -> None:
        (folder / "1.json").write_bytes(chunk(opened(), custom(1)))
        time.sleep(0.3)  # several polls: chunk 1 is the newest, so it waits
        assert session.get_custom_messages() == ()
        (folder / "2.json").write_bytes(chunk(custom(2), closed()))
        deadline = time.monotonic() + 10
        while not session.get_custom_messages() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert session.get_custom_messages() == (1,)  # chunk 1 read as soon as 2 appeared

    run = Run(tmp_path)
    run.reader = Recording(interval=0.05)
    session = run.session(after=write_slowly)
    assert session.get_custom_messages() == (1, 2)
    assert seen == [(1, True), (2, False)]  # chunk 2, the newest, only at the final sweep


def test_the_session_closes_without_waiting_for_the_interval(tmp_path: Path) -> None:
    """The reading thread waits out its 30 s interval on an event: closing sets it, the wait ends
    woken (not run out), and the final sweep reads the chunks."""

    def close_while_waiting(session: Any, folder: Path) -> None:
        wait_for(lambda: waits.begun > 0, "the reading thread to wait for its interval")
        waits.mark("closing")

    run = Run(tmp_path, interval=30)
    with recording_waits(blob) as waits:
        session = run.session(chunk(opened(), custom(1)), chunk(closed()), after=close_while_waiting)
    assert waits.ended_after("closing") == [WOKEN]
    assert session.get_custom_messages() == (1,)
    assert run.warnings == []


def test_after_closed_the_reader_waits_for_the_end_then_reads_what_trails(tmp_path: Path) -> None:
    """Captured stdio comes after ``closed``: it is read at the end, with a warning, not polled for."""
    downloads: list[int] = []

    class Counting(PipesDirectoryMessageReader):
        def download_messages_chunk(self, index: int, params: PipesParams) -> Optional[bytes]:
            downloads.append(index)
            return super().download_messages_chunk(index, params)

    def wait_after_closed(session: Any, folder: Path) -> None:
        deadline = time.monotonic() + 10
        while session.get_custom_messages() != (1,) and time.monotonic() < deadline:
            time.sleep(0.01)
        polled = len(downloads)
        time.sleep(0.3)  # six intervals
        assert len(downloads) == polled  # no polling after closed
        (folder / "3.json").write_bytes(
            chunk(line("log_external_stream", {"stream": "stdout", "text": "late\n", "extras": {}}))
        )

    run = Run(tmp_path)
    run.reader = Counting(interval=0.05)
    session = run.session(chunk(opened(), custom(1), closed()), chunk(custom(2)), after=wait_after_closed)
    assert session.get_custom_messages() == (1, 2)
    assert any("received after closed" in w for w in run.warnings), run.warnings


def test_one_reader_serves_one_session_after_another(tmp_path: Path) -> None:
    """A client keeps its reader: each session starts again from chunk 1."""
    run = Run(tmp_path)
    first = run.session(chunk(opened(), custom(1)), chunk(closed()))
    second = run.session(chunk(opened(), custom(2)), chunk(closed()))
    assert (first.get_custom_messages(), second.get_custom_messages()) == ((1,), (2,))
    assert run.warnings == []


def test_a_given_directory_must_exist(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="does not exist or is not a directory"):
        with open_pipes_session(
            StepContext(), PipesEnvContextInjector(), PipesDirectoryMessageReader(str(tmp_path / "nope"))
        ):
            pass


def test_the_temporary_directory_is_removed(tmp_path: Path) -> None:
    session = Run(tmp_path).session(chunk(opened(), closed()))
    assert not Path(session.message_reader_params["path"]).exists()


@pytest.mark.reliability("blob-chunks")
def test_a_zstd_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_chunk, "MAX_CHUNK_BYTES", 1000)
    bomb = zstandard.ZstdCompressor().compress(chunk(opened(), custom("x" * 5000)))
    run = Run(tmp_path)
    session = run.session(bomb, chunk(opened(), custom(1), closed()))
    assert session.get_custom_messages() == (1,)
    assert any("more than 1000 bytes" in w for w in run.warnings), run.warnings


class FileLogReader(PipesChunkedLogReader):
    """Reads the new part of a local file: a store's log object, played by a file."""

    def __init__(self, path: Path, target: list[str]) -> None:
        super().__init__(interval=0.05, target_stream=self)  # type: ignore[arg-type]
        self.path, self.target, self.offset = path, target, 0

    def write(self, text: str) -> None:
        self.target.append(text)

    def target_is_readable(self, params: PipesParams) -> bool:
        return self.path.exists()

    def download_log_chunk(self, params: PipesParams) -> Optional[str]:
        with open(self.path, "rb") as log:
            log.seek(self.offset)
            data = log.read()
        self.offset += len(data)
        return data.decode() or None


def test_log_readers_start_once_opened_and_are_drained_at_close(tmp_path: Path) -> None:
    log_file = tmp_path / "stdout.log"
    copied: list[str] = []
    log_reader = FileLogReader(log_file, copied)
    run = Run(tmp_path, log_readers=[log_reader])

    def write_logs(session: Any, folder: Path) -> None:
        log_file.write_text("first\n")
        time.sleep(0.2)
        assert not log_reader.is_running()  # nothing opened yet
        (folder / "1.json").write_bytes(chunk(opened(), custom(1)))
        (folder / "2.json").write_bytes(chunk(custom(2)))
        deadline = time.monotonic() + 10
        while not log_reader.is_running() and time.monotonic() < deadline:
            time.sleep(0.01)
        with open(log_file, "a") as log:
            log.write("last words\n")  # just before the process ends
        (folder / "3.json").write_bytes(chunk(closed()))

    run.session(after=write_logs)
    assert "".join(copied) == "first\nlast words\n"
    assert not log_reader.is_running()


def test_a_log_reader_never_readable_is_reported(tmp_path: Path) -> None:
    log_reader = FileLogReader(tmp_path / "never.log", [])
    run = Run(tmp_path, log_readers=[log_reader])
    run.session(chunk(opened(), closed()))
    assert any("the log of FileLogReader was never readable" in w for w in run.warnings), run.warnings


DAGSTER_PIPES_WRITER = """
from dagster_pipes import PipesUnityCatalogVolumesMessageWriter, open_dagster_pipes

with open_dagster_pipes(message_writer=PipesUnityCatalogVolumesMessageWriter(interval=0.5)) as pipes:
    pipes.log.info("hello from dagster-pipes")
    for i in range(3):
        pipes.report_custom_message(i)
    pipes.report_asset_materialization(metadata={"rows": 3}, data_version="v3")
"""


def test_dagster_pipes_unity_catalog_writer_is_read(tmp_path: Path) -> None:
    log, records = capturing_logger("unity")
    client = PipesSubprocessClient(
        context_injector=PipesEnvContextInjector(), message_reader=PipesDirectoryMessageReader(interval=0.2)
    )
    completed = client.run(
        context=StepContext(["orders"], log=log), command=[sys.executable, "-c", DAGSTER_PIPES_WRITER]
    )
    assert completed.get_custom_messages() == (0, 1, 2)
    (result,) = completed.get_results()
    assert result.data_version == "v3" and result.metadata["rows"].value == 3
    assert "hello from dagster-pipes" in records.messages()
    assert records.messages(30) == []


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::dagster.PreviewWarning")
@pytest.mark.parametrize("orchestrator", DAGSTER_CLIENTS)
def test_in_dagster_the_directory_reader_serves_either_client(orchestrator: str) -> None:
    import dagster

    import pipes_fast.dagster

    reader = pipes_fast.dagster.PipesDirectoryMessageReader(interval=0.2)
    materialization = materialize_in_dagster(orchestrator, DAGSTER_PIPES_WRITER, message_reader=reader)
    assert materialization.metadata == {"rows": dagster.MetadataValue.int(3)}
    assert materialization.tags["dagster/data_version"] == "v3"
