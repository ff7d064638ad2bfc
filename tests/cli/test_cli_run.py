"""`pipes-fast run` driven as a user drives it: the CLI in a subprocess running real external
scripts, its exit status, stdout (table or --json lines) and stderr (logs, progress line)."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Optional

import pytest
from support.helpers import read_pty, stderr_on_a_terminal
from support.s3_server import S3Bucket

CLI = [sys.executable, "-m", "pipes_fast"]
WAIT_SECONDS = 60.0  # bound on every wait for the CLI or its child (never reached when all is well)


def opening(library: str) -> str:
    """Source opening the pipes with ``library``'s writer for the params given (``job.py dir``:
    the directory reader's chunk writer)."""
    return f"""\
import sys
from {library} import PipesDefaultMessageWriter, PipesUnityCatalogVolumesMessageWriter, open_dagster_pipes

writer = PipesUnityCatalogVolumesMessageWriter(interval=0.2) if sys.argv[1:] == ["dir"] else PipesDefaultMessageWriter()
with open_dagster_pipes(message_writer=writer) as pipes:
"""


REPORTER = (
    opening("pipes_fast.external")
    + """\
    plan = pipes.extras["plan"]
    pipes.log.info(f"asset {pipes.asset_key} partition {pipes.partition_key} job {pipes.job_name} run {pipes.run_id}")
    for payload in plan["custom"]:
        pipes.report_custom_message(payload)
    for check in plan["checks"]:
        pipes.report_asset_check(**check)
    for materialization in plan["materializations"]:
        pipes.report_asset_materialization(**materialization)
"""
)

PLAN: dict[str, Any] = {
    "custom": [{"step": 1}, [1, 2, 3], "third", 4.5],
    "checks": [
        {"check_name": "no_nulls", "passed": True, "severity": "WARN", "metadata": {"null_rows": 0}},
        {"check_name": "fresh", "passed": False, "metadata": {"age": {"raw_value": "3 days", "type": "text"}}},
    ],
    "materializations": [
        {
            "data_version": "v7",
            "metadata": {
                "rows": 1200,
                "source": {"raw_value": "s3://b/k.parquet", "type": "url"},
                "ratio": 0.5,
                "note": "n" * 200,
            },
        },
    ],
}

DAGSTER_PIPES_REPORTER = (
    opening("dagster_pipes")
    + """\
    pipes.log.warning("from dagster-pipes")
    pipes.report_custom_message({"n": pipes.get_extra("n")})
    pipes.report_asset_materialization(metadata={"n": pipes.get_extra("n")}, data_version="d1")
"""
)


def script(tmp_path: Path, source: str, name: str = "job.py") -> str:
    path = tmp_path / name
    path.write_text(source)
    return str(path)


def cli(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=WAIT_SECONDS, **kwargs)


