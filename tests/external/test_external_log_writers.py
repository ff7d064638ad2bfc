"""dagster-pipes' behaviours hold in pipes_fast.external: log writers capture stdout and stderr
(children's too) into files or ``log_external_stream`` messages (pipes_fast keeps the streams
apart: dagster-pipes' stderr ``tee`` writes into its stdout capture, so its stdout holds both), a user's own log writer works
as it does there, the Prefect writer keeps each message under its size limit, and a context
closes once and refuses messages after. Each scenario runs on both packages: log writers in a real
process (they redirect file descriptors) whose only change is ``sys.modules["dagster_pipes"] =
pipes_fast.external``, the rest side by side in this one."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import dagster_pipes
import pytest

import pipes_fast.external

MODULES = {"dagster_pipes": dagster_pipes, "pipes_fast.external": pipes_fast.external}
SWAP = "import pipes_fast.external\nsys.modules['dagster_pipes'] = pipes_fast.external\n"

pytestmark = [pytest.mark.reliability("one-import-external"), pytest.mark.timeout(300)]


def run(script: str, folder: Path, swap: bool) -> tuple[Any, str]:
    """Run ``script`` (which imports dagster_pipes, or pipes_fast.external in its place) with a
    scratch folder as ``sys.argv[1]``; its result is what it dumped to ``folder/result.json``."""
    folder.mkdir()
    prelude = "import sys\n" + (SWAP if swap else "")
    done = subprocess.run(
        [sys.executable, "-c", prelude + script, str(folder)], capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr
    return json.loads((folder / "result.json").read_text()), done.stderr


def both(script: str, tmp_path: Path) -> tuple[tuple[Any, str], tuple[Any, str]]:
    return run(script, tmp_path / "theirs", swap=False), run(script, tmp_path / "ours", swap=True)


WRITE_SOME_OUTPUT = """
def write_some_output():
    import os, subprocess
    for i in range(3):
        print(f"to stdout {i}", flush=True)
        print(f"to stderr {i}", file=sys.stderr, flush=True)
    os.write(1, b"from fd 1\\n")
    subprocess.run(["sh", "-c", "echo from a child; echo child to stderr >&2"], check=True)
"""

FILE_LOG_WRITER = (
    WRITE_SOME_OUTPUT
    + """
import json, os
from dagster_pipes import PipesStdioFileLogWriter
logs = os.path.join(sys.argv[1], "logs")
with PipesStdioFileLogWriter(interval=0.1).open({"logs_dir": logs}):
    write_some_output()
