"""How a waiting file tailer is woken: by the process's one inotify watcher (Linux), or by the
portable poll (elsewhere, ``PIPES_FAST_NO_INOTIFY=1``, or inotify failed).

The ``wake`` fixture runs a test on each path. On the inotify path the safety poll is made an
hour long, so a wait that returns in time was woken by inotify, not by looking again. Changes are
made by a real writer process once the waiting thread has looked and found nothing to read: what
happens between that look and the block must wake it too.
"""

from __future__ import annotations

import errno
import logging
import os
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import pytest
from support.helpers import closed, custom, opened, wait_for

from pipes_fast import PipesEnvContextInjector, PipesFileMessageReader, StepContext, open_pipes_session
from pipes_fast._system import tailer as _tailer
from pipes_fast._system import wake as _wake
from pipes_fast._system.tailer import FileTailer

WAKE_PATHS = ["inotify", "poll"]
WAIT_SECONDS = 30
"""How long a test waits for a wake: far beyond any poll of the portable path."""


@pytest.fixture(params=WAKE_PATHS)
def wake(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The way waiting tailers are woken in this test, by turns each of the two."""
    if request.param == "poll":
        monkeypatch.setenv("PIPES_FAST_NO_INOTIFY", "1")
        return "poll"
    monkeypatch.delenv("PIPES_FAST_NO_INOTIFY", raising=False)
    if _wake.disabled() or not _wake.watcher().ensure_instance():
        pytest.skip("inotify is not available here")
    monkeypatch.setattr(_tailer, "_SAFETY_POLL_SECONDS", (3600.0, 3600.0))  # only inotify wakes a wait in time
    return "inotify"


class Observed(FileTailer):
    """A tailer that says when a wait has looked and found nothing to read."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.looked = threading.Event()

    def _ready(self) -> bool:
        ready = super()._ready()
        if not ready:
            self.looked.set()
        return ready


def woken(tailer: Observed, act: Callable[[], object]) -> bool:
    """Run ``act`` once a ``wait`` of ``tailer`` on another thread has looked and found nothing;
    True if that wait then returned True within :data:`WAIT_SECONDS`."""
    tailer.looked.clear()
    results: list[bool] = []
    waiter = threading.Thread(target=lambda: results.append(tailer.wait()), daemon=True)
    waiter.start()
    assert tailer.looked.wait(WAIT_SECONDS), "the wait never looked"
    act()
    waiter.join(WAIT_SECONDS)
    in_time = not waiter.is_alive()
    if not in_time:  # let it go before failing
        tailer.stop()
        waiter.join(WAIT_SECONDS)
    return in_time and results == [True]


WRITER = """
import os, sys

def write(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.write(fd, data)
    os.close(fd)

action, path = sys.argv[1], sys.argv[2]
if action == "append":
    write(path, b"more\\n")
elif action == "create":
    write(path, b"new\\n")
elif action == "replace":
    write(path + ".new", b"new\\n")
    os.replace(path + ".new", path)
elif action == "rotate":
    os.rename(path, path + ".1")
    write(path, b"new\\n")
elif action == "truncate":
    os.truncate(path, 0)
elif action == "directory":
    folder = os.path.dirname(path)
    os.rename(folder, folder + ".old")
    os.mkdir(folder)
    write(path, b"new\\n")
"""
"""A writer process doing one thing to the file at ``path`` (one ``os.write`` per line)."""


def writer(action: str, path: Path) -> Callable[[], object]:
    return lambda: subprocess.run([sys.executable, "-c", WRITER, action, str(path)], check=True, timeout=60)


class Warnings(list[str]):
    def __call__(self, message: str) -> None:
        self.append(message)


@pytest.mark.parametrize(
    ("action", "before", "after", "restarts"),
    [
        ("append", b"old\n", b"more\n", 0),
        ("create", None, b"new\n", 0),
        ("replace", b"old\n", b"new\n", 1),
        ("rotate", b"old\n", b"new\n", 1),
        ("truncate", b"old\n", b"", 1),
        ("directory", None, b"new\n", 0),
    ],
)
def test_a_waiting_tailer_is_woken_by_a_writer_process(
    wake: str, tmp_path: Path, action: str, before: Optional[bytes], after: bytes, restarts: int
) -> None:
    path = tmp_path / "folder" / "messages"
    path.parent.mkdir()
    if before is not None:
        path.write_bytes(before)
    with Observed(path, warn=Warnings()) as tailer:
        assert tailer.read() == (before or b"")
        assert woken(tailer, writer(action, path))
        assert tailer.read() == after
        assert tailer.restarts == restarts
        assert woken(tailer, writer("append", path))  # and woken after it too (a new folder watched)
        assert tailer.watched is (wake == "inotify")
        assert tailer.read() == b"more\n"


def test_stop_wakes_a_blocked_wait_at_once(wake: str, tmp_path: Path) -> None:
    tailer = Observed(tmp_path / "never")
    results: list[bool] = []
    waiter = threading.Thread(target=lambda: results.append(tailer.wait()), daemon=True)
    waiter.start()
    assert tailer.looked.wait(WAIT_SECONDS)
    tailer.stop()
    waiter.join(WAIT_SECONDS)
    assert not waiter.is_alive(), "stop did not wake the wait"
    assert results == [False]
    assert tailer.stopped
    assert tailer.wait() is False  # later waits return at once
    tailer.close()


def test_a_wait_after_close_is_woken_again(wake: str, tmp_path: Path) -> None:
    path = tmp_path / "messages"
    path.write_bytes(b"a\n")
    tailer = Observed(path, warn=Warnings())
    assert tailer.read() == b"a\n"
    assert woken(tailer, writer("append", path))
    tailer.close()
    assert not tailer.watched
    assert woken(tailer, writer("replace", path))  # a new file at the path: read opens it
    assert tailer.watched is (wake == "inotify")
    assert tailer.read() == b"new\n"
    tailer.close()


def settle_watcher() -> None:
    """Make the process's watcher and (unless disabled) its inotify instance, which it keeps for
    its life, before descriptors are counted."""
    watcher = _wake.watcher()
    if not _wake.disabled():
        watcher.ensure_instance()


def open_descriptors(folder: Path) -> Counter[str]:
    """What this process holds open of what a tailer opens: inotify instances, eventfds, files in ``folder``."""
    held: Counter[str] = Counter()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # the listing's own descriptor, closed since
        if target in ("anon_inode:inotify", "anon_inode:[eventfd]") or target.startswith(str(folder)):
            held[target] += 1
    return held


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc/self/fd")
def test_no_descriptor_is_left_open(wake: str, tmp_path: Path) -> None:
    """More tailers than the default limit of inotify instances per user (128), each waited on,
    then closed, closed twice, forgotten, or stopped first; and a path in a folder not there. The
    process holds one inotify instance for all of them, and nothing else of theirs once closed."""
    path = tmp_path / "messages"
    path.write_bytes(b"x\n")
    settle_watcher()
    before = open_descriptors(tmp_path)
    for i in range(300):
        tailer = FileTailer(path if i % 10 else tmp_path / "missing" / "messages")
        tailer.read()
        tailer.wait(timeout=0)
        if i % 3 == 0:
            tailer.close()
            tailer.wait(timeout=0)  # watched again
            tailer.close()
        elif i % 3 == 1:
            tailer.stop()
            tailer.close()
        del tailer  # i % 3 == 2: closed when forgotten
    assert not open_descriptors(tmp_path) - before
    assert open_descriptors(tmp_path)["anon_inode:inotify"] <= 1
    watcher = _wake.watcher()
    assert (watcher._folders, watcher._files) == ({}, {})


@pytest.mark.skipif(sys.platform != "linux", reason="inotify is Linux's")
def test_changes_inotify_does_not_report_make_the_tailer_poll(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """Writes inotify cannot see (NFS from another host; here, a watch that reports no writes) are
    found by the safety look, and from then on the tailer polls."""
    monkeypatch.delenv("PIPES_FAST_NO_INOTIFY", raising=False)
    monkeypatch.setattr(_wake, "_FILE_MASK", _wake._IN_DELETE_SELF | _wake._IN_ONESHOT)  # blind to writes
    monkeypatch.setattr(_tailer, "_SAFETY_POLL_SECONDS", (0.05, 0.05))
    path = tmp_path / "messages"
    path.write_bytes(b"")
    with caplog.at_level(logging.INFO, logger=_tailer.__name__), Observed(path) as tailer:
        tailer.read()
        tailer.wait(timeout=0)
        assert tailer.watched
        assert woken(tailer, writer("append", path))  # by the safety look
        assert not tailer.watched and tailer.read() == b"more\n"
        monkeypatch.setattr(_tailer, "_SAFETY_POLL_SECONDS", (3600.0, 3600.0))  # only polling finds the next
        assert woken(tailer, writer("append", path))
        assert not tailer.watched and tailer.read() == b"more\n"
    assert [r.getMessage() for r in caplog.records if r.name == _tailer.__name__] == [
        f"[pipes] inotify does not see the changes to {path} (a network filesystem?): polling it"
    ]


@pytest.mark.skipif(sys.platform != "linux", reason="inotify is Linux's")
def test_one_inotify_instance_per_process_and_a_fork_makes_its_own(tmp_path: Path) -> None:
    code = textwrap.dedent("""
        import os, sys, threading
        from pipes_fast._system import wake as _wake
        from pipes_fast._system.tailer import FileTailer

        def instances():
            return sum(os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:inotify"
                       for fd in os.listdir("/proc/self/fd") if os.path.exists(f"/proc/self/fd/{fd}"))

        def woken(path):
            tailer = FileTailer(path)
            tailer.read()
            assert not tailer.wait(timeout=0)
            writer = threading.Timer(0.05, lambda: open(path, "ab").write(b"x\\n"))
            writer.start()
            ok = tailer.wait(timeout=60) and tailer.watched
            writer.join()
            tailer.close()
            return ok

        tailers = [FileTailer(f"{sys.argv[1]}/messages-{i}") for i in range(200)]
        for tailer in tailers:
            tailer.wait(timeout=0)
        print("parent", instances(), woken(f"{sys.argv[1]}/parent"), flush=True)
        if os.fork() == 0:
            print("child", _wake._watcher is None, instances(), woken(f"{sys.argv[1]}/child"), instances(), flush=True)
            os._exit(0)
        os.wait()
        print("parent", instances(), woken(f"{sys.argv[1]}/parent"), flush=True)
    """)
    env = {k: v for k, v in os.environ.items() if k != "PIPES_FAST_NO_INOTIFY"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], env=env, capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert out.splitlines() == ["parent 1 True", "child True 0 True 1", "parent 1 True"]


INSTANCES_USED_UP = """
import ctypes, errno, logging, os, subprocess, sys
from pipes_fast import PipesEnvContextInjector, PipesTempFileMessageReader, StepContext, open_pipes_session

logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
libc = ctypes.CDLL(None, use_errno=True)
held = []
while True:  # the user's inotify instances used up, for real
    fd = libc.inotify_init1(os.O_CLOEXEC)
    if fd < 0:
        assert ctypes.get_errno() in (errno.EMFILE, errno.ENFILE), ctypes.get_errno()
        break
    held.append(fd)
try:
    for i in range(3):
        with open_pipes_session(StepContext(), PipesEnvContextInjector(), PipesTempFileMessageReader()) as session:
            env = {**os.environ, **session.get_bootstrap_env_vars()}
            child = "from pipes_fast.external import open_dagster_pipes\\nwith open_dagster_pipes() as p:\\n" \\
                    "    [p.report_custom_message(j) for j in range(100)]"
            subprocess.run([sys.executable, "-c", child], env=env, check=True, timeout=120)
        assert list(session.get_custom_messages()) == list(range(100)), session.get_custom_messages()
        print("session", i, "delivered", flush=True)
finally:
    for fd in held:
        os.close(fd)
"""
"""A process that finds the per-user inotify instances used up: its sessions poll, and say so once."""


@pytest.mark.skipif(sys.platform != "linux", reason="inotify is Linux's")
def test_past_the_inotify_instance_limit_sessions_poll_and_warn_once(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PIPES_FAST_NO_INOTIFY"}
    result = subprocess.run(
        [sys.executable, "-c", INSTANCES_USED_UP], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"session {i} delivered" for i in range(3)]
    warnings = [line for line in result.stderr.splitlines() if "polled instead" in line]
    assert len(warnings) == 1, result.stderr
    assert warnings[0].startswith("pipes_fast._system.wake: [pipes] inotify is not available ([Errno 24]")


@pytest.mark.skipif(sys.platform != "linux", reason="inotify is Linux's")
def test_a_failing_watch_falls_back_to_polling(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """The watch limit reached (``inotify_add_watch`` fails with ENOSPC): polled, warned once."""
    monkeypatch.delenv("PIPES_FAST_NO_INOTIFY", raising=False)
    monkeypatch.setattr(_wake, "_warned", set())
    call = _wake._call

    def failing(name: str, *args: object) -> int:
        if name == "inotify_add_watch":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return call(name, *args)

    monkeypatch.setattr(_wake, "_call", failing)
    settle_watcher()
    before = open_descriptors(tmp_path)
    with caplog.at_level(logging.WARNING, logger=_wake.__name__):
        for i in range(2):
            path = tmp_path / f"messages-{i}"
            path.write_bytes(b"")
            with Observed(path) as tailer:
                assert tailer.read() == b""
                assert woken(tailer, writer("append", path))
                assert not tailer.watched
                assert tailer.read() == b"more\n"
    assert not open_descriptors(tmp_path) - before
    assert [r.getMessage() for r in caplog.records] == [  # once per process
        f"[pipes] cannot watch a folder with inotify ([Errno {errno.ENOSPC}] {os.strerror(errno.ENOSPC)}): "
        "message files are polled instead"
    ]


CHILD = """
import os, sys, time
from dagster_pipes import open_dagster_pipes

go = sys.argv[1]
with open_dagster_pipes() as pipes:
    pipes.report_custom_message("first")
    deadline = time.monotonic() + 60
    while not os.path.exists(go):
        assert time.monotonic() < deadline, "never told to go on"
        time.sleep(0.005)
    pipes.report_custom_message("second")
"""
"""dagster-pipes' writer: reports one message, waits for the file ``go``, reports another."""


class KeptTailers(PipesFileMessageReader):
    """A file reader that keeps its tailers, to look at them while the session runs."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.tailers: list[FileTailer] = []
        reader = self

        class Kept(FileTailer):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                reader.tailers.append(self)

        self._tailer_class = Kept


def test_a_session_delivers_a_message_while_the_process_runs(wake: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    reader = KeptTailers(str(tmp_path / "messages"))
    with open_pipes_session(StepContext(), PipesEnvContextInjector(), reader) as session:
        env = {**os.environ, **session.get_bootstrap_env_vars()}
        process = subprocess.Popen([sys.executable, "-c", CHILD, str(go)], env=env)
        try:
            wait_for(lambda: session.get_custom_messages() == ("first",), "the first message", WAIT_SECONDS)
            assert process.poll() is None  # delivered while the process runs
            assert [t.watched for t in reader.tailers] == [wake == "inotify"]
            go.touch()
            assert process.wait(timeout=60) == 0
        finally:
            process.kill()
    assert list(session.get_custom_messages()) == ["first", "second"]
    assert session.message_handler.received_closed_message


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc/self/fd")
def test_sessions_leave_no_descriptor_open(wake: str, tmp_path: Path) -> None:
    path = tmp_path / "messages"
    settle_watcher()
    before = open_descriptors(tmp_path)
    for i in range(20):
        with open_pipes_session(StepContext(), PipesEnvContextInjector(), PipesFileMessageReader(str(path))) as session:
            with open(path, "a") as f:
                f.write(opened() + custom(i) + closed())
            wait_for(lambda: session.message_handler.received_closed_message, "the closed message", WAIT_SECONDS)
        assert list(session.get_custom_messages()) == [i]
    assert not open_descriptors(tmp_path) - before


@pytest.mark.skipif(sys.platform != "linux", reason="inotify is Linux's")
def test_a_write_wakes_only_the_reader_of_its_own_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Files of one folder, each armed by its own subscriber: a real writer's writes to one call
    back its subscriber only (the watcher handles events in order: once the last file's call back
    has come, any call the others' writes made would have come before it)."""
    monkeypatch.delenv("PIPES_FAST_NO_INOTIFY", raising=False)
    if not _wake.watcher().ensure_instance():
        pytest.skip("inotify is not available here")
    paths = [tmp_path / f"messages-{i}" for i in range(3)]
    calls: list[Counter[int]] = [Counter() for _ in paths]
    called = [threading.Event() for _ in paths]

    def on_change(i: int) -> None:
        calls[i]["calls"] += 1
        called[i].set()

    descriptors = []
    subscriptions = [_wake.Subscription(str(path), lambda i=i: on_change(i)) for i, path in enumerate(paths)]
    try:
        for path in paths:
            path.write_bytes(b"")
            descriptors.append(os.open(path, os.O_RDONLY))
        for subscription, fd in zip(subscriptions, descriptors):
            assert subscription.arm(fd)
        writer("append", paths[2])()  # once its call back has come, the files' creation has been seen
        assert called[2].wait(WAIT_SECONDS)
        assert subscriptions[2].arm(descriptors[2])
        for count, event in zip(calls, called):
            count.clear()
            event.clear()
        for _ in range(20):  # writes to the first file, its subscriber arming again after each call
            called[0].clear()
            writer("append", paths[0])()
            assert called[0].wait(WAIT_SECONDS)
            assert subscriptions[0].arm(descriptors[0])
        writer("append", paths[2])()
        assert called[2].wait(WAIT_SECONDS)
        assert [c["calls"] for c in calls] == [20, 0, 1]
    finally:
        for subscription in subscriptions:
            subscription.close()
        for fd in descriptors:
            os.close(fd)


@pytest.mark.skipif(sys.platform != "linux", reason="inotify is Linux's")
def test_a_process_that_started_polling_is_woken_once_inotify_is_allowed(tmp_path: Path) -> None:
    """``PIPES_FAST_NO_INOTIFY`` is read at each look: the watcher made while it was set makes its
    instance for the first look after it is unset."""
    code = textwrap.dedent("""
        import os, sys
        from pipes_fast._system.tailer import FileTailer
        os.environ["PIPES_FAST_NO_INOTIFY"] = "1"
        polling = FileTailer(sys.argv[1] + "/first")
        polling.wait(timeout=0)
        del os.environ["PIPES_FAST_NO_INOTIFY"]
        watched = FileTailer(sys.argv[1] + "/second")
        watched.wait(timeout=0)
        print(polling.watched, watched.watched)
    """)
    env = {k: v for k, v in os.environ.items() if k != "PIPES_FAST_NO_INOTIFY"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], env=env, capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert out.split() == ["False", "True"]


EXITS_WITH_TAILERS_OPEN = """
import sys
from pipes_fast._system.tailer import FileTailer
tailer = FileTailer(sys.argv[1] + "/messages")
tailer.wait(timeout=0)  # the first look: the watcher's thread is busy taking its instance in
print("exiting", flush=True)
"""
"""A process that exits right after its tailer's first look, the tailer open and watched."""


@pytest.mark.skipif(sys.platform != "linux", reason="inotify is Linux's")
def test_a_process_exits_with_its_tailers_open(tmp_path: Path) -> None:
    """The watcher's daemon thread may stop holding its lock as the interpreter exits; closing the
    tailers then must not wait for it (it did, in about one exit in three)."""
    env = {k: v for k, v in os.environ.items() if k != "PIPES_FAST_NO_INOTIFY"}
    for _ in range(30):
        result = subprocess.run(
            [sys.executable, "-c", EXITS_WITH_TAILERS_OPEN, str(tmp_path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (result.returncode, result.stdout) == (0, "exiting\n"), result.stderr
