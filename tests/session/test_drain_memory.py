"""A consumer that drains custom messages in bounded batches keeps memory bounded, through the
session's close too: the backlog stays in the file and is read as the consumer drains it."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
import time

import pytest

from pipes_fast import PipesEnvContextInjector, PipesTempFileMessageReader, StepContext, open_pipes_session
from pipes_fast._logic import flow as _flow

LIMIT = 2_000
MESSAGES = 60_000
WRITER = textwrap.dedent("""
    import sys
    from pipes_fast.external import open_dagster_pipes
    with open_dagster_pipes() as pipes:
        for i in range(int(sys.argv[1])):
            pipes.report_custom_message({"i": i, "text": "x" * 40})
""")


@pytest.fixture(autouse=True)
def small_limit(monkeypatch):
    monkeypatch.setattr(_flow, "MAX_QUEUED_CUSTOM_MESSAGES", LIMIT)


def start_writer(session, count=MESSAGES):
    env = {**os.environ, **session.get_bootstrap_env_vars()}
    return subprocess.Popen([sys.executable, "-c", WRITER, str(count)], env=env)


def check_order(batch, expected_first):
    assert [p["i"] for p in batch] == list(range(expected_first, expected_first + len(batch)))
    return expected_first + len(batch)


@pytest.mark.reliability("drain-memory")
def test_bounded_draining_stays_bounded_through_close():
    peak, received = 0, 0
    with open_pipes_session(StepContext(), PipesEnvContextInjector(), PipesTempFileMessageReader()) as session:
        flow = session.message_handler.flow
        writer = start_writer(session)
        while writer.poll() is None:  # a slow consumer: the reader runs ahead only up to the limit
            peak = max(peak, flow.queued)
            received = check_order(session.drain_custom_messages(max_messages=100), received)
            time.sleep(0.001)
        assert writer.wait(timeout=120) == 0
    assert not session.closed  # the backlog is still in the file, not in memory
    while batch := session.drain_custom_messages(max_messages=500):
        peak = max(peak, flow.queued + len(batch))
        received = check_order(batch, received)
    assert received == MESSAGES
    assert peak <= LIMIT + 1_000  # the limit, plus at most one chunk's worth read past it
    assert session.closed and session.message_handler.received_closed_message
    assert session.get_results() == []


@pytest.mark.reliability("drain-memory")
@pytest.mark.parametrize("finish", ["drain everything", "get_results", "get_custom_messages"])
def test_asking_for_everything_after_a_bounded_drain_gets_everything(finish):
    with open_pipes_session(StepContext(), PipesEnvContextInjector(), PipesTempFileMessageReader()) as session:
        writer = start_writer(session)
        first = session.drain_custom_messages(max_messages=10)
        assert writer.wait(timeout=120) == 0
    if finish == "drain everything":
        rest = session.drain_custom_messages()
    elif finish == "get_results":
        assert session.get_results() == []
        rest = session.drain_custom_messages()
    else:
        rest = list(session.get_custom_messages())
    assert [p["i"] for p in first + rest] == list(range(MESSAGES))
    assert session.closed


@pytest.mark.reliability("drain-memory")
def test_a_consumer_that_goes_away_does_not_leave_the_reader_waiting():
    """The reader of a deferred close waits for its consumer (the rest of the stream still in its
    file); once the session is gone it reads the rest, finishes and removes the file."""
    with open_pipes_session(StepContext(), PipesEnvContextInjector(), PipesTempFileMessageReader()) as session:
        writer = start_writer(session)
        session.drain_custom_messages(max_messages=10)
        assert writer.wait(timeout=120) == 0
    messages_file = session.message_reader_params["path"]
    assert os.path.exists(messages_file)  # its reader, waiting for the consumer, has not finished
    del session
    gc.collect()
    deadline = time.monotonic() + 60
    while os.path.exists(messages_file) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(messages_file), "the reader still waits for a consumer that went away"


def test_unbounded_draining_is_unchanged():
    """Without ``max_messages`` the session reads everything at close, as before."""
    with open_pipes_session(StepContext(), PipesEnvContextInjector(), PipesTempFileMessageReader()) as session:
        writer = start_writer(session, 5_000)
        received = check_order(session.drain_custom_messages(), 0)
        assert writer.wait(timeout=120) == 0
    assert session.closed
    assert check_order(session.drain_custom_messages(), received) == 5_000
