"""Smoke and benchmark suite of the start-up goals: a whole child process per side (a bare
interpreter, dagster_pipes, pipes_fast), as ``goal_startup`` runs them (issue 10); and
``pipes-fast run -- true`` beside ``python -c pass`` and ``true``, as ``goal_cli`` runs them
(issue 21).

    pytest bench/test_bench_startup.py --benchmark-group-by=group

Under ``--benchmark-disable`` (CI) each side runs once, and each child's messages are checked; the
overheads and their ratio are measured by ``python bench/goals.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import goal_cli
import pytest
from goal_startup import SIDES, Side, child_environment
from timing import BENCH_ROUNDS


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], Path]]:
    """The children's environment (bootstrap params included) and their message file."""
    with child_environment(tmp_path_factory.mktemp("startup")) as (env, messages):
        yield env, messages


@pytest.mark.benchmark(group="child process: open, one materialization, close")
@pytest.mark.parametrize("side", SIDES, ids=[side.name for side in SIDES])
def test_child_process(benchmark: Any, environment: tuple[dict[str, str], Path], side: Side) -> None:
    env, messages = environment
    benchmark.pedantic(side.run, args=(env, messages), rounds=BENCH_ROUNDS, iterations=1)


@pytest.mark.benchmark(group="pipes-fast run -- true, beside python -c pass and true")
@pytest.mark.parametrize("name", list(goal_cli.SIDES))
def test_cli_startup(benchmark: Any, name: str) -> None:
    env = goal_cli.environment()
    benchmark.pedantic(goal_cli.run_side, args=(name, env), rounds=BENCH_ROUNDS, iterations=1)
