"""``pipes-fast check`` as a user runs it: real clients (dagster-pipes, a broken one), real
subprocesses, exit statuses, the report and ``--json``."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipes_fast.conformance import STANDARD_CASES

CLI = [sys.executable, "-m", "pipes_fast", "check"]
WAIT_SECONDS = 120.0

GOOD = """\
import json, sys
from dagster_pipes import open_dagster_pipes

with open_dagster_pipes() as pipes:
    for key in pipes.asset_keys if pipes.is_asset_step else []:
        pipes.report_asset_materialization(asset_key=key, metadata={"rows": 1}, data_version="v1")
        pipes.report_asset_check(asset_key=key, check_name="rows_positive", passed=True)
    pipes.report_custom_message({"extras": pipes.extras})
    pipes.log.info("done")
    if len(sys.argv) > 1:  # where to say what context it was given
        with open(sys.argv[1], "w") as seen:
            json.dump({"assets": pipes.asset_keys if pipes.is_asset_step else None, "run_id": pipes.run_id,
                       "job": pipes.job_name, "partition": pipes.partition_key if pipes.is_partition_step else None,
                       "extras": pipes.extras}, seen)
"""

BROKEN = """\
import base64, json, os, sys, zlib

path = json.loads(zlib.decompress(base64.b64decode(os.environ["DAGSTER_PIPES_MESSAGES"])))["path"]
with open(path, "a") as messages:
    messages.write('{"__dagster_pipes_version": "0.1", "method": "opened", "params": {"extras": {}}}\\n')
    messages.write('{"__dagster_pipes_version": "0.2", "method": "log", "params": {"message": "x", "level": "INFO"}}\\n')
    messages.write('{"__dagster_pipes_version": "0.1", "method": "report_custom_message", "params": {"payload": 1}}\\n')
print("Traceback (most recent call last):", file=sys.stderr)
sys.exit(3)
"""


ONE_ASSET = """\
from dagster_pipes import open_dagster_pipes

with open_dagster_pipes() as pipes:
    pipes.log.info(f"materializing {pipes.asset_key}")
    pipes.report_asset_materialization(metadata={"rows": 1})
