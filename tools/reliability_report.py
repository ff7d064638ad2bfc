"""Regenerates docs/RELIABILITY.md from the reliability tests' own results.

Usage: python tools/reliability_report.py [--output docs/RELIABILITY.md] [--timeout SECONDS]

Runs ``pytest -m reliability`` twice, on the compiled extension and on the pure implementation
(``PIPES_FAST_NO_EXTENSIONS=1``), each with ``--reliability-json``, then renders one section per
case of ``tests/support/reliability.py``'s registry. Exits 1 if a reliability test failed, 2 if a
pytest run broke down (nothing is written then).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.reliability import CASES  # noqa: E402 - the registry lives beside the tests that use it

COMMAND = "python tools/reliability_report.py"
RUNS = {"compiled": {"PIPES_FAST_NO_EXTENSIONS": "0"}, "pure": {"PIPES_FAST_NO_EXTENSIONS": "1"}}
CELL = {"passed": "pass", "failed": "**FAIL**", "skipped": "skipped", "not run": "not run"}


class RunBrokeDown(Exception):
    """A pytest run ended without results: a collection error, an unknown case id, an interrupt."""


def run_suite(extra_env: dict[str, str], json_path: Path, timeout: float) -> dict[str, Any]:
    """One ``pytest -m reliability`` run; its recorded results."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-m",
        "reliability",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--reliability-json={json_path}",
    ]
    settings = "".join(f"{name}={value} " for name, value in extra_env.items())
    try:
        completed = subprocess.run(command, cwd=ROOT, env={**os.environ, **extra_env}, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise RunBrokeDown(f"{settings}pytest -m reliability took more than {timeout:g} seconds") from exc
    if completed.returncode not in (0, 1) or not json_path.exists():
        raise RunBrokeDown(f"{settings}pytest -m reliability exited with {completed.returncode} (not a test failure)")
    return json.loads(json_path.read_text())


def case_status(records: list[dict[str, Any]]) -> str:
    """One implementation's verdict on one case."""
    if not records:
        return "no test yet"
    outcomes = {r["outcome"] for r in records}
    if "failed" in outcomes:
        return "**FAIL**"
    passed = sum(r["outcome"] == "passed" for r in records)
    return f"pass ({passed} test{'s' * (passed != 1)})" if passed else "skipped"


def dagster_lines(case_id: str, records: list[dict[str, Any]]) -> list[str]:
    """What Dagster 1.13 does in this case, one bullet per Dagster-side test, from its observations."""
    if not records:
        return [CASES[case_id].no_dagster_test + "."]
    lines = []
    for test in sorted({r["test"] for r in records}):
        runs = [r for r in records if r["test"] == test]
        if any(r["outcome"] == "failed" for r in runs):
            lines.append(f"- **the Dagster-side test failed**: Dagster no longer does what it recorded (`{test}`)")
        else:
            observations = dict.fromkeys(text for r in runs for text in r["observations"])
            lines.append(f"- {' '.join(observations) or '(nothing observed)'} (`{test}`)")
    return lines


def dagster_summary(records: list[dict[str, Any]]) -> str:
    """The Dagster column of the summary table."""
    if not records:
        return "—"
    return "**test failed**" if any(r["outcome"] == "failed" for r in records) else "observed"


def escape(text: str) -> str:
    """``text`` made safe for a table cell."""
    return text.replace("|", "\\|")


def select(runs: dict[str, dict[str, Any]], case_id: str, side: str, *names: str) -> list[dict[str, Any]]:
    """The records of one case and side, from the named runs (all runs if none is named)."""
    return [r for name in names or runs for r in runs[name]["tests"] if r["case"] == case_id and r["side"] == side]


def case_section(runs: dict[str, dict[str, Any]], case_id: str) -> list[str]:
    """One case: what is tried, what Dagster does, the pipes_fast tests and their outcome per run."""
    case = CASES[case_id]
    lines = [
        "",
        f'<a id="{case_id}"></a>',
        f"## {case.title} (`{case_id}`)",
        "",
        f"**Tried:** {case.tried}.",
        "",
        "**Dagster 1.13:**",
        "",
        *dagster_lines(case_id, select(runs, case_id, "dagster")),
        "",
        "**pipes_fast:**",
        "",
    ]
    tests = {r["test"]: r["doc"] for r in select(runs, case_id, "pipes_fast")}
    if not tests:
        return [*lines, "no test yet."]
    lines += ["| test | " + " | ".join(runs) + " |", "| --- |" + " --- |" * len(runs)]
    outcomes = [{r["test"]: r["outcome"] for r in select(runs, case_id, "pipes_fast", name)} for name in runs]
    for test, doc in sorted(tests.items()):
        cells = [CELL[outcome.get(test, "not run")] for outcome in outcomes]
        lines.append(f"| {escape(f'`{test}`' + (f' — {doc}' if doc else ''))} | " + " | ".join(cells) + " |")
    return [*lines, *figures_table(runs, case_id)]


def figure_cell(record: dict[str, Any]) -> str:
    """One matrix cell: messages delivered/expected, `closed`, close time against the budget."""
    f = record["figures"]
    text = f"{f['delivered']}/{f['expected']}"
    if f["uploaded"] != f["expected"]:
        text += f" ({f['uploaded']} uploaded)"
    if f["closed_received"]:
        text += ", closed"
    elif f.get("unread_named"):  # the store never answered: what it kept is named, not lost without a word
        text += f", unread from chunk {min(f['unread_chunks'])} on, named in a warning"
    else:
        text += ", **closed lost**" if f["closed_uploaded"] else ", no closed"
    text += f", {f['close_seconds']:.2f} s" + (f" / {f['budget']:g} s" if f.get("budget") is not None else "")
    return text + (" **FAIL**" if record["outcome"] == "failed" else "")


def figures_table(runs: dict[str, dict[str, Any]], case_id: str) -> list[str]:
    """The figures a case's tests recorded (the fault matrix: ``side, store, writer, fault``), one row
    per store, writer and fault, a column per side and run (Dagster's side: the first run's)."""
    cells: dict[tuple[str, str, str], dict[str, str]] = {}
    columns: list[str] = []
    for name, run in runs.items():
        for record in run["tests"]:
            f = record.get("figures")
            if record["case"] != case_id or not f:
                continue
            column = f"{f['side']} ({name})" if f["side"] == "pipes_fast" else f["side"]
            row = cells.setdefault((f["store"], f["writer"], f["fault"]), {})
            if column not in row:
                row[column] = figure_cell(record)
                columns += [column] if column not in columns else []
    if not cells:
        return []
    columns.sort(key=lambda column: not column.startswith("pipes_fast"))  # Dagster's side last
    lines = [
        "",
        "**Figures** (messages delivered/expected, `closed`, seconds from the process's exit to the "
        "session's end against the reader's close budget):",
        "",
        "| store | writer | fault | " + " | ".join(columns) + " |",
        "| --- | --- | --- |" + " --- |" * len(columns),
    ]
    for key, row in cells.items():
        lines.append("| " + " | ".join(key) + " | " + " | ".join(row.get(column, "—") for column in columns) + " |")
    return lines


def render(runs: dict[str, dict[str, Any]]) -> str:
    """The whole document: how it is made, a summary table, one section per case."""
    heads = [f"{name} (`{run['implementation']}`)" for name, run in runs.items()]
    lines = [
        "# Reliability",
        "",
        f"Generated by `{COMMAND}` from the reliability tests' own results; do not edit by hand.",
        "The command runs `pytest -m reliability` once on the compiled implementation and once on the",
        "pure one (`PIPES_FAST_NO_EXTENSIONS=1`), rewrites this file and exits non-zero if a reliability test",
        'failed. A test guards a case with `@pytest.mark.reliability("<case id>")`; the cases are',
        "registered in `tests/support/reliability.py`. What Dagster 1.13 does comes from tests that run the",
        "same scenario under Dagster's own orchestration (`tests/in_dagster/test_reliability_dagster.py`).",
        "",
        "| case | " + " | ".join(heads) + " | Dagster 1.13 |",
        "| --- |" + " --- |" * (len(heads) + 1),
    ]
    for case_id, case in CASES.items():
        statuses = [case_status(select(runs, case_id, "pipes_fast", name)) for name in runs]
        dagster = dagster_summary(select(runs, case_id, "dagster"))
        lines.append(f"| [{case.title}](#{case_id}) | " + " | ".join(statuses) + f" | {dagster} |")
    for case_id in CASES:
        lines += case_section(runs, case_id)
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "RELIABILITY.md")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds allowed for each pytest run")
    args = parser.parse_args()
    try:
        with tempfile.TemporaryDirectory() as folder:
            runs = {name: run_suite(env, Path(folder, f"{name}.json"), args.timeout) for name, env in RUNS.items()}
    except RunBrokeDown as exc:
        print(f"{exc}; {args.output} left as it was", file=sys.stderr)
        return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(runs))
    failed = sorted({r["nodeid"] for run in runs.values() for r in run["tests"] if r["outcome"] == "failed"})
    print(f"wrote {args.output}" + "".join(f"\nFAILED {nodeid}" for nodeid in failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
