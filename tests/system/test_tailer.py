"""The file tailer, on both implementations and both wake paths, against real files and a real
writer process (how a waiting tailer is woken: ``test_tailer_wake.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
from test_tailer_wake import wake  # noqa: F401  (the fixture)

from pipes_fast._system.tailer import FileTailer

pytestmark = pytest.mark.usefixtures("wake")


def test_reads_only_what_was_appended(tmp_path):
    path = tmp_path / "messages"
    path.write_bytes(b"first\n")
    with FileTailer(path) as tailer:
        assert tailer.read() == b"first\n"
        assert tailer.read() == b""
        with open(path, "ab") as f:
            f.write(b"second")
        assert tailer.read() == b"second"
        assert tailer.position == 12


def test_a_file_that_does_not_exist_yet(tmp_path):
    path = tmp_path / "later"
    tailer = FileTailer(path)
    assert tailer.read() == b""
    assert tailer.wait(timeout=0.01) is False
    path.write_bytes(b"now\n")
    assert tailer.wait(timeout=5) is True
    assert tailer.read() == b"now\n"
    tailer.close()


def test_reads_in_bounded_chunks(tmp_path):
    path = tmp_path / "big"
    data = os.urandom(100_000)
    path.write_bytes(data)
    tailer = FileTailer(path, chunk_bytes=4096)
    pieces = []
    while chunk := tailer.read():
        assert len(chunk) <= 4096
        pieces.append(chunk)
    assert b"".join(pieces) == data
    tailer.close()


def test_wait_wakes_when_another_thread_appends(tmp_path):
    path = tmp_path / "grow"
    path.write_bytes(b"")
    tailer = FileTailer(path)

    def append_later():
        time.sleep(0.05)
        with open(path, "ab") as f:
            f.write(b"x\n")

    writer = threading.Thread(target=append_later)
    writer.start()
    assert tailer.wait(timeout=30) is True
    writer.join()
    assert tailer.read() == b"x\n"
    tailer.close()


class Counting(FileTailer):
    """A tailer that counts the looks its waits take at the file."""

    looks = 0

    def _ready(self):
        self.looks += 1
        return super()._ready()


# A wait looks, then blocks until woken or its sleep runs out: sleeps of 1 ms doubling to 50 ms when
# polling (16 looks in 0.5 s), one block to the end when watched (the fixture's safety poll is an
# hour: 2 looks); a few more allowed for a clock's rounding. A wait that spins looks thousands of times.
MOST_LOOKS = {"poll": 20, "inotify": 3}


def test_waiting_does_not_spin(tmp_path):
    tailer = Counting(tmp_path / "idle")
    assert tailer.wait(timeout=0.5) is False
    assert 1 <= tailer.looks <= MOST_LOOKS["inotify" if tailer.watched else "poll"]
    tailer.close()


def test_tails_a_real_writer_process_to_the_last_byte(hotpath, tmp_path):
    path = tmp_path / "stream"
    script = (
        "import sys, os\n"
        "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND)\n"
        "for i in range(20000):\n"
        "    os.write(fd, b'line %d\\n' % i)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(path)])
    tailer = FileTailer(path, chunk_bytes=1000)
    framer = hotpath.LineFramer()
    lines = []
    while True:
        done = proc.poll() is not None
        while chunk := tailer.read():
            lines += framer.feed(chunk)
        if done:
            break
        tailer.wait(timeout=0.05)
    assert proc.returncode == 0
    assert lines == [b"line %d" % i for i in range(20000)]
    tailer.close()


@pytest.mark.parametrize("timeout", [0, 0.001, 0.02])
def test_wait_honours_short_timeouts(tmp_path, timeout):
    tailer = FileTailer(tmp_path / "none")
    assert tailer.wait(timeout=timeout) is False


class Warnings(list):
    """A ``warn`` callback that keeps what it was told."""

    def __call__(self, message: str) -> None:
        self.append(message)


@pytest.mark.reliability("file-replaced")
def test_finishes_the_old_file_then_follows_the_new_one(tmp_path):
    path = tmp_path / "messages"
    path.write_bytes(b"a\n")
    warnings = Warnings()
    with FileTailer(path, warn=warnings) as tailer, open(path, "ab") as old:
        assert tailer.read() == b"a\n"
        os.remove(path)
        old.write(b"b\n")  # a writer holding the removed file open
        old.flush()
        assert tailer.wait(timeout=5) is True
        assert tailer.read() == b"b\n"
        assert tailer.restarts == 0 and not warnings
        path.write_bytes(b"c\n")  # a writer that reopens the path
        old.write(b"d\n")
        old.flush()
        assert tailer.read() == b"d\n"  # the old file to its end first
        assert tailer.wait(timeout=5) is True
        assert tailer.read() == b"c\n"
        assert tailer.position == 2 and tailer.restarts == 1
        assert warnings == [f"{path} was removed or replaced: reading the new file there from its start"]
        assert tailer.read() == b""


@pytest.mark.reliability("file-replaced")
def test_a_truncated_file_is_read_again_from_its_start(tmp_path):
    path = tmp_path / "messages"
    path.write_bytes(b"first line\n")
    warnings = Warnings()
    with FileTailer(path, warn=warnings) as tailer:
        assert tailer.read() == b"first line\n"
        os.truncate(path, 0)
        assert tailer.wait(timeout=5) is True
        assert tailer.read() == b""
        assert tailer.restarts == 1 and tailer.position == 0
        assert warnings == [f"{path} was truncated: reading it again from its start"]
        with open(path, "ab") as f:
            f.write(b"second\n")
        assert tailer.read() == b"second\n"
        assert tailer.wait(timeout=0.01) is False


@pytest.mark.reliability("unsafe-files")
def test_a_symbolic_link_at_the_path_is_not_read(tmp_path):
    secret = tmp_path / "secret"
    secret.write_bytes(b"not for the log\n")
    path = tmp_path / "messages"
    path.symlink_to(secret)
    warnings = Warnings()
    with FileTailer(path, warn=warnings) as tailer:
        assert tailer.read() == b""
        assert tailer.wait(timeout=0.01) is False
    assert warnings == [f"not following {path}: it is a symbolic link, not a regular file"]


@pytest.mark.reliability("unsafe-files")
def test_a_fifo_at_the_path_does_not_block(tmp_path):
    path = tmp_path / "messages"
    os.mkfifo(path)
    warnings = Warnings()
    tailer = FileTailer(path, warn=warnings)
    result = []
    reader = threading.Thread(target=lambda: result.append((tailer.read(), tailer.wait(timeout=0.01))), daemon=True)
    reader.start()
    reader.join(timeout=30)
    assert not reader.is_alive(), "reading a FIFO path blocks"
    assert result == [(b"", False)]
    assert warnings == [f"not following {path}: it is a FIFO, not a regular file"]  # once
    path.unlink()
    path.write_bytes(b"now a file\n")
    assert tailer.read() == b"now a file\n"
    tailer.close()


def test_a_forgotten_tailer_closes_its_file(tmp_path):
    path = tmp_path / "messages"
    path.write_bytes(b"x\n")
    tailer = FileTailer(path)
    assert tailer.read() == b"x\n"
    fd = tailer.fileno()
    del tailer
    with pytest.raises(OSError):
        os.fstat(fd)
