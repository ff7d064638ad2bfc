"""Blob-store readers and writers when the store misbehaves, and when chunk locations are reused
or shared: nothing the writer uploaded is lost, nothing foreign is read, closing is bounded.

The stores are real (a directory, the S3 test server); where a fault cannot be made real on a
local filesystem (a store that never answers), a reader's download hook plays it, and says so.
The fault matrix over the TCP proxy (tests/readers/test_fault_matrix.py) tries the same over S3's wire.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Optional

import pytest
from support import SCRIPTS
from support.helpers import capturing_logger, chunk, closed, custom, opened, wait_for
from support.s3_server import S3Bucket

from pipes_fast import (
    PipesChunkedLogReader,
    PipesDirectoryMessageReader,
    PipesEnvContextInjector,
    PipesError,
    PipesSubprocessClient,
    StepContext,
    open_pipes_session,
)
from pipes_fast.protocol import PipesParams

pytestmark = pytest.mark.timeout(120)

WRITER = str(SCRIPTS / "blob_writer.py")


def run_writer(
    reader: Any, count: int, *, label: str, store: str = "directory", library: str = "pipes_fast.external"
) -> tuple[Any, list[str]]:
    """Run scripts/blob_writer.py reporting ``count`` messages padded with ``label``; the
    invocation and the step's warnings."""
    log, records = capturing_logger(f"blob-faults-{label}")
    client = PipesSubprocessClient(message_reader=reader, forward_stdio=False)
    command = [sys.executable, WRITER, library, store, str(count), "0.02", "0"]
    invocation = client.run(context=StepContext(["orders"], log=log), command=command, extras={"label": label})
    return invocation, records.messages(30)


# ----- chunk locations: reused, shared -----


@pytest.mark.reliability("chunk-locations")
def test_a_directory_used_again_serves_each_run_only_its_own_chunks(tmp_path: Path) -> None:
    """Run 1's chunks stay in the directory; run 2, with fewer messages, reads none of them."""
    reader = PipesDirectoryMessageReader(str(tmp_path), interval=0.05)
    first, first_warnings = run_writer(reader, 300, label="first")
    second, second_warnings = run_writer(reader, 40, label="second")
    assert [m["i"] for m in first.get_custom_messages()] == list(range(300))
    assert [m["i"] for m in second.get_custom_messages()] == list(range(40))
    assert first_warnings == second_warnings == []
    sessions = sorted(p.name for p in tmp_path.iterdir())
    assert len(sessions) == 2 and all(name.startswith("pipes-") for name in sessions)


CLI_WRITER = """
import sys, time
from pipes_fast.external import PipesUnityCatalogVolumesMessageWriter, open_dagster_pipes

with open_dagster_pipes(message_writer=PipesUnityCatalogVolumesMessageWriter(interval=0.01)) as pipes:
    for i in range(int(sys.argv[2])):
        pipes.report_custom_message({"run": sys.argv[1], "i": i})
        time.sleep(0.001)  # a few chunks
"""


@pytest.mark.reliability("chunk-locations")
def test_pipes_fast_run_twice_on_one_directory_reports_each_run_its_own_messages(tmp_path: Path) -> None:
    chunks = tmp_path / "chunks"
    chunks.mkdir()

    def pipes_fast_run(label: str, count: int) -> list[Any]:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pipes_fast",
                "run",
                "--json",
                "--message-reader",
                f"dir:{chunks}",
                "--",
                sys.executable,
                "-c",
                CLI_WRITER,
                label,
                str(count),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert "WARNING" not in done.stderr, done.stderr
        return [
            record["payload"]
            for record in map(json.loads, done.stdout.splitlines())
            if record["type"] == "custom_message"
        ]

    assert pipes_fast_run("first", 300) == [{"run": "first", "i": i} for i in range(300)]
    assert pipes_fast_run("second", 5) == [{"run": "second", "i": i} for i in range(5)]


@pytest.mark.reliability("chunk-locations")
def test_a_session_directory_is_new_even_if_a_link_is_planted(tmp_path: Path) -> None:
    """The session's directory is made anew: a name taken already (here by a link) is never used."""
    reader = PipesDirectoryMessageReader(str(tmp_path), interval=0.05)
    with open_pipes_session(StepContext(), PipesEnvContextInjector(), reader) as session:
        folder = Path(session.message_reader_params["path"])
        assert folder.parent == tmp_path and folder.is_dir() and not folder.is_symlink()
        assert list(folder.iterdir()) == []
        (folder / "1.json").write_bytes(chunk(opened(), custom(1), closed()))
    assert session.get_custom_messages() == (1,)


