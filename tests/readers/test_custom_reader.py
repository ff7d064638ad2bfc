"""What users build on the session and handler: a custom message reader calling
``handle_message``, and ``PipesSession.created_at`` as the cutoff for reading logs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from pipes_fast import (
    AssetKey,
    MaterializeResult,
    MetadataValue,
    PipesEnvContextInjector,
    PipesMessageReader,
    StepContext,
    open_pipes_session,
)
from pipes_fast.handler import PipesMessageHandler

EXTERNAL = textwrap.dedent("""
    import json, socket, sys
    from dagster_pipes import PipesContext, PipesDefaultContextLoader, PipesEnvVarParamsLoader, PipesMessageWriter
    from dagster_pipes import PipesMessageWriterChannel

    class SocketChannel(PipesMessageWriterChannel):
        def __init__(self, port):
            self._socket = socket.create_connection(("127.0.0.1", port))
        def write_message(self, message):
            self._socket.sendall((json.dumps(message) + "\\n").encode())
        def close(self):
            self._socket.close()

    class SocketWriter(PipesMessageWriter):
        def open(self, params):
            from contextlib import contextmanager
            @contextmanager
            def channel():
                c = SocketChannel(params["port"])
                try:
                    yield c
                finally:
                    c.close()
            return channel()

    with PipesContext(PipesEnvVarParamsLoader(), PipesDefaultContextLoader(), SocketWriter()) as pipes:
        pipes.report_asset_materialization(metadata={"rows": 3}, data_version="v1")
        pipes.report_custom_message({"via": "socket"})
""")


class SocketMessageReader(PipesMessageReader):
    """A reader of the kind users write for their own transport: messages arrive on a TCP socket
    on 127.0.0.1, one JSON object per line, and go to ``handler.handle_message``."""

    @contextmanager
    def read_messages(self, handler: PipesMessageHandler) -> Iterator[dict[str, Any]]:
        with socket.create_server(("127.0.0.1", 0)) as server:
            server.settimeout(30)
            thread = threading.Thread(target=self._serve, args=(server, handler), daemon=True)
            thread.start()
            yield {"port": server.getsockname()[1]}
            thread.join(timeout=30)
            assert not thread.is_alive(), "the external process never closed its connection"

    def _serve(self, server: socket.socket, handler: PipesMessageHandler) -> None:
        connection, _ = server.accept()
        with connection, connection.makefile("rb") as lines:
            for line in lines:
                handler.handle_message(json.loads(line))

    def no_messages_debug_text(self) -> str:
        return "Attempted to read messages from a socket."


def test_a_custom_reader_feeds_the_handler_message_by_message():
    with open_pipes_session(StepContext("orders"), PipesEnvContextInjector(), SocketMessageReader()) as session:
        env = {**os.environ, **session.get_bootstrap_env_vars()}
        subprocess.run([sys.executable, "-c", EXTERNAL], env=env, check=True, timeout=60)
    assert session.get_results() == [MaterializeResult(AssetKey("orders"), {"rows": MetadataValue("int", 3)}, "v1")]
    assert session.get_custom_messages() == ({"via": "socket"},)
    assert session.message_handler.received_closed_message


def test_created_at_is_the_cutoff_for_what_the_session_should_read(tmp_path):
    """A user reading log files keeps those written since the session was created (Dagster's log
    readers use ``created_at`` this way)."""
    old = tmp_path / "old.log"
    old.write_text("from an earlier run\n")
    os.utime(old, (0, 0))
    with open_pipes_session(StepContext("orders"), PipesEnvContextInjector(), SocketMessageReader()) as session:
        new = tmp_path / "new.log"
        new.write_text("from this run\n")
        cutoff = session.created_at.timestamp()
        fresh = [p.name for p in sorted(tmp_path.iterdir()) if p.stat().st_mtime >= cutoff - 1]
        env = {**os.environ, **session.get_bootstrap_env_vars()}
        subprocess.run([sys.executable, "-c", EXTERNAL], env=env, check=True, timeout=60)
    assert fresh == ["new.log"]
    assert isinstance(session.created_at, datetime) and session.created_at <= datetime.now()
