"""Message and context files: never written through a link, never blocking on a FIFO, never
removing what is not theirs."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from pipes_fast import (
    PipesEnvContextInjector,
    PipesError,
    PipesFileContextInjector,
    PipesFileMessageReader,
    PipesTempFileMessageReader,
    StepContext,
    open_pipes_session,
)

SECRET = b"the victim's own contents\n"


def session_at(kind: str, path: str):  # noqa: ANN201 - a context manager
    """A session whose message file (``kind="reader"``) or context file (``"injector"``) is ``path``."""
    if kind == "reader":
        return open_pipes_session(StepContext(), PipesEnvContextInjector(), PipesFileMessageReader(path))
    return open_pipes_session(
        StepContext(), PipesFileContextInjector(path), PipesTempFileMessageReader(), extras={"token": "s3cr3t"}
    )


def open_in_thread(kind: str, path: str) -> BaseException | None:
    """Open and close a session at ``path`` on another thread (a hang fails the test, it does not
    block it); returns what it raised."""
    raised: list[BaseException | None] = []

    def run() -> None:
        try:
            with session_at(kind, path):
                pass
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            raised.append(exc)
        else:
            raised.append(None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), f"opening a session at {path} hangs"
    return raised[0]


KINDS = pytest.mark.parametrize("kind", ["reader", "injector"])


@pytest.mark.reliability("unsafe-files")
@KINDS
def test_a_symbolic_link_is_refused_and_its_target_untouched(tmp_path, kind):
    """A symlink at the message/context path: refused, its target keeps its contents and mode."""
    victim = tmp_path / "victim"
    victim.write_bytes(SECRET)
    victim.chmod(0o644)
    link = tmp_path / "link"
    link.symlink_to(victim)
    raised = open_in_thread(kind, str(link))
    assert isinstance(raised, PipesError)
    assert str(link) in str(raised) and "a symbolic link, not a regular file" in str(raised)
    assert victim.read_bytes() == SECRET
    assert stat.S_IMODE(victim.stat().st_mode) == 0o644
    assert link.is_symlink()


@pytest.mark.reliability("unsafe-files")
@KINDS
def test_a_dangling_symbolic_link_is_refused_and_nothing_created(tmp_path, kind):
    """A symlink to a missing file: refused, the file it points to is not created."""
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "would-be-created")
    raised = open_in_thread(kind, str(link))
    assert isinstance(raised, PipesError) and "a symbolic link" in str(raised)
    assert not (tmp_path / "would-be-created").exists()


@pytest.mark.reliability("unsafe-files")
@KINDS
def test_a_fifo_is_refused_without_blocking(tmp_path, kind):
    """A FIFO at the path: a clear error at once, not a session blocked in open()."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    raised = open_in_thread(kind, str(fifo))
    assert isinstance(raised, PipesError)
    assert str(fifo) in str(raised) and "a FIFO, not a regular file" in str(raised)


@pytest.mark.reliability("unsafe-files")
@KINDS
def test_a_fifo_with_a_reader_is_refused(tmp_path, kind):
    """A FIFO someone reads from opens at once: it is still refused, and nothing is written to it."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        raised = open_in_thread(kind, str(fifo))
        assert isinstance(raised, PipesError) and "a FIFO, not a regular file" in str(raised)
        assert os.read(fd, 100) == b""  # nothing was written to it
    finally:
        os.close(fd)


@pytest.mark.reliability("unsafe-files")
@KINDS
def test_a_directory_is_refused(tmp_path, kind):
    """A directory at the path: a clear error naming it."""
    folder = tmp_path / "folder"
    folder.mkdir()
    raised = open_in_thread(kind, str(folder))
    assert isinstance(raised, PipesError)
    assert str(folder) in str(raised) and "a directory, not a regular file" in str(raised)
    assert folder.is_dir()


def test_a_missing_folder_is_a_clear_error(tmp_path):
    path = tmp_path / "missing" / "messages"
    raised = open_in_thread("reader", str(path))
    assert isinstance(raised, PipesError)
    assert str(raised) == f"cannot create the message file {path}: No such file or directory"


@pytest.mark.reliability("unsafe-files")
@KINDS
def test_cleanup_leaves_what_replaced_the_file(tmp_path, kind):
    """Something put at the path during the session is not removed at close, and close does not fail."""
    path = tmp_path / "file"
    with session_at(kind, str(path)):
        os.remove(path)
        path.mkdir()  # e.g. a tool that reused the name
    assert path.is_dir()


@pytest.mark.reliability("unsafe-files")
def test_cleanup_leaves_a_context_file_put_there_by_someone_else(tmp_path):
    """The context file replaced by another regular file during the session: that file stays."""
    path, other = tmp_path / "context", tmp_path / "other"
    with session_at("injector", str(path)):
        other.write_bytes(SECRET)
        os.replace(other, path)
    assert path.read_bytes() == SECRET
