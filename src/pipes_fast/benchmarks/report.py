"""A benchmark report as a table, as markdown, as JSON lines, and as plots (with matplotlib)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from pipes_fast.benchmarks.figures import Figure, Report

REGENERATE = "pipes-fast bench --out docs/performance"
"""The command that regenerates the project's own report, ``docs/performance/REPORT.md``."""


def value(number: float, unit: str) -> str:
    """A figure's value, readable: ``1,234,567 msg/s``, ``0.31 ms``, ``0.042% of a core``."""
    if unit == "msg/s":
        return f"{number:,.0f} {unit}"
    if unit.startswith("%"):
        return f"{number:.3f}{unit}"
    return f"{number:.3g} {unit}" if number < 10 else f"{number:,.1f} {unit}"


_WORDS = {"msg/s": ("faster", "slower"), "ms": ("shorter", "longer")}
"""How a figure that is better, or worse, than pipes_fast's best compares, by unit."""


def comparison(figure: Figure, section: list[Figure]) -> str:
    """How ``figure`` compares with pipes_fast's best figure in its section, e.g.
    ``"5.07x slower than pipes_fast (compiled)"`` (empty for that figure itself)."""
    ours = [f for f in section if f.side.startswith("pipes_fast")]
    if not ours:
        return ""
    best = (max if figure.higher_is_better else min)(ours, key=lambda f: f.best)
    if figure is best or not figure.best or not best.best:
        return ""
    ratio = figure.best / best.best
    better = ratio > 1 if figure.higher_is_better else ratio < 1
    times = max(ratio, 1 / ratio)
    good, bad = _WORDS.get(figure.unit, ("less", "more"))
    return f"{times:.2f}x {good if better else bad} than {best.side}"


def rows(report: Report) -> Iterator[tuple[str, list[tuple[str, str, str, str]]]]:
    """Per section: (side, best, worst round, comparison with pipes_fast's)."""
    for section, figures in report.sections().items():
        yield (
            section,
            [(f.side, value(f.best, f.unit), value(f.worst, f.unit), comparison(f, figures)) for f in figures],
        )


def as_table(report: Report) -> str:
    """The report as plain text: a small table per section."""
    out = []
    for section, table in rows(report):
        widths = [max(len(row[i]) for row in table) for i in range(3)]
        out.append(section)
        for row in table:
            out.append("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + f"  {row[3]}".rstrip())
    out.append(
        f"(best round, then worst; {report.seconds:.0f} s; {', '.join(f'{k} {v}' for k, v in report.machine.items() if k != 'executable')})"
    )
    return "\n".join(out)


def as_json(report: Report) -> Iterator[dict[str, Any]]:
    """One object per figure, then one for the machine."""
    for figure in report.figures:
        yield {
            "type": "figure",
            "section": figure.section,
            "side": figure.side,
            "best": figure.best,
            "worst": figure.worst,
            "unit": figure.unit,
        }
    yield {"type": "machine", **report.machine, "seconds": report.seconds}


def write(report: Report, folder: Path) -> list[Path]:
    """``REPORT.md`` in ``folder`` and, where matplotlib is installed, a PNG plot per section;
    the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    plots = _plots(report, folder) if find_spec("matplotlib") is not None else {}
    lines = [
        "# pipes_fast benchmark report",
        "",
        f"Regenerate with `{REGENERATE}` (a quick look: `pipes-fast bench --quick`). Each figure is the best of "
        "its rounds; the worst round is beside it.",
        "",
        "| machine | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in report.machine.items() if k != "executable"),
        f"| run time | {report.seconds:.0f} s |",
        "",
    ]
    for section, table in rows(report):
        lines += [f"## {section}", "", "| side | best | worst round | compared |", "|---|---|---|---|"]
        lines += [f"| {' | '.join(row)} |" for row in table]
        if section in plots:
            lines += ["", f"![{section}]({plots[section].name})"]
        lines.append("")
    if not plots:
        lines.append("(Plots need matplotlib: `pip install matplotlib`.)")
    markdown = folder / "REPORT.md"
    markdown.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [markdown, *plots.values()]


def _plots(report: Report, folder: Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    from matplotlib import pyplot

    written = {}
    for number, (section, figures) in enumerate(report.sections().items(), 1):
        figure, axes = pyplot.subplots(figsize=(7, 0.6 + 0.5 * len(figures)))
        sides = [f.side for f in figures][::-1]
        best = [f.best for f in figures][::-1]
        worst = [f.worst for f in figures][::-1]
        axes.barh(sides, best, color=["#2a7ab0" if s.startswith("pipes_fast") else "#999999" for s in sides])
        axes.errorbar(worst, sides, fmt="|", color="black", label="worst round")
        axes.set_xlabel(
            figures[0].unit + (" (higher is better)" if figures[0].higher_is_better else " (lower is better)")
        )
        axes.set_title(section, fontsize=10)
        figure.tight_layout()
        path = folder / f"{number:02d}-{re.sub(r'[^a-z0-9]+', '-', section.lower()).strip('-')[:50]}.png"
        figure.savefig(path, dpi=100)
        pyplot.close(figure)
        written[section] = path
    return written
