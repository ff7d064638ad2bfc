"""Sessions: bootstrap params, draining results, implicit materializations, warnings, cleanup."""

from __future__ import annotations

import gc
import json
import logging
import os
import stat
import subprocess
import sys
import textwrap
import time

import pytest
from support.helpers import capturing_logger, closed, custom, materialization, opened, script

from pipes_fast import (
    AssetKey,
    MaterializeResult,
    MetadataValue,
    PipesEnvContextInjector,
    PipesFileContextInjector,
    PipesFileMessageReader,
    PipesTempFileContextInjector,
    PipesTempFileMessageReader,
    StepContext,
    decode_param,
    open_pipes_session,
)


def run_in(session, command):
    subprocess.run(command, env={**os.environ, **session.get_bootstrap_env_vars()}, check=True)


def test_bootstrap_params_env_and_cli(tmp_path):
    with open_pipes_session(
        StepContext("a"), PipesEnvContextInjector(), PipesTempFileMessageReader(), extras={"x": 1}
    ) as session:
        params = session.get_bootstrap_params()
        env = session.get_bootstrap_env_vars()
        cli = session.get_bootstrap_cli_arguments()
    assert params["DAGSTER_PIPES_CONTEXT"]["data"]["extras"] == {"x": 1}
    assert decode_param(env["DAGSTER_PIPES_MESSAGES"]) == params["DAGSTER_PIPES_MESSAGES"]
    assert cli == {
        "--dagster-pipes-context": env["DAGSTER_PIPES_CONTEXT"],
        "--dagster-pipes-messages": env["DAGSTER_PIPES_MESSAGES"],
    }
    assert params["DAGSTER_PIPES_MESSAGES"]["include_stdio_in_messages"] is False


def test_results_are_drained_once_and_implicit_ones_come_after_close(tmp_path):
    context = StepContext(["a", "b", "c"])
    with open_pipes_session(context, PipesTempFileContextInjector(), PipesTempFileMessageReader()) as session:
        run_in(session, script(tmp_path, [{"write": opened() + materialization("a", data_version="1")}]))
        while not session.get_reported_results():
            time.sleep(0.01)  # the reader thread delivers it
        first = session.get_results()
        run_in(session, script(tmp_path, [{"write": materialization("b") + closed()}]))
    assert first == [MaterializeResult(AssetKey("a"), {}, "1")]
    after = session.get_results(metadata={"job": "j1"})
    assert after == [
        MaterializeResult(AssetKey("b"), {"job": MetadataValue("text", "j1")}),
        MaterializeResult(AssetKey("c"), {"job": MetadataValue("text", "j1")}),
    ]
    assert session.get_results() == []


def test_no_implicit_materializations_when_asked(tmp_path):
    with open_pipes_session(StepContext(["a"]), PipesEnvContextInjector(), PipesTempFileMessageReader()) as session:
        run_in(session, script(tmp_path, [{"write": opened() + closed()}]))
    assert session.get_results(implicit_materializations=False) == []
    assert session.get_results() == [MaterializeResult(AssetKey("a"))]


def test_custom_messages_can_be_consumed_in_constant_memory(tmp_path):
    with open_pipes_session(StepContext(), PipesEnvContextInjector(), PipesTempFileMessageReader()) as session:
        run_in(session, script(tmp_path, [{"write": opened() + "".join(custom(i) for i in range(1000))}]))
        seen = []
        while len(seen) < 1000:
            seen += session.drain_custom_messages()
        run_in(session, script(tmp_path, [{"write": custom("last") + closed()}]))
    assert seen == list(range(1000))
    assert session.get_custom_messages() == ("last",)


@pytest.mark.parametrize(
    ("steps", "warning"),
    [
        ([], "did not receive any messages from external process"),
        ([{"write": opened()}], "did not receive closed message from external process"),
    ],
)
def test_warnings_when_the_process_never_opened_or_closed(tmp_path, steps, warning):
    logger, logs = capturing_logger("session")
    with open_pipes_session(
        StepContext(log=logger), PipesEnvContextInjector(), PipesTempFileMessageReader()
    ) as session:
        run_in(session, script(tmp_path, steps))
    (message,) = logs.messages(logging.WARNING)
    assert warning in message
    if not steps:
        assert "PipesEnvContextInjector: Attempted to inject context directly" in message
        assert "PipesTempFileMessageReader: Attempted to read messages from a local temporary file." in message


