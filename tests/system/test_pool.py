"""The readers' pool (``pipes_fast._system.pool``): bounded threads, serial tasks, nothing leaks."""

from __future__ import annotations

import gc
import os
import threading
import time
import weakref
from collections.abc import Iterator

import pytest

from pipes_fast._system import pool as _pool

TIMEOUT = 30.0


@pytest.fixture
def fresh_pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[_pool._Pool]:
    """A pool of this test's own, its threads ending soon after their last work."""
    pool = _pool._Pool()
    monkeypatch.setattr(_pool, "_pool", pool)
    monkeypatch.setattr(_pool, "IDLE_SECONDS", 0.2)
    yield pool
    _wait_until(lambda: pool._threads == 0, "the pool's threads to end")


def _wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_work_beyond_the_bound_waits_for_a_thread(fresh_pool: _pool._Pool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_pool, "MAX_WORKERS", 3)
    release, running, done = threading.Event(), [], []
    lock = threading.Lock()

    def work(i: int) -> None:
        with lock:
            running.append(i)
        release.wait(TIMEOUT)
        with lock:
            done.append(i)

    for i in range(10):
        _pool.submit(lambda i=i: work(i))
    _wait_until(lambda: len(running) == 3, "three pieces of work to start")
    assert fresh_pool._threads == 3
    release.set()
    _wait_until(lambda: len(done) == 10, "all the work")
    assert sorted(done) == list(range(10))
    assert fresh_pool._threads <= 3


def test_a_serial_task_never_runs_twice_at_once_and_runs_again_when_scheduled_meanwhile(
    fresh_pool: _pool._Pool,
) -> None:
    inside, most, turns = 0, 0, 0
    lock = threading.Lock()
    first_turn = threading.Event()
    go_on = threading.Event()

    def turn() -> None:
        nonlocal inside, most, turns
        with lock:
            inside += 1
            most = max(most, inside)
            turns += 1
        first_turn.set()
        go_on.wait(TIMEOUT)
        with lock:
            inside -= 1

    task = _pool.SerialTask(turn)
    task.schedule()
    assert first_turn.wait(TIMEOUT)
    for _ in range(50):  # while it runs: one more turn, not fifty, and never beside it
        task.schedule()
    go_on.set()
    _wait_until(lambda: turns == 2 and inside == 0, "the second turn")
    time.sleep(0.05)
    assert (turns, most) == (2, 1)


def test_failing_work_is_reported_and_the_pool_goes_on(
    fresh_pool: _pool._Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    reported: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", reported.append)
    ran = threading.Event()

    def fail() -> None:
        raise RuntimeError("boom")

    _pool.submit(fail)
    _pool.submit(ran.set)
    assert ran.wait(TIMEOUT)
    _wait_until(lambda: reported, "the report")
    assert isinstance(reported[0].exc_value, RuntimeError)


def test_idle_threads_end_and_work_lets_go_of_what_it_holds(fresh_pool: _pool._Pool) -> None:
    class Payload:
        pass

    payload = Payload()
    held = weakref.ref(payload)
    ran = threading.Event()
    _pool.submit(lambda payload=payload: ran.set())
    assert ran.wait(TIMEOUT)
    del payload
    _wait_until(lambda: fresh_pool._threads == 0, "the idle thread to end")
    gc.collect()
    assert held() is None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_starts_its_own_threads() -> None:
    ran = threading.Event()
    _pool.submit(ran.set)
    assert ran.wait(TIMEOUT)
    pid = os.fork()
    if pid == 0:  # the child: report through the exit status only
        child_ran = threading.Event()
        ok = _pool._pool._threads == 0
        _pool.submit(child_ran.set)
        os._exit(0 if ok and child_ran.wait(TIMEOUT) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
