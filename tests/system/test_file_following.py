"""The message file removed, renamed away, replaced or truncated while the session runs: the
reader finishes the old file, goes on with the new one at the path, and says so."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
from support.helpers import capturing_logger, closed, custom, opened, wait_for

from pipes_fast import PipesEnvContextInjector, PipesFileMessageReader, StepContext, open_pipes_session

HALF = 50

WRITER = """
import os, sys, time
from dagster_pipes import open_dagster_pipes

go, half = sys.argv[1], int(sys.argv[2])
with open_dagster_pipes() as pipes:
    for i in range(half):
        pipes.report_custom_message(i)
    deadline = time.monotonic() + 60
    while not os.path.exists(go):
        assert time.monotonic() < deadline, "never told to go on"
        time.sleep(0.005)
    for i in range(half, 2 * half):
        pipes.report_custom_message(i)
"""
"""dagster-pipes' own writer, which opens the file (mode "a") for every message: it reports
``half`` messages, waits for the file ``go``, then reports ``half`` more."""


def remove(path: str) -> None:
    os.remove(path)


def rotate(path: str) -> None:
    os.rename(path, path + ".1")


def replace(path: str) -> None:
    with open(path + ".new", "w"):
        pass
    os.replace(path + ".new", path)


def truncate(path: str) -> None:
    os.truncate(path, 0)


SWITCHED = "was removed or replaced: reading the new file there from its start"
TRUNCATED = "was truncated: reading it again from its start"
EVENTS = pytest.mark.parametrize(
    ("event", "warning"),
    [(remove, SWITCHED), (rotate, SWITCHED), (replace, SWITCHED), (truncate, TRUNCATED)],
    ids=["removed", "renamed-away", "replaced", "truncated"],
)


def append(path: str, text: str) -> None:
    with open(path, "a") as f:
        f.write(text)


@pytest.mark.reliability("file-replaced")
@EVENTS
def test_a_dagster_pipes_writer_goes_on_after_the_file_changed(tmp_path, event, warning):
    """dagster-pipes' writer, its message file changed midway: every message after it arrives, in order."""
    path, go = str(tmp_path / "messages"), tmp_path / "go"
    logger, logs = capturing_logger("following")
    reader = PipesFileMessageReader(path)
    with open_pipes_session(StepContext(log=logger), PipesEnvContextInjector(), reader) as session:
        env = {**os.environ, **session.get_bootstrap_env_vars()}
        process = subprocess.Popen([sys.executable, "-c", WRITER, str(go), str(HALF)], env=env)
        try:
            wait_for(lambda: len(session.get_custom_messages()) == HALF, "the first half")
            event(path)
            if event is truncate:  # seen by size only: the writer must not outgrow the old size first
                wait_for(lambda: logs.messages(logging.WARNING), "the truncation to be noticed")
            go.touch()
            assert process.wait(timeout=60) == 0
        finally:
            process.kill()
    assert list(session.get_custom_messages()) == list(range(2 * HALF))
    assert session.message_handler.received_closed_message
    assert logs.messages(logging.WARNING) == [f"[pipes] {path} {warning}"]
    assert not os.path.exists(path)  # the file followed last is the reader's to clean up


@pytest.mark.reliability("file-replaced")
@pytest.mark.parametrize(
    ("event", "warning"), [(remove, SWITCHED), (truncate, TRUNCATED)], ids=["removed", "truncated"]
)
def test_a_line_torn_by_the_change_is_not_glued_to_the_next_file(tmp_path, event, warning):
    """A line cut short when the file changed is reported on its own; the new file's first message arrives."""
    path = str(tmp_path / "messages")
    logger, logs = capturing_logger("torn-switch")
    with open_pipes_session(
        StepContext(log=logger), PipesEnvContextInjector(), PipesFileMessageReader(path)
    ) as session:
        append(path, opened() + custom(1) + '{"torn": ')
        wait_for(lambda: len(session.get_custom_messages()) == 1, "the first message")
        event(path)
        if event is truncate:
            wait_for(lambda: logs.messages(logging.WARNING), "the truncation to be noticed")
        append(path, custom(2) + closed())
    assert list(session.get_custom_messages()) == [1, 2]
    assert session.message_handler.received_closed_message
    switch, torn = logs.messages(logging.WARNING)
    assert switch == f"[pipes] {path} {warning}"
    assert torn.startswith(f"[pipes] skipped line of file {path} line 3: ") and '{"torn": ' in torn


@pytest.mark.reliability("file-replaced")
def test_a_new_file_that_appears_as_the_session_closes_is_read(tmp_path):
    """The file replaced, with the last messages in the new one, just before the session closes."""
    path = str(tmp_path / "messages")
    logger, logs = capturing_logger("closing-switch")
    with open_pipes_session(
        StepContext(log=logger), PipesEnvContextInjector(), PipesFileMessageReader(path)
    ) as session:
        append(path, opened() + custom(1))
        wait_for(lambda: len(session.get_custom_messages()) == 1, "the first message")
        append(path + ".new", custom(2) + closed())
        os.replace(path + ".new", path)
    assert list(session.get_custom_messages()) == [1, 2]
    assert session.message_handler.received_closed_message
    assert logs.messages(logging.WARNING) == [f"[pipes] {path} {SWITCHED}"]