def test_context_and_message_files_are_private_and_removed(tmp_path):
    context_path, messages_path = tmp_path / "ctx.json", tmp_path / "msgs"
    injector, reader = PipesFileContextInjector(str(context_path)), PipesFileMessageReader(str(messages_path))
    with open_pipes_session(StepContext("a", run_id="r"), injector, reader) as session:
        for path in (context_path, messages_path):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert json.loads(context_path.read_text())["run_id"] == "r"
        run_in(session, script(tmp_path, [{"write": opened() + closed()}]))
    assert not context_path.exists() and not messages_path.exists()


def test_temporary_files_are_private_and_removed(tmp_path):
    reader = PipesTempFileMessageReader()
    paths = []
    for _ in range(2):
        with open_pipes_session(StepContext(), PipesTempFileContextInjector(), reader) as session:
            context_file, messages_file = session.context_injector_params["path"], session.message_reader_params["path"]
            messages_folder = os.path.dirname(messages_file)
            assert stat.S_IMODE(os.stat(context_file).st_mode) == 0o600
            assert stat.S_IMODE(os.stat(messages_file).st_mode) == 0o600
            assert stat.S_IMODE(os.stat(messages_folder).st_mode) == 0o700
        assert not os.path.exists(context_file) and not os.path.exists(messages_file)
        paths.append(messages_file)
    assert paths[0] != paths[1] and os.path.dirname(paths[0]) == os.path.dirname(paths[1])  # one folder per reader
    del reader, session
    gc.collect()
    assert not os.path.exists(messages_folder)


def test_a_temporary_folder_removed_underneath_is_made_again(tmp_path):
    reader = PipesTempFileMessageReader()
    with open_pipes_session(StepContext(), PipesEnvContextInjector(), reader) as session:
        first = os.path.dirname(session.message_reader_params["path"])
    os.rmdir(first)  # a cleaner of temporary folders went by
    with open_pipes_session(StepContext(), PipesEnvContextInjector(), reader) as session:
        assert os.path.isdir(os.path.dirname(session.message_reader_params["path"]))


def test_the_temporary_folder_goes_away_at_exit_in_the_process_that_made_it(tmp_path):
    """A forked child leaves the folder to its parent; the parent removes it when it exits."""
    code = textwrap.dedent("""
        import os, sys
        from pipes_fast import PipesEnvContextInjector, PipesTempFileMessageReader, StepContext, open_pipes_session
        reader = PipesTempFileMessageReader()
        with open_pipes_session(StepContext(), PipesEnvContextInjector(), reader) as session:
            print(os.path.dirname(session.message_reader_params["path"]), flush=True)
        if os.fork() == 0:
            sys.exit(0)  # the child's exit runs its exit hooks: the folder must survive them
        os.wait()
        print(os.path.isdir(os.path.dirname(session.message_reader_params["path"])), flush=True)
    """)
    folder, survived = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert survived == "True" and not os.path.exists(folder)


def test_cleanup_file_false_keeps_the_messages(tmp_path):
    path = tmp_path / "keep"
    with open_pipes_session(
        StepContext(), PipesEnvContextInjector(), PipesFileMessageReader(str(path), cleanup_file=False)
    ) as session:
        run_in(session, script(tmp_path, [{"write": opened() + closed()}]))
    assert path.read_text() == opened() + closed()


def test_extras_that_are_not_json_are_a_clear_error():
    from pipes_fast import PipesError

    with pytest.raises(PipesError, match="not JSON-serialisable"):
        with open_pipes_session(
            StepContext(), PipesTempFileContextInjector(), PipesTempFileMessageReader(), extras={"o": object()}
        ):
            pass