def concurrent_runs(reader: Any, store: str, sessions: int, count: int, injector: Any = None) -> list[list[Any]]:
    """``sessions`` clients sharing ``reader``, one thread each, each child reporting ``count``
    messages tagged with its own number; what each session delivered."""
    delivered: list[list[Any]] = [[] for _ in range(sessions)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(sessions)

    def one(number: int) -> None:
        try:
            barrier.wait(30)
            client = PipesSubprocessClient(context_injector=injector, message_reader=reader, forward_stdio=False)
            script = (
                f"import sys; sys.argv = ['', 'pipes_fast.external', {store!r}, '{count}', '0.02', '{number}']\n"
                f"exec(open({WRITER!r}).read())"
            )
            invocation = client.run(context=StepContext(["orders"]), command=[sys.executable, "-c", script])
            delivered[number] = [(m["i"], len(m["pad"])) for m in invocation.get_custom_messages()]
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(number,)) for number in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert errors == []
    return delivered


@pytest.mark.reliability("chunk-locations")
def test_one_directory_reader_shared_by_concurrent_sessions_gives_each_its_own_messages(tmp_path: Path) -> None:
    reader = PipesDirectoryMessageReader(str(tmp_path), interval=0.02)
    delivered = concurrent_runs(reader, "directory", sessions=4, count=400)
    assert delivered == [[(i, number) for i in range(400)] for number in range(4)]


@pytest.mark.reliability("chunk-locations")
def test_one_s3_reader_shared_by_concurrent_sessions_gives_each_its_own_messages(s3_bucket: S3Bucket) -> None:
    from pipes_fast import PipesS3ContextInjector, PipesS3MessageReader

    reader = PipesS3MessageReader(bucket=s3_bucket.name, client=s3_bucket.client, interval=0.05)
    injector = PipesS3ContextInjector(bucket=s3_bucket.name, client=s3_bucket.client)
    delivered = concurrent_runs(reader, "s3", sessions=4, count=400, injector=injector)
    assert delivered == [[(i, number) for i in range(400)] for number in range(4)]


class NeverReadable(PipesChunkedLogReader):
    def __init__(self) -> None:
        super().__init__(interval=0.05, target_stream=sys.stderr)

    def target_is_readable(self, params: PipesParams) -> bool:
        return False

    def download_log_chunk(self, params: PipesParams) -> Optional[str]:
        return None


@pytest.mark.reliability("chunk-locations")
def test_a_reader_with_log_readers_refuses_a_second_concurrent_session(tmp_path: Path) -> None:
    reader = PipesDirectoryMessageReader(str(tmp_path), interval=0.05, log_readers=[NeverReadable()])
    with open_pipes_session(StepContext(), PipesEnvContextInjector(), reader):
        with pytest.raises(PipesError, match="already reading a session and has log readers"):
            with open_pipes_session(StepContext(), PipesEnvContextInjector(), reader):
                pass
    with open_pipes_session(StepContext(), PipesEnvContextInjector(), reader):  # one after the other is fine
        pass


# ----- the final sweep -----


class Run:
    """A session over a directory reader; the test plays the writer and the store's faults."""

    def __init__(self, tmp_path: Path, reader: Optional[PipesDirectoryMessageReader] = None) -> None:
        self.log, self.records = capturing_logger(f"sweep-{tmp_path.name}")
        self.reader = reader or PipesDirectoryMessageReader(str(tmp_path), interval=0.05, close_timeout=20)

    @property
    def warnings(self) -> list[str]:
        return self.records.messages(30)

    def session(self, write: Any) -> Any:
        """Open a session, ``write(folder)``, close; the session."""
        with open_pipes_session(
            StepContext(["orders"], log=self.log), PipesEnvContextInjector(), self.reader
        ) as session:
            write(Path(session.message_reader_params["path"]))
        return session


@pytest.mark.reliability("store-retries")
def test_the_final_sweep_finds_the_writers_last_chunk_past_any_gap(tmp_path: Path) -> None:
    """Chunks 4-40 never uploaded (a writer that gave up during an outage): 41-45 are still read."""

    def write(folder: Path) -> None:
        for index in range(1, 46):
            if not 4 <= index <= 40:
                first = [opened()] if index == 1 else []
                last = [closed()] if index == 45 else []
                (folder / f"{index}.json").write_bytes(chunk(*first, custom(index), *last))

    run = Run(tmp_path)
    session = run.session(write)
    assert session.get_custom_messages() == (1, 2, 3, 41, 42, 43, 44, 45)
    assert session.message_handler.received_closed_message
    (warning,) = run.warnings
    assert "never uploaded" in warning and "/4.json" in warning and "/40.json" in warning and "from chunk" in warning


