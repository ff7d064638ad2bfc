"""The threads kept between sessions (``pipes_fast._system.threads``): jobs run, finish, and nothing leaks."""

from __future__ import annotations

import gc
import os
import threading
import time
import weakref
from collections.abc import Iterator

import pytest

from pipes_fast._system import threads as _threads

TIMEOUT = 30.0


@pytest.fixture(autouse=True)
def no_idle_threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts and ends with no idle thread of its own (those idle ones end at once)."""
    yield
    monkeypatch.setattr(_threads, "IDLE_SECONDS", 0.0)
    for _ in range(_threads.MAX_IDLE):  # wake each idle thread once: it finds no job waiting and ends
        _threads.start(lambda: None, "draining").wait(TIMEOUT)
    _wait_until(lambda: not _threads._idle)


def _wait_until(condition, what: str = "condition") -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_a_job_runs_on_a_thread_named_for_it_and_wait_returns_when_it_returns() -> None:
    release, seen = threading.Event(), []
    job = _threads.start(lambda: (seen.append(threading.current_thread().name), release.wait(TIMEOUT)), "reader of x")
    assert not job.wait(0.05)
    assert not job.done()
    release.set()
    assert job.wait(TIMEOUT)
    assert job.done() and job.wait()
    assert seen == ["reader of x"]


def test_the_next_job_runs_on_the_thread_that_finished_the_last() -> None:
    threads: list[threading.Thread] = []
    _threads.start(lambda: threads.append(threading.current_thread()), "first").wait(TIMEOUT)
    assert threads[0].is_alive() and threads[0].name == _threads.IDLE_NAME
    _threads.start(lambda: threads.append(threading.current_thread()), "second").wait(TIMEOUT)
    assert threads[1] is threads[0]
    assert threads[0].daemon


def test_at_most_max_idle_threads_wait_after_a_burst() -> None:
    count = _threads.MAX_IDLE + 4
    barrier = threading.Barrier(count + 1)
    jobs = [_threads.start(lambda: barrier.wait(TIMEOUT), f"job {i}") for i in range(count)]
    barrier.wait(TIMEOUT)  # all of them ran at once, each on a thread of its own
    assert all(job.wait(TIMEOUT) for job in jobs)
    _wait_until(lambda: _idle_threads() == _threads.MAX_IDLE, "the threads beyond MAX_IDLE to end")


def test_an_idle_thread_ends_after_idle_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_threads, "IDLE_SECONDS", 0.05)
    ran: list[threading.Thread] = []
    _threads.start(lambda: ran.append(threading.current_thread()), "short").wait(TIMEOUT)
    _wait_until(lambda: not ran[0].is_alive(), "the idle thread to end")
    assert ran[0] not in _threads._idle


def test_a_job_handed_over_as_the_idle_time_runs_out_still_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no idle time at all, every hand-over races the thread leaving: none may be lost."""
    monkeypatch.setattr(_threads, "IDLE_SECONDS", 0.0)
    ran: list[int] = []
    for i in range(2000):
        assert _threads.start(lambda i=i: ran.append(i), "racing").wait(TIMEOUT), f"job {i} never ran"
    assert ran == list(range(2000))


def test_an_exception_goes_to_threading_excepthook_and_the_thread_serves_on(monkeypatch: pytest.MonkeyPatch) -> None:
    reported: list[tuple[threading.ExceptHookArgs, str]] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: reported.append((args, threading.current_thread().name)))

    def fail() -> None:
        raise ValueError("bad line")

    assert _threads.start(fail, "failing").wait(TIMEOUT)
    ((args, name),) = reported
    assert args.exc_type is ValueError and str(args.exc_value) == "bad line"
    assert name == "failing"
    threads: list[threading.Thread] = []
    assert _threads.start(lambda: threads.append(threading.current_thread()), "after").wait(TIMEOUT)
    assert threads == [args.thread]


def test_a_finished_job_lets_go_of_what_its_target_holds() -> None:
    class Payload:
        pass

    payload = Payload()
    held = weakref.ref(payload)
    _threads.start(lambda payload=payload: None, "holding").wait(TIMEOUT)
    del payload
    gc.collect()
    assert held() is None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_starts_its_own_threads() -> None:
    _threads.start(lambda: None, "in the parent").wait(TIMEOUT)
    assert _threads._idle  # the parent's idle thread, which a child does not have
    pid = os.fork()
    if pid == 0:  # the child: report through the exit status only
        ok = not _threads._idle and _threads.start(lambda: None, "in the child").wait(TIMEOUT)
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def _idle_threads() -> int:
    return sum(thread.name == _threads.IDLE_NAME for thread in threading.enumerate())
