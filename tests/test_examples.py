"""The README's main job and the examples run as a user would run them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent.parent / "examples"


def run(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_main_job():
    out = run("orchestrate.py", "--rows", "600")
    assert "3 progress messages, last: {'progress': 1.0}" in out
    assert "materialized warehouse/orders (data version 2024-06-01-600)" in out
    assert "rows: int 600" in out and "check no_nulls: passed (WARN)" in out


@pytest.mark.filterwarnings("ignore")
def test_the_same_script_under_both_orchestrators():
    out = run("external_run_both.py")
    assert "== under Dagster" in out and "== under pipes_fast" in out


def test_the_dagster_asset():
    out = run("dagster_asset.py")
    assert "materialized warehouse/orders (data version 2024-06-01-600)" in out
    assert "rows: IntMetadataValue 600" in out and "source: UrlMetadataValue 's3://bucket/orders.parquet'" in out
    assert "check row_count_positive: passed (ERROR)" in out and "check small_enough: passed (WARN)" in out
