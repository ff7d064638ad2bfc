"""Smoke of the scale goals (issue 22, ``goal_scale``) at a size CI affords: every session of an
orchestrator process gets exactly its own messages, in order, and no fallback to polling is
warned of, with one client shared by the threads; also with several orchestrator processes at
once. Behaviour only: the figures are ``python bench/goal_scale.py``'s.
"""

from __future__ import annotations

from typing import Any

import pytest
from goal_scale import FALLBACK, SIDES, processes_figures, run_one
from scale_worker import Config

import pipes_fast
from pipes_fast._system import pool

SESSIONS = 20
MESSAGES = 300


def assert_exact(run: dict[str, Any], sessions: int) -> None:
    assert "failed" not in run, run
    assert run["errors"] == []
    assert run["ready"] == sessions  # every session was open and idle at once
    assert (run["lost"], run["misordered"], run["foreign"]) == (0, 0, 0)
    warnings = {**run["warnings"], **run["session_warnings"]}
    assert not [text for text in warnings if FALLBACK in text]


def assert_one_waiting_mechanism(run: dict[str, Any]) -> None:
    """The open, idle sessions of a pipes_fast client share the process's one inotify instance and
    its watcher thread, and hold no reader thread each (the pool is bounded)."""
    assert run["inotify_instances"] == 1
    assert run["pipes_fast_threads"] <= pool.MAX_WORKERS + 1


@pytest.mark.parametrize("implementation", ["compiled", "pure"])
@pytest.mark.parametrize("side", ["pipes_fast", "pipes_fast/dagster_pipes"])
def test_sessions_sharing_one_client_get_exactly_their_own_messages(
    monkeypatch: pytest.MonkeyPatch, side: str, implementation: str
) -> None:
    if implementation == "pure":
        monkeypatch.setenv("PIPES_FAST_NO_EXTENSIONS", "1")  # the orchestrator process's hot path
    elif not pipes_fast.EXTENSION:
        pytest.skip("the compiled extension is not built in this install")
    client, children = SIDES[side]
    run = run_one(Config(client, children, SESSIONS, MESSAGES), timeout=300)
    assert_exact(run, SESSIONS)
    assert_one_waiting_mechanism(run)
    assert run["implementation"] == implementation


def test_idle_then_active_sessions_get_their_stamped_lines_in_order() -> None:
    run = run_one(Config("pipes_fast", "pipes_fast", SESSIONS, 5, "latency"), timeout=300)
    assert_exact(run, SESSIONS)
    assert len(run["latencies"]) == SESSIONS * 5


def test_dagster_clients_run_the_same_load() -> None:
    for side in ("pipes_fast.dagster", "dagster"):
        client, children = SIDES[side]
        run = run_one(Config(client, children, 5, MESSAGES), timeout=300)
        assert "failed" not in run, run
        if side == "pipes_fast.dagster":  # Dagster's own may lose some: that is what is measured
            assert_exact(run, 5)
            assert_one_waiting_mechanism(run)


def test_orchestrator_processes_at_once_lose_nothing() -> None:
    (run,) = processes_figures(4, 3, MESSAGES, 1)
    assert run["failed_processes"] == [] and run["failed_sessions"] == 0
    assert (run["lost"], run["misordered"], run["foreign"]) == (0, 0, 0)
    assert run["processes_with_fallback"] == 0
