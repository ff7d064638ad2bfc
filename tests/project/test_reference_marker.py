"""The ``reference`` tests (what Dagster and dagster-aws do, for docs/RELIABILITY.md) are left out
of a plain run, and run when selected by marker or when their file or folder is named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
REFERENCE_FILE = "tests/in_dagster/test_reliability_dagster.py"


def collected(*args: str) -> list[str]:
    """The node ids ``pytest --collect-only`` lists with ``args``, from the project's root."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    return [line for line in done.stdout.splitlines() if "::" in line]


def test_a_plain_run_leaves_them_out() -> None:
    reference = set(collected("-m", "reference"))
    assert reference and all(node.startswith(("tests/in_dagster/",)) for node in reference)
    plain = set(collected())
    assert plain and not plain & reference


def test_naming_their_file_or_folder_runs_them() -> None:
    in_file = collected(REFERENCE_FILE)
    assert in_file and all(node.startswith(REFERENCE_FILE) for node in in_file)
    assert set(in_file) <= set(collected("tests/in_dagster"))