@pytest.mark.reliability("store-retries")
def test_a_store_failing_at_close_is_retried_until_it_is_back(tmp_path: Path) -> None:
    """The directory is gone (moved away) as the session closes and back 1.5 s later: every chunk is read."""

    def write(folder: Path) -> None:
        (folder / "1.json").write_bytes(chunk(opened(), custom(1)))
        (folder / "2.json").write_bytes(chunk(custom(2)))
        (folder / "3.json").write_bytes(chunk(custom(3), closed()))
        away = folder.with_name(folder.name + ".away")
        folder.rename(away)
        threading.Timer(1.5, away.rename, args=(folder,)).start()

    run = Run(tmp_path)
    session = run.session(write)
    assert session.get_custom_messages() == (1, 2, 3)
    assert session.message_handler.received_closed_message
    assert any("could not read" in w and "trying again" in w for w in run.warnings), run.warnings
    assert not any("gave up" in w for w in run.warnings), run.warnings  # closing ended by reading it all


@pytest.mark.reliability("store-retries")
def test_a_store_failing_past_the_close_budget_is_a_warning_naming_what_was_not_read(tmp_path: Path) -> None:
    def write(folder: Path) -> None:
        (folder / "1.json").write_bytes(chunk(opened(), custom(1)))
        (folder / "2.json").write_bytes(chunk(custom(2), closed()))
        folder.rename(folder.with_name(folder.name + ".away"))  # never back

    run = Run(tmp_path, PipesDirectoryMessageReader(str(tmp_path), interval=0.05, close_timeout=1))
    session = run.session(write)  # closing ends at the budget, saying so:
    assert session.get_custom_messages() in ((), (1,))  # chunk 1 read while the session ran, or not
    assert any("gave up reading at close after 1 s" in w and "were not read" in w for w in run.warnings), run.warnings


class Unanswering(PipesDirectoryMessageReader):
    """A store that stops answering at chunk 2: its download never returns (a black-holed
    connection, played here by a wait: a local filesystem cannot be made to hang)."""

    def __init__(self, path: str, release: threading.Event) -> None:
        super().__init__(path, interval=0.05, close_timeout=1)
        self.release = release
        self.answered = False
        """Whether the download of chunk 2 has returned."""

    def download_messages_chunk(self, index: int, params: PipesParams) -> Optional[bytes]:
        if index == 2:
            self.release.wait(60)  # a bound, so that a broken test leaves no thread behind
            self.answered = True
        return super().download_messages_chunk(index, params)


@pytest.mark.reliability("store-retries")
def test_a_store_that_never_answers_is_abandoned_at_the_close_budget(tmp_path: Path) -> None:
    release = threading.Event()
    run = Run(tmp_path, Unanswering(str(tmp_path), release))

    def write(folder: Path) -> None:
        for index in (1, 2, 3):
            (folder / f"{index}.json").write_bytes(chunk(*([opened()] if index == 1 else []), custom(index)))

    session = run.session(write)
    assert not run.reader.answered  # the session closed while the store still held the download
    assert session.get_custom_messages() == (1,)
    assert any(
        "gave up reading after 1 s" in w and "2.json and any after it were not read" in w for w in run.warnings
    ), run.warnings
    release.set()  # the abandoned download returns now: it must not reach the closed session
    wait_for(lambda: not any(t.name == "pipes_fast blob reader" for t in threading.enumerate()), "the thread to end")
    assert run.reader.answered
    assert session.get_custom_messages() == (1,)


# ----- the writer -----


OUTAGE_WRITER = """
import os, sys, time
from pipes_fast.external import PipesUnityCatalogVolumesMessageWriter, open_dagster_pipes

folder = sys.argv[1]
with open_dagster_pipes(message_writer=PipesUnityCatalogVolumesMessageWriter(interval=0.01)) as pipes:
    for i in range(400):
        pipes.report_custom_message(i)
        if i == 100:
            os.rename(folder, folder + ".away")  # the store goes away for many intervals
        if i == 300:
            os.rename(folder + ".away", folder)
        time.sleep(0.002)
"""


@pytest.mark.reliability("store-retries")
def test_the_writer_keeps_every_chunk_through_an_outage_in_order(tmp_path: Path) -> None:
    log, records = capturing_logger("writer-outage")
    reader = PipesDirectoryMessageReader(str(tmp_path), interval=0.02)
    with open_pipes_session(StepContext(["orders"], log=log), PipesEnvContextInjector(), reader) as session:
        folder = session.message_reader_params["path"]
        env = {**os.environ, **session.get_bootstrap_env_vars()}
        child = subprocess.run(
            [sys.executable, "-c", OUTAGE_WRITER, folder], env=env, capture_output=True, text=True, timeout=60
        )
    assert child.returncode == 0, child.stderr
    assert session.get_custom_messages() == tuple(range(400))
    names = sorted(int(p.stem) for p in Path(folder).iterdir() if p.suffix == ".json")
    assert names == list(range(1, len(names) + 1)), "no chunk number was skipped"
    assert "could not upload chunk" in child.stderr
    assert records.messages(30) == []
