"""The README's main job and the examples run as a user would run them."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples"


def run(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_main_job_from_python():
    """``orchestrate.py`` runs the main job's script for the main job's step, as the README says."""
    out = run("orchestrate.py")
    assert "3 progress messages, last: {'rows_done': 600}" in out
    assert "materialized warehouse/orders (data version 2024-06-01-600)" in out
    assert "rows: int 600" in out and "check no_nulls: passed (WARN)" in out
    assert "check rows_positive: passed (ERROR)" in out


def test_messages_through_s3():
    pytest.importorskip("boto3")
    pytest.importorskip("moto.server")
    out = run("s3_orders.py")
    assert "materialized warehouse/orders (data version 2024-06-01-600) through s3://pipes-fast-example-" in out


def test_a_ray_job():
    pytest.importorskip("ray.job_submission")
    out = run("ray_orders.py")
    assert "materialized warehouse/orders in Ray job pipes-" in out
    assert "check no_nulls: passed" in out and "check rows_positive: passed" in out


@pytest.mark.filterwarnings("ignore")
def test_the_same_script_under_both_orchestrators():
    out = run("external_run_both.py")
    assert "== under Dagster" in out and "== under pipes_fast" in out


def test_the_dagster_asset():
    out = run("dagster_asset.py")
    assert "materialized warehouse/orders (data version 2024-06-01-600)" in out
    assert "rows: IntMetadataValue 600" in out and "source: UrlMetadataValue 's3://bucket/orders.parquet'" in out
    assert "check row_count_positive: passed (ERROR)" in out and "check small_enough: passed (WARN)" in out


def test_the_readme_main_job_command():
    """The command at the top of the README, as written (``pipes-fast`` run as ``python -m pipes_fast``)."""
    line = next(line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("pipes-fast run "))
    args = shlex.split(line)
    command = [sys.executable, "-m", "pipes_fast", *args[1:]]
    command[command.index("python")] = sys.executable
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()]
    assert ["warehouse/orders", "2024-06-01-600", "rows=600,", "source=s3://bucket/orders.parquet"] in rows
    assert ["warehouse/orders", "no_nulls", "yes", "WARN", "null_rows=0"] in rows
    assert ["warehouse/orders", "rows_positive", "yes", "ERROR", "rows=600"] in rows
    assert "Custom messages: 3" in done.stdout and done.stdout.rstrip().endswith("Exit status: 0 (success)")
    assert "INFO reading 600 rows of warehouse/orders for partition 2024-06-01" in done.stderr


@pytest.mark.parametrize("example", ["report_orders.py", "external_orders.py"])
def test_an_external_process_run_directly_says_it_needs_an_orchestrator(example):
    done = subprocess.run([sys.executable, str(EXAMPLES / example)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert "launch it through an orchestrator" in done.stderr and "Traceback" not in done.stderr
