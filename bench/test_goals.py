"""``bench/goals.py`` finds the goals: every ``measure_*`` defined in a ``goal_*.py`` module, and
nothing a goal module imports (an imported ``measure_*`` once made the run stop half-way)."""

from __future__ import annotations

import inspect
from pathlib import Path

import goals


def test_discover_finds_each_goal_module_s_own_measures() -> None:
    measures = goals.discover()
    modules = {path.stem for path in Path(goals.__file__).parent.glob("goal_*.py")}
    assert {measure.__module__ for measure in measures} == modules
    for measure in measures:
        assert measure.__name__.startswith("measure_")
        assert list(inspect.signature(measure).parameters)[0] == "rounds"
