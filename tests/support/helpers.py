"""Test helpers for the orchestration side: message lines and scripted external processes."""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from pipes_fast.protocol import make_message
from support import SCRIPTS

EMIT = str(SCRIPTS / "emit.py")


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def line(method: str, params: Any = None) -> str:
    """One message line as the external process writes it (text, newline included)."""
    return orjson.dumps(make_message(method, params)).decode() + "\n"  # type: ignore[arg-type]


def opened() -> str:
    return line("opened", {"extras": {}})


def closed(exception: Any = None) -> str:
    return line("closed", {"exception": exception} if exception else {})


def materialization(key: str, metadata: Any = None, data_version: Any = None) -> str:
    return line("report_asset_materialization", {"asset_key": key, "metadata": metadata, "data_version": data_version})


def custom(payload: Any) -> str:
    return line("report_custom_message", {"payload": payload})


def chunk(*lines: str) -> bytes:
    """A blob-store chunk as dagster-pipes writes it: the lines joined by newlines, none at the end."""
    return "\n".join(text.rstrip("\n") for text in lines).encode()


def script(tmp_path: Path, steps: list[dict[str, Any]]) -> list[str]:
    """The command running ``emit.py`` with these steps."""
    spec = tmp_path / f"spec-{len(list(tmp_path.glob('spec-*')))}.json"
    spec.write_text(json.dumps(steps))
    return [sys.executable, EMIT, str(spec)]


class ListHandler(logging.Handler):
    """Keeps log records for assertions."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self, level: int | None = None) -> list[str]:
        return [r.getMessage() for r in self.records if level is None or r.levelno == level]


def capturing_logger(name: str) -> tuple[logging.Logger, ListHandler]:
    logger = logging.getLogger(f"pipes_fast.test.{name}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    handler = ListHandler()
    logger.handlers[:] = [handler]
    return logger, handler


DAGSTER_CLIENTS = ["dagster", "pipes_fast.dagster"]
"""The two clients a Dagster asset can run a Pipes script with, by module."""


def materialize_in_dagster(orchestrator: str, script: str, **client_args: Any) -> Any:
    """The materialization a one-asset ``dagster.materialize`` records when its asset runs
    ``python -c script`` through ``orchestrator``'s ``PipesSubprocessClient(**client_args)``."""
    import dagster

    import pipes_fast.dagster

    client_class = (
        dagster.PipesSubprocessClient if orchestrator == "dagster" else pipes_fast.dagster.PipesSubprocessClient
    )
    client = client_class(**client_args)

    @dagster.asset
    def orders(context):  # noqa: ANN001, ANN202 - Dagster reads the annotation, which would be a string here
        return client.run(context=context, command=[sys.executable, "-c", script]).get_results()

    (event,) = dagster.materialize([orders]).get_asset_materialization_events()
    return event.materialization


def read_pty(master: int, process: subprocess.Popen[bytes], until: str = "", timeout: float = 60.0) -> str:
    """What arrives on the pty's master side: until ``until`` appears, or (with none) until the process exited."""
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if until and until.encode() in data:
            return data.decode()
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                piece = os.read(master, 65536)
            except OSError:  # EIO: every slave side is closed
                piece = b""
            if not piece and process.poll() is not None:
                break
            data += piece
        elif not until and process.poll() is not None:
            break
    assert not until, f"{until!r} never appeared in {data.decode(errors='replace')!r}"
    return data.decode()


@contextmanager
def stderr_on_a_terminal(command: Sequence[str]) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``command`` running with its stdout a pipe and its stderr a pseudo-terminal: the process and
    the pty's master side (for :func:`read_pty`), closed when the block ends."""
    master, slave = os.openpty()
    try:
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=slave) as process:
            os.close(slave)
            slave = -1
            yield process, master
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
