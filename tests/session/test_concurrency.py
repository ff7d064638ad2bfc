"""Many sessions at once in one orchestrator: every message reaches its own session, in order.

Runs on the hot-path implementation in use (``PIPES_FAST_NO_EXTENSIONS=1`` for the pure implementation).
"""

from __future__ import annotations

import os
import random
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from support.helpers import closed, custom, opened

from pipes_fast import (
    AssetKey,
    MaterializeResult,
    MetadataValue,
    PipesEnvContextInjector,
    PipesSubprocessClient,
    PipesTempFileMessageReader,
    StepContext,
    open_pipes_session,
)

SESSIONS = 32
WAIT = 120.0  # seconds allowed for all sessions together

EXTERNAL = """\
from pipes_fast.external import open_dagster_pipes

with open_dagster_pipes() as pipes:
    session = pipes.get_extra("session")
    for index in range(pipes.get_extra("count")):
        pipes.report_custom_message({"session": session, "index": index})
    pipes.report_asset_materialization(metadata={"session": session})
"""


def run_sessions(one: Callable[[int], Any]) -> list[Any]:
    """``one(n)`` for n in 0..SESSIONS-1, all at once, each in its own thread; their results."""
    with ThreadPoolExecutor(max_workers=SESSIONS) as pool:
        futures = [pool.submit(one, n) for n in range(SESSIONS)]
        return [future.result(timeout=WAIT) for future in futures]


@pytest.mark.reliability("concurrent-sessions")
def test_32_subprocess_sessions_each_get_their_own_messages(tmp_path: Path) -> None:
    """32 PipesSubprocessClient runs at once, each a real external process reporting 300 messages."""
    script = tmp_path / "external.py"
    script.write_text(EXTERNAL)
    count = 300

    def one(n: int) -> tuple[list[Any], list[Any]]:
        invocation = PipesSubprocessClient(forward_stdio=False).run(
            context=StepContext(f"asset_{n}"),
            command=[sys.executable, str(script)],
            extras={"session": n, "count": count},
        )
        return list(invocation.get_custom_messages()), invocation.get_results()

    for n, (messages, results) in enumerate(run_sessions(one)):
        assert messages == [{"session": n, "index": index} for index in range(count)]
        assert results == [MaterializeResult(AssetKey(f"asset_{n}"), {"session": MetadataValue("int", n)})]


@pytest.mark.reliability("concurrent-sessions")
def test_32_sessions_with_writer_threads_tearing_their_lines() -> None:
    """32 open_pipes_session at once, each fed by a thread writing 2000 messages in pieces of random size."""
    count = 2000

    def write(path: str, n: int) -> None:
        stream = (opened() + "".join(custom([n, index]) for index in range(count)) + closed()).encode()
        pieces = random.Random(n)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            start = 0
            while start < len(stream):
                end = start + pieces.randint(1, 4096)
                os.write(fd, stream[start:end])
                start = end
        finally:
            os.close(fd)

    def one(n: int) -> list[Any]:
        with open_pipes_session(StepContext(), PipesEnvContextInjector(), PipesTempFileMessageReader()) as session:
            writer = threading.Thread(target=write, args=(session.message_reader_params["path"], n))
            writer.start()
            writer.join(WAIT)
            assert not writer.is_alive()
        return list(session.get_custom_messages())

    for n, messages in enumerate(run_sessions(one)):
        assert messages == [[n, index] for index in range(count)]
