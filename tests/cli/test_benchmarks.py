"""``pipes_fast.benchmarks``, what ``pipes-fast bench`` runs: every measurement at a tiny scale,
real processes and sessions, and the report it writes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import pipes_fast
from pipes_fast.benchmarks import report, suite
from pipes_fast.benchmarks.figures import Figure, Report

TINY = suite.Scale(messages=2_000, rounds=1, process_runs=2, latency_messages=20, idle_seconds=0.1)

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.filterwarnings("ignore::dagster.PreviewWarning"),
    pytest.mark.filterwarnings("ignore:AssetExecutionContext.run_id is deprecated:DeprecationWarning"),
]


@pytest.fixture(scope="module")
def measured() -> tuple[Report, list[str]]:
    steps: list[str] = []
    return suite.run(TINY, progress=steps.append), steps


def test_every_measurement_reports_each_side(measured: tuple[Report, list[str]]) -> None:
    result, steps = measured
    assert steps == [
        "[1/6] reader throughput",
        "[2/6] stdio throughput",
        "[3/6] writer throughput",
        "[4/6] delivery latency",
        "[5/6] session overhead",
        "[6/6] child start-up",
    ]
    sides = {section.split(",")[0]: {f.side for f in figures} for section, figures in result.sections().items()}
    reader = {"pipes_fast (pure Python)", "floor: split + orjson.loads", "dagster"}
    assert sides["reader throughput"] == reader | ({"pipes_fast (compiled)"} if pipes_fast.EXTENSION else set())
    stdio = {"pipes_fast (pure Python)", "floor: split + orjson.loads + join", "dagster"}
    assert sides["stdio throughput"] == stdio | ({"pipes_fast (compiled)"} if pipes_fast.EXTENSION else set())
    assert sides["writer throughput"] == {
        "pipes_fast, unbuffered",
        "pipes_fast, buffered",
        "floor: bare os.write",
        "dagster_pipes",
    }
    assert sides["delivery latency"] == {"dagster", "pipes_fast (poll)", "pipes_fast (inotify)"}
    assert sides["session overhead around `true`"] == {"pipes_fast", "dagster"}
    assert sides["child start-up over a bare interpreter"] == {"pipes_fast.external", "dagster_pipes"}
    for figure in result.figures:  # an overhead (a difference of medians) may come out below 0 at this scale
        assert math.isfinite(figure.best) and math.isfinite(figure.worst), figure
        if figure.unit == "msg/s" or figure.section.startswith("delivery latency"):
            assert figure.best > 0, figure
    assert result.machine["dagster"] != "not installed" and result.seconds > 0


def test_the_table_names_every_section_and_compares_with_pipes_fast(measured: tuple[Report, list[str]]) -> None:
    result, _ = measured
    table = report.as_table(result)
    for section in result.sections():
        assert section in table
    assert "than pipes_fast" in table


def test_the_markdown_report_and_its_plots(measured: tuple[Report, list[str]], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    written = report.write(measured[0], tmp_path / "out")
    markdown = (tmp_path / "out" / "REPORT.md").read_text()
    assert written[0] == tmp_path / "out" / "REPORT.md"
    plots = written[1:]
    assert len(plots) == len(measured[0].sections())
    for plot in plots:
        assert plot.read_bytes().startswith(b"\x89PNG") and f"]({plot.name})" in markdown
    assert report.REGENERATE in markdown


def test_json_lines_hold_every_figure(measured: tuple[Report, list[str]]) -> None:
    result, _ = measured
    lines = [json.loads(json.dumps(item)) for item in report.as_json(result)]
    assert [line["type"] for line in lines] == ["figure"] * len(result.figures) + ["machine"]
    assert {(line["section"], line["side"]) for line in lines[:-1]} == {(f.section, f.side) for f in result.figures}


@pytest.mark.parametrize(
    ("figure", "expected"),
    [
        (Figure("s", "dagster", 100.0, 90.0, "msg/s"), "5.00x slower than pipes_fast (b)"),
        (Figure("s", "floor", 1000.0, 900.0, "msg/s"), "2.00x faster than pipes_fast (b)"),
    ],
)
def test_comparisons_are_with_pipes_fast_s_best(figure: Figure, expected: str) -> None:
    ours = [Figure("s", "pipes_fast (a)", 200.0, 100.0, "msg/s"), Figure("s", "pipes_fast (b)", 500.0, 400.0, "msg/s")]
    assert report.comparison(figure, [*ours, figure]) == expected
    assert report.comparison(ours[1], [*ours, figure]) == ""
    slow = Figure("l", "dagster", 10.0, 11.0, "ms")
    assert report.comparison(slow, [Figure("l", "pipes_fast", 0.5, 0.6, "ms"), slow]) == "20.00x longer than pipes_fast"