"""


def client(tmp_path: Path, source: str) -> str:
    path = tmp_path / "client.py"
    path.write_text(source)
    return str(path)


def check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=WAIT_SECONDS)


def test_a_dagster_pipes_client_passes_every_standard_case(tmp_path: Path) -> None:
    done = check("--", sys.executable, client(tmp_path, GOOD))
    assert done.returncode == 0, done.stdout + done.stderr
    for case in STANDARD_CASES:
        assert f"PASS {case.name} (" in done.stdout
    assert done.stdout.rstrip().endswith(f"{len(STANDARD_CASES)} of {len(STANDARD_CASES)} cases passed")


def test_a_broken_client_fails_with_each_fault_named_at_its_line(tmp_path: Path) -> None:
    done = check("--case", "op", "--", sys.executable, client(tmp_path, BROKEN))
    assert done.returncode == 1
    assert "FAIL op (3 message lines)" in done.stdout
    for rule in ("version", "missing-closed", "stderr-traceback", "exit-status"):
        assert rule in done.stdout, rule
    assert '"0.2"' in done.stdout and "line 2" in done.stdout
    assert done.stdout.rstrip().endswith("0 of 1 cases passed")


def test_json_lines_hold_each_case_and_a_summary(tmp_path: Path) -> None:
    done = check("--json", "--case", "single-asset", "--case", "op", "--", sys.executable, client(tmp_path, BROKEN))
    assert done.returncode == 1
    lines: list[dict[str, Any]] = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["type"] for line in lines] == ["case", "case", "summary"]
    assert [line["case"] for line in lines[:2]] == ["single-asset", "op"]
    violations = {(v["rule"], v["line"]) for v in lines[1]["violations"]}
    assert {("missing-closed", None), ("exit-status", None)} <= violations
    warnings = {(v["rule"], v["line"]) for v in lines[1]["warnings"]}
    assert warnings == {("version", 2), ("stderr-traceback", None)}
    assert lines[1]["exit_status"] == 3 and lines[1]["passed"] is False
    assert lines[2] == {"type": "summary", "cases": 2, "passed": 0, "exit_status": 1}


def test_step_options_check_the_one_step_they_describe(tmp_path: Path) -> None:
    seen = tmp_path / "seen.json"
    done = check(
        "--asset",
        "warehouse/orders",
        "--partition",
        "2024-06-01",
        "--run-id",
        "r-1",
        "--job",
        "nightly",
        "--extras",
        '{"n": "é", "deep": [1, {"x": null}]}',
        "--",
        sys.executable,
        client(tmp_path, GOOD),
        str(seen),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("PASS custom (") and "1 of 1 cases passed" in done.stdout
    assert json.loads(seen.read_text()) == {
        "assets": ["warehouse/orders"],
        "run_id": "r-1",
        "job": "nightly",
        "partition": "2024-06-01",
        "extras": {"n": "é", "deep": [1, {"x": None}]},
    }


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ([], "no command to run"),
        (["--case", "nope", "--", "true"], "invalid choice: 'nope'"),
        (["--asset", "a", "--case", "op", "--", "true"], "not both"),
        (["--extras", "[1]", "--", "true"], "--extras"),
    ],
)
def test_usage_errors_exit_2_saying_what_is_wrong(args: list[str], says: str) -> None:
    done = check(*args)
    assert done.returncode == 2 and says in done.stderr, done.stderr


def test_a_command_that_cannot_start_exits_127(tmp_path: Path) -> None:
    done = check("--", str(tmp_path / "missing"))
    assert done.returncode == 127 and "cannot run" in done.stderr


def test_help_lists_the_cases_the_rules_and_the_exit_statuses() -> None:
    done = check("--help")
    assert done.returncode == 0
    for text in ["single-asset", "extras", "opened-first", "metadata-value", "exit status:", "127"]:
        assert text in done.stdout, text


def test_a_one_asset_script_is_recognised_and_the_command_checking_it_given(tmp_path: Path) -> None:
    command = [sys.executable, client(tmp_path, ONE_ASSET)]
    done = check("--", *command)
    assert done.returncode == 1  # cases failed: the report's last line and the exit status agree
    assert "3 of 5 cases passed" in done.stdout
    assert "written for some kinds of step only" in done.stdout
    assert "  op: `asset_key` is undefined. Current step does not target an asset." in done.stdout
    assert "  several-assets: `asset_key` is undefined. Current step targets multiple assets." in done.stdout
    suggested = done.stdout.rstrip().splitlines()[-1].strip()
    expected = ["--case", "single-asset", "--case", "partitioned", "--case", "extras", "--", *command]
    assert suggested == shlex.join(["pipes-fast", "check", *expected])
    again = check(*shlex.split(suggested)[2:])
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.rstrip().endswith("3 of 3 cases passed") and "written for" not in again.stdout


def test_json_summary_names_the_cases_a_one_asset_script_is_written_for(tmp_path: Path) -> None:
    command = [sys.executable, client(tmp_path, ONE_ASSET)]
    done = check("--json", "--timeout", "30", "--case", "single-asset", "--case", "op", "--", *command)
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary == {
        "type": "summary",
        "cases": 2,
        "passed": 1,
        "exit_status": 1,
        "written_for": ["single-asset"],
        "check_with": shlex.join(["pipes-fast", "check", "--case", "single-asset", "--timeout", "30", "--", *command]),
    }


def test_a_client_failing_otherwise_gets_no_such_note(tmp_path: Path) -> None:
    done = check("--case", "single-asset", "--case", "op", "--", sys.executable, client(tmp_path, BROKEN))
    assert done.returncode == 1 and "written for" not in done.stdout
