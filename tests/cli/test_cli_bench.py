"""``pipes-fast bench`` as a user runs it: ``--quick`` with ``--out`` (the table, the report and its
plots), ``--json``, the progress on a terminal, and usage errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.helpers import read_pty, stderr_on_a_terminal

CLI = [sys.executable, "-m", "pipes_fast", "bench"]
WAIT_SECONDS = 600.0
STEPS = [
    "[1/6] reader throughput",
    "[2/6] stdio throughput",
    "[3/6] writer throughput",
    "[4/6] delivery latency",
    "[5/6] session overhead",
    "[6/6] child start-up",
]

pytestmark = pytest.mark.timeout(900)


def test_quick_run_prints_the_tables_and_writes_the_report_and_plots(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "report"
    done = subprocess.run([*CLI, "--quick", "--out", str(out)], capture_output=True, text=True, timeout=WAIT_SECONDS)
    assert done.returncode == 0, done.stderr
    assert [
        line for line in done.stderr.splitlines() if line.startswith("[")
    ] == STEPS  # not a terminal: a line per step
    for section in (
        "reader throughput",
        "stdio throughput",
        "writer throughput",
        "delivery latency",
        "session overhead",
        "child start-up",
    ):
        assert section in done.stdout
    assert "than pipes_fast" in done.stdout and "dagster" in done.stdout
    markdown = (out / "REPORT.md").read_text()
    plots = sorted(out.glob("*.png"))
    assert len(plots) >= 5 and all(plot.read_bytes().startswith(b"\x89PNG") for plot in plots)
    assert all(f"]({plot.name})" in markdown for plot in plots)
    assert f"wrote {out / 'REPORT.md'}" in done.stderr


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs pseudo-terminals")
def test_json_lines_and_the_progress_line_on_a_terminal() -> None:
    with stderr_on_a_terminal([*CLI, "--quick", "--json"]) as (process, master):
        shown = read_pty(master, process, timeout=WAIT_SECONDS)
        stdout = process.stdout.read().decode() if process.stdout else ""
    assert process.returncode == 0
    assert "\r\x1b[2K[1/6] reader throughput, " in shown and " s elapsed" in shown
    assert shown.endswith("\r\x1b[2K")  # the progress line is cleared at the end
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert lines[-1]["type"] == "machine" and all(line["type"] == "figure" for line in lines[:-1])
    assert {line["side"] for line in lines if line["type"] == "figure"} >= {
        "pipes_fast (pure Python)",
        "dagster",
        "dagster_pipes",
    }


def test_out_naming_a_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    done = subprocess.run([*CLI, "--out", str(tmp_path / "file")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "is not a directory" in done.stderr


def test_help_documents_the_output_and_exit_statuses() -> None:
    done = subprocess.run([*CLI, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    for text in ("--quick", "--out DIR", "REPORT.md", "exit status:", "pipes-fast bench --out docs/performance"):
        assert text in done.stdout, text