print("not captured", flush=True)
print("not captured", file=sys.stderr, flush=True)
result = {name: open(os.path.join(logs, name)).read() for name in sorted(os.listdir(logs))}
json.dump(result, open(os.path.join(sys.argv[1], "result.json"), "w"))
"""
)


def test_the_file_log_writer_writes_each_stream_to_its_file(tmp_path: Path) -> None:
    (theirs, _), (ours, _) = both(FILE_LOG_WRITER, tmp_path)
    assert ours == {"stdout": STDOUT, "stderr": STDERR}
    assert_same_output(ours, theirs)


STDOUT = "to stdout 0\nto stdout 1\nto stdout 2\nfrom fd 1\nfrom a child\n"
STDERR = "to stderr 0\nto stderr 1\nto stderr 2\nchild to stderr\n"


def assert_same_output(ours: dict[str, str], theirs: dict[str, str]) -> None:
    """The same stderr, and dagster-pipes' stdout holds ours, in order, with stderr's output mixed
    in wherever its tee wrote it (a line's text and its newline may land apart)."""
    assert ours["stderr"] == theirs["stderr"]
    their_stdout = theirs["stdout"]
    for line in ours["stderr"].splitlines():
        their_stdout = their_stdout.replace(line, "", 1)
    assert [line for line in their_stdout.splitlines() if line] == ours["stdout"].splitlines()


DEFAULT_LOG_WRITER = (
    WRITE_SOME_OUTPUT
    + """
import json, os
from dagster_pipes import PipesDefaultLogWriter, PipesDefaultMessageWriter, PipesFileMessageWriterChannel
path = os.path.join(sys.argv[1], "messages")
channel = PipesFileMessageWriterChannel(path)
with PipesDefaultLogWriter(message_channel=channel).open({PipesDefaultMessageWriter.INCLUDE_STDIO_IN_MESSAGES_KEY: True}):
    write_some_output()
text = {"stdout": "", "stderr": ""}
methods = set()
for line in open(path):
    message = json.loads(line)
    methods.add(message["method"])
    text[message["params"]["stream"]] += message["params"]["text"]
json.dump({"text": text, "methods": sorted(methods)}, open(os.path.join(sys.argv[1], "result.json"), "w"))
"""
)


def test_the_default_log_writer_sends_each_stream_as_messages(tmp_path: Path) -> None:
    (theirs, _), (ours, _) = both(DEFAULT_LOG_WRITER, tmp_path)
    assert ours["methods"] == theirs["methods"] == ["log_external_stream"]
    assert ours["text"] == {"stdout": STDOUT, "stderr": STDERR}
    assert_same_output(ours["text"], theirs["text"])


STDIO_IN_MESSAGES = (
    WRITE_SOME_OUTPUT
    + """
import json, os
from dagster_pipes import PipesMappingParamsLoader, encode_param, open_dagster_pipes
path = os.path.join(sys.argv[1], "messages")
data = {"asset_keys": ["a"], "code_version_by_asset_key": None, "provenance_by_asset_key": None, "partition_key": None,
        "partition_key_range": None, "partition_time_window": None, "run_id": "r", "job_name": None,
        "retry_number": 0, "extras": {}}
params = PipesMappingParamsLoader({"DAGSTER_PIPES_CONTEXT": encode_param({"data": data}),
                                   "DAGSTER_PIPES_MESSAGES": encode_param({"path": path, "include_stdio_in_messages": True})})
with open_dagster_pipes(params_loader=params) as pipes:
    write_some_output()
    pipes.report_asset_materialization()
messages = [json.loads(line) for line in open(path)]
text = {"stdout": "", "stderr": ""}
for message in messages:
    if message["method"] == "log_external_stream":
        text[message["params"]["stream"]] += message["params"]["text"]
json.dump({"methods": [m["method"] for m in messages], "text": text}, open(os.path.join(sys.argv[1], "result.json"), "w"))
"""
)


def test_include_stdio_in_messages_sends_the_output_with_the_reports(tmp_path: Path) -> None:
    """The same output and reports; pipes_fast sends all the output before ``closed`` (dagster-pipes
    stops its capture after it, so the orchestration side may see output after the end)."""
    (theirs, _), (ours, _) = both(STDIO_IN_MESSAGES, tmp_path)
    assert ours["text"] == {"stdout": STDOUT, "stderr": STDERR}
    assert_same_output(ours["text"], theirs["text"])
    for result in (ours, theirs):
        assert [m for m in result["methods"] if m != "log_external_stream"] == [
            "opened",
            "report_asset_materialization",
            "closed",
        ]
    assert ours["methods"][-1] == "closed"


USERS_LOG_WRITER = """
import json, os
from dagster_pipes import PipesStdioLogWriter, PipesStdioLogWriterChannel
chunks = {"stdout": [], "stderr": []}

class Collecting(PipesStdioLogWriterChannel):
    def write_chunk(self, chunk):
        if self.stream == "stderr":
            raise RuntimeError("this chunk is refused")
        chunks[self.stream].append(chunk)

class Collector(PipesStdioLogWriter):
    def make_channel(self, params, stream):
        return Collecting(stream=stream, interval=params["interval"], name=f"collector({stream})")

with Collector().open({"interval": 0.1}):
    print("kept", flush=True)
    print("refused", file=sys.stderr, flush=True)
    print("kept too", flush=True)
json.dump({s: "".join(c) for s, c in chunks.items()}, open(os.path.join(sys.argv[1], "result.json"), "w"))
"""


def test_a_users_own_log_writer_gets_every_chunk_and_its_failures_are_reported(tmp_path: Path) -> None:
    (theirs, their_err), (ours, our_err) = both(USERS_LOG_WRITER, tmp_path)
    assert ours == {"stdout": "kept\nkept too\n", "stderr": ""}
    assert [line for line in theirs["stdout"].splitlines() if line != "refused"] == ["kept", "kept too"]
    for stderr in (their_err, our_err):
        assert "Exception in thread collector(stderr):\nthis chunk is refused" in stderr


# ----- the Prefect logs writer -----


@pytest.fixture(params=MODULES.values(), ids=MODULES.keys())
def m(request: pytest.FixtureRequest) -> ModuleType:
    module: ModuleType = request.param
    return module


def written(caplog: pytest.LogCaptureFixture, m: ModuleType) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == m.PipesPrefectLogsMessageWriter.LOGGER_NAME]


def message(method: str, params: Any) -> Any:
    return {"__dagster_pipes_version": "0.1", "method": method, "params": params}


PREFECT = {"prefect_logs": True}


def test_prefect_each_message_is_one_info_record(m: ModuleType, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=m.PipesPrefectLogsMessageWriter.LOGGER_NAME)
    with m.PipesPrefectLogsMessageWriter().open(PREFECT) as channel:
        channel.write_message(message("opened", {"extras": {}}))
        channel.write_message(message("log", {"message": "100% done", "level": "INFO"}))
        channel.write_message(message("closed", {}))
    assert [r.levelno for r in caplog.records] == [logging.INFO] * 3
    assert [r.getMessage() for r in caplog.records] == [
        json.dumps(message("opened", {"extras": {}})),
        json.dumps(message("log", {"message": "100% done", "level": "INFO"})),
        json.dumps(message("closed", {})),
    ]