def json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def run_plan(tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return cli(
        "run",
        "--asset",
        "warehouse/orders",
        "--partition",
        "2024-06-01",
        "--job",
        "nightly",
        "--run-id",
        "run-42",
        "--extras",
        json.dumps({"plan": PLAN}),
        *options,
        "--",
        sys.executable,
        script(tmp_path, REPORTER),
    )


def test_success_shows_a_table_of_what_the_script_reported(tmp_path: Path) -> None:
    done = run_plan(tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Materializations: 1" in out and "Checks: 2" in out and "Custom messages: 4" in out
    row = next(line for line in out.splitlines() if "v7" in line)
    assert row.split()[:2] == ["warehouse/orders", "v7"]
    assert "rows=1200, source=s3://b/k.parquet, ratio=0.5, note=nnn" in row
    assert row.endswith("...") and "n" * 100 not in row  # a long cell is cut
    checks = {
        line.split()[1]: line.split()[2:4]
        for line in out.splitlines()
        if line.startswith("  warehouse/orders") and "v7" not in line
    }
    assert checks == {"no_nulls": ["yes", "WARN"], "fresh": ["NO", "ERROR"]}
    assert '  {"step": 1}' in out and "  [1, 2, 3]" in out and '  "third"' in out and "... and 1 more" in out
    assert out.rstrip().endswith("Exit status: 0 (success)")
    assert "INFO asset warehouse/orders partition 2024-06-01 job nightly run run-42" in done.stderr


def test_json_lines_hold_exactly_what_the_script_reported(tmp_path: Path) -> None:
    done = run_plan(tmp_path, "--json")
    assert done.returncode == 0, done.stderr
    records = json_lines(done.stdout)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_type.setdefault(record.pop("type"), []).append(record)
    assert set(by_type) == {"custom_message", "check", "materialization", "summary"}
    assert [r["payload"] for r in by_type["custom_message"]] == PLAN["custom"]
    assert by_type["check"] == [
        {
            "asset_key": "warehouse/orders",
            "check_name": "no_nulls",
            "passed": True,
            "severity": "WARN",
            "metadata": {"null_rows": {"type": "int", "value": 0}},
        },
        {
            "asset_key": "warehouse/orders",
            "check_name": "fresh",
            "passed": False,
            "severity": "ERROR",
            "metadata": {"age": {"type": "text", "value": "3 days"}},
        },
    ]
    assert by_type["materialization"] == [
        {
            "asset_key": "warehouse/orders",
            "data_version": "v7",
            "metadata": {
                "rows": {"type": "int", "value": 1200},
                "source": {"type": "url", "value": "s3://b/k.parquet"},
                "ratio": {"type": "float", "value": 0.5},
                "note": {"type": "text", "value": "n" * 200},
            },
        },
    ]
    assert by_type["summary"] == [
        {
            "materializations": 1,
            "checks": 2,
            "custom_messages": 4,
            "messages": 8,
            "opened": True,
            "closed": True,
            "returncode": 0,
            "exit_status": 0,
            "outcome": "success",
        }
    ]
    assert records[-1] is by_type["summary"][0]  # the summary comes last


def _lines_of(stream: Any) -> queue.Queue[str]:
    """The stream's lines, read on a thread as they come, then "" at its end."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in stream:
            lines.put(line)
        lines.put("")

    threading.Thread(target=read, daemon=True).start()
    return lines


def _until(lines: queue.Queue[str], text: Optional[str] = None) -> list[str]:
    """The lines up to the first that holds ``text`` (with None: up to the stream's end)."""
    seen: list[str] = []
    while line := lines.get(timeout=WAIT_SECONDS):
        seen.append(line)
        if text is not None and text in line:
            return seen
    assert text is None, f"{text!r} never came: {seen}"
    return seen


WAITS_FOR_GO = """\
import sys, time
from pathlib import Path
from pipes_fast.external import open_dagster_pipes

go = Path(sys.argv[1])
with open_dagster_pipes() as pipes:
    for n in range(5):
        pipes.report_custom_message(n)
    pipes.log.info("waiting for go")
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    pipes.log.warning("got go")
"""


def test_logs_appear_on_stderr_as_they_arrive_and_no_progress_line_when_piped(tmp_path: Path) -> None:
    go = tmp_path / "go"
    with subprocess.Popen(
        [*CLI, "run", "--", sys.executable, script(tmp_path, WAITS_FOR_GO), str(go)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        stderr = _lines_of(process.stderr)
        before = _until(stderr, "INFO waiting for go")  # while the child still runs: it waits for us
        assert process.poll() is None
        go.touch()
        after = _until(stderr)
        stdout = process.stdout.read() if process.stdout else ""
        process.wait(WAIT_SECONDS)
    text = "".join(before + after)
    assert process.returncode == 0
    assert "WARNING got go" in text
    assert "\x1b" not in text and "\r" not in text and "messages received" not in text
    assert "Custom messages: 5" in stdout


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs pseudo-terminals")
def test_progress_line_on_a_terminal(tmp_path: Path) -> None:
    go = tmp_path / "go"
    with stderr_on_a_terminal([*CLI, "run", "--", sys.executable, script(tmp_path, WAITS_FOR_GO), str(go)]) as (
        process,
        master,
    ):
        shown = read_pty(master, process, until="6 messages received")  # 5 custom messages, 1 log
        go.touch()
        rest = read_pty(master, process)
        stdout = process.stdout.read().decode() if process.stdout else ""
    assert process.returncode == 0
    text = shown + rest
    assert "\r\x1b[2K6 messages received, " in text and " s elapsed" in text
    assert "WARNING got go" in text
    assert "\r\x1b[2K" in text[text.rindex("messages received") :]  # erased after it was last drawn
    assert "\x1b" not in stdout and "Custom messages: 5" in stdout


FAILS = """\
from pipes_fast.external import open_dagster_pipes

with open_dagster_pipes() as pipes:
    pipes.report_asset_materialization(data_version="partial")
    raise ValueError("the orders table is missing")
"""


def test_a_failing_child_gives_its_exit_status_and_the_exception_it_reported(tmp_path: Path) -> None:
    job = script(tmp_path, FAILS)
    done = cli("run", "--asset", "orders", "--", sys.executable, job)
    assert done.returncode == 1
    assert "Exception reported by the process:" in done.stdout
    assert "ValueError: the orders table is missing" in done.stdout
    assert "Exit status: 1 (the command failed with exit status 1)" in done.stdout
    done = cli("run", "--json", "--asset", "orders", "--", sys.executable, job)
    assert done.returncode == 1
    records = json_lines(done.stdout)
    assert [r["type"] for r in records] == ["materialization", "exception", "summary"]
    assert records[1]["name"] == "ValueError" and "the orders table is missing" in records[1]["message"]
    assert any("raise ValueError" in line for line in records[1]["stack"])
    assert records[2]["returncode"] == 1 and records[2]["exit_status"] == 1


def test_a_child_killed_by_a_signal_gives_128_plus_the_signal(tmp_path: Path) -> None:
    job = script(tmp_path, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    done = cli("run", "--json", "--", sys.executable, job)
    assert done.returncode == 128 + 9
    assert json_lines(done.stdout)[-1]["returncode"] == -9


MANY = """\
from pipes_fast.external import open_dagster_pipes

with open_dagster_pipes() as pipes:
    for i in range(20_000):
        pipes.report_custom_message(i)
"""


def test_a_reader_of_stdout_that_goes_away_is_no_error(tmp_path: Path) -> None:
    """``pipes-fast run --json ... | head -1``: the JSON lines outgrow the pipe once it is closed."""
    with subprocess.Popen(
        [*CLI, "run", "--json", "--", sys.executable, script(tmp_path, MANY)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        assert json.loads(process.stdout.readline()) == {"type": "custom_message", "payload": 0}
        process.stdout.close()
        stderr = process.stderr.read()
        process.wait(WAIT_SECONDS)
    assert process.returncode == 0
    assert "Traceback" not in stderr and "Error" not in stderr


SLEEPS = """\
import time
from pipes_fast.external import open_dagster_pipes

with open_dagster_pipes() as pipes:
    pipes.log.info("ready")
    time.sleep(60)
"""


def test_sigterm_interrupts_the_command_and_exits_130(tmp_path: Path) -> None:
    with subprocess.Popen(
        [*CLI, "run", "--", sys.executable, script(tmp_path, SLEEPS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        stderr = _lines_of(process.stderr)
        _until(stderr, "INFO ready")
        process.send_signal(signal.SIGTERM)
        rest = "".join(_until(stderr))
        process.wait(WAIT_SECONDS)
    assert process.returncode == 130
    assert "closed with exception: KeyboardInterrupt" in rest  # the command got SIGINT and closed the pipes
    assert "pipes-fast run: interrupted" in rest


NEVER_CLOSES = """\
import os
from pipes_fast.external import open_dagster_pipes

pipes = open_dagster_pipes()
pipes.report_custom_message("half")
os._exit(0)
"""


@pytest.mark.parametrize(
    ("source", "outcome"),
    [
        ("print('no pipes here')\n", "never opened the pipes"),
        (NEVER_CLOSES, "never closed the pipes"),
    ],
)
def test_exit_0_without_opening_or_closing_is_a_protocol_failure(tmp_path: Path, source: str, outcome: str) -> None:
    done = cli("run", "--json", "--", sys.executable, script(tmp_path, source))
    assert done.returncode == 3
    assert f"protocol failure: the command exited 0 but {outcome}" in done.stderr
    summary = json_lines(done.stdout)[-1]  # with --json, what the command prints goes to stderr
    assert summary["type"] == "summary" and summary["exit_status"] == 3 and summary["returncode"] == 0
    if source.startswith("print"):
        assert "no pipes here" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "no command to run"),
        (["--"], "no command to run"),
        (["--extras", "{not json", "--", "true"], "argument --extras: not valid JSON"),
        (["--extras", "[1, 2]", "--", "true"], "argument --extras: must be a JSON object, got list"),
        (["--message-reader", "ftp://host/x", "--", "true"], "unknown message reader 'ftp://host/x'"),
        (["--message-reader", "dir:/nonexistent/pipes", "--", "true"], "'/nonexistent/pipes' does not exist"),
        (["--context-injector", "file", "--", "true"], "unknown context injector 'file'"),
        (["--no-such-option", "--", "true"], "unrecognized arguments: --no-such-option"),
    ],
)
def test_usage_errors_exit_2_with_a_clear_message(tmp_path: Path, args: list[str], message: str) -> None:
    done = cli("run", *args)
    assert done.returncode == 2
    assert message in done.stderr and "usage: pipes-fast" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_no_subcommand_and_a_command_that_cannot_start(tmp_path: Path) -> None:
    done = cli()
    assert done.returncode == 2 and "a command is required" in done.stderr
    done = cli("run", "--", str(tmp_path / "no-such-program"))
    assert done.returncode == 127
    assert "could not start external process" in done.stderr and "Traceback" not in done.stderr


def test_an_unusable_injector_path_is_a_usage_error(tmp_path: Path) -> None:
    done = cli("run", "--context-injector", f"file:{tmp_path}", "--", "true")  # a directory
    assert done.returncode == 2
    assert "pipes-fast run: error:" in done.stderr and str(tmp_path) in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("injector", ["env", "tempfile", "file:{tmp}/context.json"])
@pytest.mark.parametrize("reader", ["tempfile", "file:{tmp}/messages.jsonl", "dir:{tmp}"])
@pytest.mark.parametrize("writer", ["pipes_fast", "dagster_pipes"])
def test_injectors_readers_and_both_writer_packages(tmp_path: Path, injector: str, reader: str, writer: str) -> None:
    source = REPORTER if writer == "pipes_fast" else DAGSTER_PIPES_REPORTER
    job = script(tmp_path, source, "job.py")
    chunks = tmp_path / "chunks"
    chunks.mkdir()
    done = cli(
        "run",
        "--json",
        "--asset",
        "warehouse/orders",
        "--partition",
        "p1",
        "--extras",
        json.dumps({"plan": PLAN, "n": 3}),
        "--context-injector",
        injector.format(tmp=tmp_path),
        "--message-reader",
        reader.format(tmp=chunks),
        "--",
        sys.executable,
        job,
        *(["dir"] if reader.startswith("dir:") else []),
    )
    assert done.returncode == 0, done.stderr
    records = json_lines(done.stdout)
    summary = records[-1]
    if writer == "pipes_fast":
        assert (summary["materializations"], summary["checks"], summary["custom_messages"]) == (1, 2, 4)
    else:
        assert "WARNING from dagster-pipes" in done.stderr
        assert records[:2] == [
            {"type": "custom_message", "payload": {"n": 3}},
            {
                "type": "materialization",
                "asset_key": "warehouse/orders",
                "data_version": "d1",
                "metadata": {"n": {"type": "int", "value": 3}},
            },
        ]
    assert summary["opened"] and summary["closed"]
    assert not (tmp_path / "context.json").exists()  # the file injector removes its file
    if reader.startswith("file:"):
        assert '"report_asset_materialization"' in (chunks / "messages.jsonl").read_text()  # kept
    if reader.startswith("dir:"):
        (session,) = chunks.iterdir()  # a new sub-directory for the run, its chunks kept there
        assert session.name.startswith("pipes-") and (session / "1.json").exists()


S3_REPORTER = """\
import boto3
from pipes_fast.external import PipesS3MessageWriter, open_dagster_pipes

with open_dagster_pipes(message_writer=PipesS3MessageWriter(client=boto3.client("s3"), interval=0.2)) as pipes:
    pipes.report_asset_materialization(metadata={"where": "s3"}, data_version="s3v")
"""


def test_s3_message_reader_with_a_prefix(tmp_path: Path, s3_bucket: S3Bucket) -> None:
    done = cli(
        "run",
        "--json",
        "--asset",
        "a",
        "--message-reader",
        f"s3://{s3_bucket.name}/runs/nightly",
        "--",
        sys.executable,
        script(tmp_path, S3_REPORTER),
    )
    assert done.returncode == 0, done.stderr
    assert json_lines(done.stdout)[0] == {
        "type": "materialization",
        "asset_key": "a",
        "data_version": "s3v",
        "metadata": {"where": {"type": "text", "value": "s3"}},
    }
    assert s3_bucket.keys() and all(key.startswith("runs/nightly/") for key in s3_bucket.keys())


def test_help_documents_options_exit_statuses_and_examples() -> None:
    done = cli("run", "--help")
    assert done.returncode == 0
    for text in (
        "--asset KEY",
        "--partition KEY",
        "--run-id ID",
        "--job NAME",
        "--extras JSON",
        "--context-injector",
        "--message-reader",
        "--json",
        "exit status:",
        "protocol failure",
        "examples:",
        "s3://BUCKET[/PREFIX]",
    ):
        assert text in done.stdout, text
    top = cli("--help")
    assert top.returncode == 0 and "run" in top.stdout and "--version" in top.stdout
    version = cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("pipes-fast ")


@pytest.mark.skipif(shutil.which("pipes-fast") is None, reason="the pipes-fast console script is not installed")
def test_the_console_script(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            str(shutil.which("pipes-fast")),
            "run",
            "--json",
            "--extras",
            json.dumps({"plan": PLAN}),
            "--asset",
            "x",
            "--partition",
            "p",
            "--",
            sys.executable,
            script(tmp_path, REPORTER),
        ],
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
    )
    assert done.returncode == 0, done.stderr
    assert json_lines(done.stdout)[-1]["materializations"] == 1
