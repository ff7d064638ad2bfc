"""``log_to_stderr_below``: an external process's log lines below a level go to the step's
captured stderr, not one Dagster event each — in real ``dagster.materialize`` runs on an on-disk
(sqlite) instance, read back from what Dagster recorded: its event log and its compute logs.

No ``from __future__ import annotations`` here: Dagster reads the asset's context annotation.
"""

import contextlib
import io
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster
import pytest
from support.helpers import wait_for

from pipes_fast.dagster import PipesSubprocessClient, PipesTempFileMessageReader, open_pipes_session

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.filterwarnings("ignore::dagster.PreviewWarning"),
    # Dagster's context data reads the deprecated context.run_id
    pytest.mark.filterwarnings("ignore:AssetExecutionContext.run_id is deprecated:DeprecationWarning"),
]

LINES = 3_000
EVENT_LINES = ("warning", "a warning ✗"), ("error", "an error")
CHILD = """
import sys

package = __import__(sys.argv[1], fromlist=["open_dagster_pipes"])
with package.open_dagster_pipes() as pipes:
    for i in range({lines}):
        if i == 100:
            pipes.log.warning("a warning ✗")
        if i == 2000:
            pipes.log.error("an error")
        (pipes.log.debug if i % 7 == 0 else pipes.log.info)(f"line {{i}}")
    pipes.log.info("two\\nlines")
    pipes.report_asset_materialization(metadata={{"lines": {lines}}})
"""


def captured_stderr(instance: dagster.DagsterInstance, run_id: str) -> str:
    """The stderr Dagster captured for the run's steps (its compute logs)."""
    manager = instance.compute_log_manager
    texts = []
    for record in instance.all_logs(run_id, of_type=dagster.DagsterEventType.LOGS_CAPTURED):
        file_key = record.dagster_event.logs_captured_data.file_key
        texts.append((manager.get_log_data(manager.build_log_key_for_run(run_id, file_key)).stderr or b"").decode())
    return "".join(texts)


def pipes_lines(stderr: str) -> list[tuple[str, str]]:
    """(LEVEL, text) of each line pipes_fast wrote to the captured stderr, in order (a message's
    later lines appended to its first)."""
    lines: list[tuple[str, str]] = []
    for text in stderr.splitlines():
        if " - pipes - " in text:
            level, message = text.split(" - pipes - ", 1)[1].split(" - ", 1)
            lines.append((level, message))
        elif lines and not text.startswith("20"):  # not a record of Dagster's console
            lines[-1] = (lines[-1][0], f"{lines[-1][1]}\n{text}")
    return lines


def expected_below_warning() -> list[tuple[str, str]]:
    return [("DEBUG" if i % 7 == 0 else "INFO", f"line {i}") for i in range(LINES)] + [("INFO", "two\nlines")]


def materialize(asset: dagster.AssetsDefinition) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Run ``asset`` on a fresh sqlite instance: the (level, message) of every log event of its
    step, and the lines pipes_fast wrote to its captured stderr."""
    with dagster.instance_for_test() as instance:
        result = dagster.materialize([asset], instance=instance)
        assert result.success
        events = [
            (logging.getLevelName(record.level), record.user_message)
            for record in instance.all_logs(result.run_id)
            if record.dagster_event is None and record.step_key == "chatty"
        ]
        return events, pipes_lines(captured_stderr(instance, result.run_id))


@pytest.fixture
def child(tmp_path: Path) -> Path:
    path = tmp_path / "chatty.py"
    path.write_text(CHILD.format(lines=LINES))
    return path


@pytest.mark.parametrize("package", ["pipes_fast.external", "dagster_pipes"])
def test_every_line_below_the_level_is_in_the_captured_stderr(child: Path, package: str) -> None:
    @dagster.asset
    def chatty(context: dagster.AssetExecutionContext) -> Any:
        client = PipesSubprocessClient(log_to_stderr_below="WARNING")
        return client.run(context=context, command=[sys.executable, str(child), package]).get_results()

    events, stderr_lines = materialize(chatty)
    assert stderr_lines == expected_below_warning()
    logged = [(level, text) for level, text in events if not text.startswith("[pipes]")]
    assert logged == [(level.upper(), text) for level, text in EVENT_LINES]


def test_without_it_every_line_is_an_event_as_in_dagster(child: Path, tmp_path: Path) -> None:
    short = tmp_path / "short.py"
    short.write_text(child.read_text().replace(f"range({LINES})", "range(30)"))

    @dagster.asset
    def chatty(context: dagster.AssetExecutionContext) -> Any:
        command = [sys.executable, str(short), "pipes_fast.external"]
        return PipesSubprocessClient().run(context=context, command=command).get_results()

    events, stderr_lines = materialize(chatty)
    assert stderr_lines == []
    assert ("INFO", "line 29") in events and ("DEBUG", "line 28") in events and ("INFO", "two\nlines") in events


def test_open_pipes_session_takes_it_too(child: Path) -> None:
    @dagster.asset
    def chatty(context: dagster.AssetExecutionContext) -> Any:
        reader = PipesTempFileMessageReader()
        with open_pipes_session(
            context, dagster.PipesEnvContextInjector(), reader, log_to_stderr_below=logging.ERROR
        ) as session:
            env = {**os.environ, **session.get_bootstrap_env_vars()}
            subprocess.run([sys.executable, str(child), "pipes_fast.external"], env=env, check=True, timeout=120)
        return session.get_results()

    events, stderr_lines = materialize(chatty)
    assert [line for line in stderr_lines if line[0] == "WARNING"] == [("WARNING", "a warning ✗")]
    assert [line for line in stderr_lines if line[0] != "WARNING"] == expected_below_warning()
    assert ("ERROR", "an error") in events and ("WARNING", "a warning ✗") not in events


WAITING_CHILD = """
import sys

from pipes_fast.external import open_dagster_pipes

with open_dagster_pipes() as pipes:
    pipes.log.info("before the wait")
    sys.stdin.readline()  # until the orchestrator saw the line
"""


PIPES_LINE = " - pipes - INFO - before the wait\n"


def test_a_line_reaches_stderr_while_the_process_runs(tmp_path: Path) -> None:
    child = tmp_path / "waiting.py"
    child.write_text(WAITING_CHILD)
    seen = io.StringIO()

    @dagster.asset
    def chatty(context: dagster.AssetExecutionContext) -> Any:
        reader = PipesTempFileMessageReader()
        with open_pipes_session(
            context, dagster.PipesEnvContextInjector(), reader, log_to_stderr_below="WARNING"
        ) as session:
            env = {**os.environ, **session.get_bootstrap_env_vars()}
            process = subprocess.Popen([sys.executable, str(child)], env=env, stdin=subprocess.PIPE)
            try:
                with contextlib.redirect_stderr(seen):
                    wait_for(lambda: PIPES_LINE in seen.getvalue(), "the line on stderr")
            finally:
                process.communicate(b"go\n", timeout=60)
        return session.get_results()

    with dagster.instance_for_test() as instance:
        assert dagster.materialize([chatty], instance=instance).success
    assert seen.getvalue().count(PIPES_LINE) == 1


@pytest.mark.parametrize("level", ["LOUD", "", -1, 2.5, True])
def test_a_level_that_is_none_is_refused_at_once(level: Any) -> None:
    with pytest.raises(ValueError, match="log_to_stderr_below must be a log level"):
        PipesSubprocessClient(log_to_stderr_below=level)