@pytest.mark.parametrize("limit", [None, 500])
def test_prefect_a_message_over_the_limit_is_replaced_by_an_error(
    m: ModuleType, caplog: pytest.LogCaptureFixture, limit: int | None
) -> None:
    """At the limit (900,000 bytes by default, or the params'), exactly: a message as long is kept,
    one a byte longer replaced by an ERROR ``log`` naming its method. Non-ASCII text counts as
    ``json.dumps`` escapes it."""
    caplog.set_level(logging.INFO, logger=m.PipesPrefectLogsMessageWriter.LOGGER_NAME)
    size = limit or m.PipesPrefectLogsMessageWriter.DEFAULT_MAX_MESSAGE_BYTES
    empty = len(json.dumps(message("report_custom_message", {"payload": ""})))
    at_limit = message("report_custom_message", {"payload": "é" + "x" * (size - empty - 6)})
    over = message("report_asset_materialization", {"metadata": {"m": "x" * (size - empty)}})
    assert len(json.dumps(at_limit)) == size
    params = {**PREFECT, "max_message_bytes": limit} if limit else PREFECT
    with m.PipesPrefectLogsMessageWriter().open(params) as channel:
        channel.write_message(at_limit)
        channel.write_message(over)
    kept, replaced = written(caplog, m)
    assert kept == at_limit
    assert (replaced["method"], replaced["params"]["level"]) == ("log", "ERROR")
    assert "`report_asset_materialization`" in replaced["params"]["message"]


def test_prefect_a_closed_message_over_the_limit_still_closes(m: ModuleType, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=m.PipesPrefectLogsMessageWriter.LOGGER_NAME)
    exception = {"message": "x" * 1_000, "stack": [], "name": "ValueError", "cause": None, "context": None}
    with m.PipesPrefectLogsMessageWriter().open({**PREFECT, "max_message_bytes": 500}) as channel:
        channel.write_message(message("closed", {"exception": exception}))
    [closed] = written(caplog, m)
    assert closed["method"] == "closed"
    assert closed["params"]["exception"]["name"] == "ValueError"
    assert "Dropped a `closed` Pipes message" in closed["params"]["exception"]["message"]


def test_prefect_a_whole_session_goes_through_the_logs(m: ModuleType, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=m.PipesPrefectLogsMessageWriter.LOGGER_NAME)
    with context(m, message_writer=m.PipesPrefectLogsMessageWriter(), messages=PREFECT) as pipes:
        pipes.report_asset_materialization(metadata={"rows": 3})
        pipes.log.warning("careful")
    assert [w["method"] for w in written(caplog, m)] == ["opened", "report_asset_materialization", "log", "closed"]


# ----- closing -----


def context(m: ModuleType, message_writer: Any = None, messages: Any = None) -> Any:
    data = {
        "asset_keys": ["a"],
        "code_version_by_asset_key": None,
        "provenance_by_asset_key": None,
        "partition_key": None,
        "partition_key_range": None,
        "partition_time_window": None,
        "run_id": "r",
        "job_name": None,
        "retry_number": 0,
        "extras": {},
    }
    params = m.PipesMappingParamsLoader(
        {"DAGSTER_PIPES_CONTEXT": m.encode_param({"data": data}), "DAGSTER_PIPES_MESSAGES": m.encode_param(messages)}
    )
    return m.PipesContext(params, m.PipesDefaultContextLoader(), message_writer or m.PipesDefaultMessageWriter())


def methods(path: Path) -> list[str]:
    return [json.loads(line)["method"] for line in path.read_text().splitlines()]


def test_closing_twice_closes_once(m: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "messages"
    with context(m, messages={"path": str(path)}) as pipes:
        pipes.close()
        pipes.close()
        assert pipes.is_closed
    assert methods(path) == ["opened", "closed"]


def test_a_message_after_close_is_refused_and_not_sent(m: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "messages"
    pipes = context(m, messages={"path": str(path)})
    pipes.close()
    for report in (
        lambda: pipes.log.info("late"),
        lambda: pipes.report_custom_message(1),
        lambda: pipes.report_asset_materialization(),
        lambda: pipes.report_asset_check("c", True),
        lambda: pipes.log_external_stream("stdout", "late"),
    ):
        with pytest.raises(m.DagsterPipesError, match="Cannot send message after pipes context is closed"):
            report()
    assert methods(path) == ["opened", "closed"]
