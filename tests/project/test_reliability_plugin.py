"""The reliability tooling: the plugin's checks and records, and the report rendered from them."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from support.reliability import CASES

TESTS = Path(__file__).parents[1]
REPORT = TESTS.parent / "tools" / "reliability_report.py"

SAMPLE = '''
import pytest

@pytest.mark.reliability("torn-writes")
def test_passes():
    """Waits for the newline.

    More words."""

@pytest.mark.reliability("torn-writes")
def test_fails():
    assert False

@pytest.mark.reliability("garbage-lines")
def test_dagster_side(observe):
    observe("Dagster stops.")

def test_unmarked():
    pass

@pytest.fixture(params=["compiled", "pure"])
def hotpath(request):
    return request.param

@pytest.mark.reliability("huge-lines")
def test_on_each_implementation(hotpath):
    pass
'''


def run_pytest(
    tmp_path: Path, source: str, *args: str, path: str = "test_sample.py"
) -> subprocess.CompletedProcess[str]:
    """pytest with the plugin on ``path`` (of) one test file holding ``source``."""
    (tmp_path / "test_sample.py").write_text(textwrap.dedent(source))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "support.reliability",
            "-p",
            "no:cacheprovider",
            "-q",
            path,
            *args,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def load_report() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reliability_report", REPORT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_unknown_case_id_stops_the_run_at_collection(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, SAMPLE.replace('"garbage-lines"', '"garbage-line"'))
    assert result.returncode == 4
    assert "unknown reliability case id(s):" in result.stderr and "test_dagster_side: 'garbage-line'" in result.stderr


def test_a_marker_on_a_function_that_is_not_a_test_stops_the_run(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, SAMPLE + '\n@pytest.mark.reliability("torn-writes")\ndef helper():\n    pass\n')
    assert result.returncode == 4
    assert "a reliability marker on a function that is not a test:\n  test_sample.py::helper" in result.stderr


@pytest.mark.parametrize(
    "node_id", ["test_passes", "test_on_each_implementation[compiled]", "test_on_each_implementation[pure]"]
)
def test_one_test_runs_by_its_id(tmp_path: Path, node_id: str) -> None:
    """Selecting one test, parametrised or not, leaves the module's other marked tests uncollected
    but still tests: the one selected runs, alone."""
    result = run_pytest(tmp_path, SAMPLE, "-rA", path=f"test_sample.py::{node_id}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"PASSED test_sample.py::{node_id}" in result.stdout and "1 passed" in result.stdout


def test_outcomes_docstrings_and_observations_are_recorded(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, SAMPLE, "-m", "reliability", f"--reliability-json={tmp_path / 'out.json'}")
    assert result.returncode == 1
    data = json.loads((tmp_path / "out.json").read_text())
    assert data["exitstatus"] == 1 and data["implementation"].startswith("pipes_fast._")
    assert [
        (t["test"].split("::")[1], t["case"], t["outcome"], t["doc"], t["side"], t["observations"])
        for t in data["tests"]
    ] == [
        ("test_passes", "torn-writes", "passed", "Waits for the newline.", "pipes_fast", []),
        ("test_fails", "torn-writes", "failed", "", "pipes_fast", []),
        ("test_dagster_side", "garbage-lines", "passed", "", "dagster", ["Dagster stops."]),
        ("test_on_each_implementation", "huge-lines", "passed", "", "pipes_fast", []),
    ]
    in_use = "compiled" if data["extension"] else "pure"
    assert data["tests"][-1]["nodeid"].endswith(f"::test_on_each_implementation[{in_use}]")  # only the one in use


def test_the_report_has_every_case_and_says_where_no_test_exists_yet() -> None:
    record: dict[str, Any] = {
        "case": "torn-writes",
        "test": "t.py::test_a",
        "nodeid": "t.py::test_a",
        "outcome": "passed",
        "doc": "Pipes | inside.",
        "side": "pipes_fast",
        "observations": [],
    }
    runs = {
        "compiled": {"implementation": "pipes_fast._hotpath.compiled", "tests": [record]},
        "pure": {"implementation": "pipes_fast._hotpath.pure", "tests": [{**record, "outcome": "failed"}]},
    }
    document = load_report().render(runs)
    assert all(f"(`{case_id}`)" in document for case_id in CASES)
    assert "| [Torn writes](#torn-writes) | pass (1 test) | **FAIL** | — |" in document
    assert "| `t.py::test_a` — Pipes \\| inside. | pass | **FAIL** |" in document
    assert "| [Garbage lines](#garbage-lines) | no test yet | no test yet | — |" in document
