"""PipesSubprocessClient with real child processes: environment, output, failures, termination."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.helpers import closed, materialization, opened, script

from pipes_fast import (
    AssetCheckResult,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    PipesEnvContextInjector,
    PipesError,
    PipesExecutionError,
    PipesSubprocessClient,
    StepContext,
)
from pipes_fast._system import pool as _pool
from pipes_fast._system import wake as _wake
from pipes_fast.clients.base import PipesClientCompletedInvocation
from pipes_fast.protocol import make_message


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def test_results_custom_messages_and_invocation_getters(tmp_path):
    check = (
        json.dumps(
            make_message(
                "report_asset_check",
                {"asset_key": "a", "check_name": "c", "passed": True, "severity": "ERROR", "metadata": None},
            )
        )
        + "\n"
    )
    steps = [
        {"write": opened() + materialization("a", {"n": {"raw_value": 1, "type": "__infer__"}}) + check + closed()}
    ]
    invocation = PipesSubprocessClient().run(context=StepContext("a"), command=script(tmp_path, steps))
    assert invocation.get_results() == [
        MaterializeResult(AssetKey("a"), {"n": MetadataValue("int", 1)}),
        AssetCheckResult(AssetKey("a"), "c", True),
    ]
    assert invocation.get_results() == invocation.get_results()  # repeatable
    assert invocation.get_materialize_result().check_results == (AssetCheckResult(AssetKey("a"), "c", True),)
    with pytest.raises(PipesError, match="Did not find singular AssetCheckResult"):
        invocation.get_asset_check_result()
    assert invocation.stdout is None and invocation.stderr is None


def test_implicit_materializations_and_the_errors_of_the_single_result_getters(tmp_path):
    invocation = PipesSubprocessClient().run(
        context=StepContext(["a", "b"]), command=script(tmp_path, [{"write": opened() + closed()}])
    )
    assert invocation.get_results() == [MaterializeResult(AssetKey("a")), MaterializeResult(AssetKey("b"))]
    assert invocation.get_results(implicit_materializations=False) == []
    with pytest.raises(PipesError, match=r"Multiple materialize results returned with asset keys \['a', 'b'\]"):
        invocation.get_materialize_result()


def test_environment_is_merged_in_order(tmp_path, monkeypatch):
    monkeypatch.setenv("FROM_OS", "os")
    monkeypatch.setenv("OVERRIDDEN", "os")
    out = tmp_path / "env.json"
    code = f"""
        import json, os
        keys = ["FROM_OS", "OVERRIDDEN", "CLIENT", "RUN", "DAGSTER_PIPES_CONTEXT", "DAGSTER_PIPES_MESSAGES"]
        json.dump({{k: os.environ.get(k) for k in keys}}, open({str(out)!r}, "w"))
    """
    client = PipesSubprocessClient(env={"CLIENT": "client", "OVERRIDDEN": "client"})
    client.run(context=StepContext(), command=python(code), env={"RUN": "run", "DAGSTER_PIPES_CONTEXT": "not this"})
    seen = json.loads(out.read_text())
    assert (seen["FROM_OS"], seen["OVERRIDDEN"], seen["CLIENT"], seen["RUN"]) == ("os", "client", "client", "run")
    assert seen["DAGSTER_PIPES_CONTEXT"] != "not this" and seen["DAGSTER_PIPES_MESSAGES"]


def test_cwd_from_client_or_run(tmp_path):
    code = "import os; open('where', 'w').write(os.getcwd())"
    PipesSubprocessClient(cwd=str(tmp_path)).run(context=StepContext(), command=python(code))
    assert (tmp_path / "where").read_text() == str(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    PipesSubprocessClient(cwd=str(tmp_path)).run(context=StepContext(), command=python(code), cwd=str(other))
    assert (other / "where").read_text() == str(other)


@pytest.mark.reliability("chatty-child")
def test_captured_output_never_deadlocks():
    code = """
        import sys
        chunk = "x" * 1023 + "\\n"
        for _ in range(10 * 1024):
            sys.stdout.write(chunk)
            sys.stderr.write(chunk)
    """
    invocation = PipesSubprocessClient(forward_stdio=False).run(context=StepContext(), command=python(code))
    assert len(invocation.stdout) == len(invocation.stderr) == 10 * 1024 * 1024


def test_a_failure_names_the_exit_code_and_shows_the_tail_of_stderr():
    code = "import sys; sys.stderr.write('early\\n' + 'noise\\n' * 1000 + 'the real problem\\n'); sys.exit(3)"
    with pytest.raises(PipesExecutionError, match="failed with code 3") as info:
        PipesSubprocessClient(forward_stdio=False).run(context=StepContext(), command=python(code))
    tail = str(info.value).split("Last of its stderr:\n")[1]
    assert tail.endswith("the real problem\n") and "early" not in tail and len(tail) == 2000


def test_a_failure_includes_the_exception_the_process_reported(tmp_path):
    exception = {
        "message": "bad input",
        "stack": ["  File s.py\n"],
        "name": "ValueError",
        "cause": None,
        "context": None,
    }
    steps = [{"write": opened() + closed(exception)}, {"exit": 1}]
    with pytest.raises(PipesExecutionError, match="(?s)failed with code 1.*ValueError: bad input"):
        PipesSubprocessClient().run(context=StepContext(), command=script(tmp_path, steps))


def test_a_killed_process_names_the_signal():
    with pytest.raises(PipesExecutionError, match="was killed by SIGKILL"):
        PipesSubprocessClient().run(context=StepContext(), command=python("import os; os.kill(os.getpid(), 9)"))


def test_a_command_that_cannot_start():
    with pytest.raises(PipesExecutionError, match="could not start external process"):
        PipesSubprocessClient().run(context=StepContext(), command=["/nonexistent/program"])


def test_context_injector_and_reader_are_configurable(tmp_path):
    out = tmp_path / "ctx.json"
    client = PipesSubprocessClient(context_injector=PipesEnvContextInjector())
    client.run(
        context=StepContext("a", partition_key="p"),
        command=script(tmp_path, [{"context_to": str(out)}]),
        extras={"e": 1},
    )
    context = json.loads(out.read_text())
    assert context["partition_key"] == "p" and context["extras"] == {"e": 1} and context["asset_keys"] == ["a"]


def _wait_for(condition: Callable[[], bool], failure: str, timeout: float = 60) -> None:
    """Poll ``condition`` until it holds; fail the test with ``failure`` if it does not in time."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.05)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def kill_at_teardown() -> Iterator[list[subprocess.Popen[str] | int]]:
    """Processes a test started, directly or (by pid) not, and that must not outlive it."""
    processes: list[subprocess.Popen[str] | int] = []
    yield processes
    for process in processes:
        if isinstance(process, subprocess.Popen):
            process.kill()
            process.wait()
        elif _pid_alive(process):
            os.kill(process, signal.SIGKILL)


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.reliability("grandchild-stdout")
@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open file descriptors in /proc")
def test_a_grandchild_holding_the_captured_pipes_does_not_hold_up_run(
    tmp_path: Path, kill_at_teardown: list[subprocess.Popen[str] | int]
) -> None:
    pid_file = tmp_path / "grandchild.pid"
    command = ["sh", "-c", f"echo out; echo err >&2; sleep 300 & echo $! > '{pid_file}'; exit 0"]
    _wake.watcher().ensure_instance()  # the process's one watcher and instance, kept for its life
    fds, threads = _open_fds(), set(threading.enumerate())
    returned: list[PipesClientCompletedInvocation] = []
    run = threading.Thread(
        target=lambda: returned.append(
            PipesSubprocessClient(forward_stdio=False).run(context=StepContext(), command=command)
        ),
        daemon=True,
    )
    run.start()
    try:
        run.join(timeout=30)
        assert not run.is_alive(), "run() waited for the grandchild that holds stdout and stderr"
    finally:
        _wait_for(lambda: pid_file.exists() and pid_file.read_text().strip() != "", "no grandchild pid")
        kill_at_teardown.append(grandchild := int(pid_file.read_text()))
    assert _pid_alive(grandchild)  # it held the pipes all along
    (invocation,) = returned
    assert (invocation.stdout, invocation.stderr) == ("out\n", "err\n")
    assert _open_fds() == fds
    assert {thread.name for thread in threading.enumerate() if thread not in threads} <= {_pool.WORKER_NAME}


ORCHESTRATOR = """
import sys
from pipes_fast import PipesSubprocessClient, StepContext
child_mode, pid_file, grace, stdio = sys.argv[1:]
child = [sys.executable, "-c", '''
import os, signal, sys, time
if sys.argv[1] == "ignore":  # stays alive, noting that SIGINT came
    signal.signal(signal.SIGINT, lambda *_: open(sys.argv[2] + ".sigint", "w").close())
open(sys.argv[2], "w").write(str(os.getpid()))
while True:
    time.sleep(600)
''', child_mode, pid_file]
client = PipesSubprocessClient(termination_timeout_seconds=float(grace), forward_stdio=stdio == "forward")
try:
    client.run(context=StepContext(), command=child)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(42)
"""


class Orchestrator:
    """A real orchestrator process running ``PipesSubprocessClient().run`` on a child that sleeps."""

    def __init__(self, tmp_path: Path, child_mode: str, grace: float, stdio: str = "forward") -> None:
        self.tmpdir = tmp_path / "tmp"  # where its pipes_fast-* temporary file and folder go
        self.tmpdir.mkdir()
        self.pid_file = tmp_path / "child.pid"
        self.process = subprocess.Popen(
            [sys.executable, "-c", ORCHESTRATOR, child_mode, str(self.pid_file), str(grace), stdio],
            env={**os.environ, "TMPDIR": str(self.tmpdir)},
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,  # our signals reach the orchestrator only
        )
        _wait_for(lambda: self.pid_file.exists() and self.pid_file.read_text() != "", "the child never started")
        self.child = int(self.pid_file.read_text())
        assert len(self.temp_entries()) == 2  # the context's file and the messages' folder

    def temp_entries(self) -> list[Path]:
        return list(self.tmpdir.glob("pipes_fast-*"))

    def child_got_sigint(self) -> bool:
        return Path(f"{self.pid_file}.sigint").exists()

    def assert_interrupted_and_clean(self) -> None:
        """The orchestrator re-raised the interrupt, reaped the child and removed its temporary files."""
        out, _ = self.process.communicate(timeout=30)
        assert (self.process.returncode, out) == (42, "interrupted\n")
        _wait_for(lambda: not _pid_alive(self.child), "the child outlived the orchestrator", timeout=30)
        assert self.temp_entries() == []


@pytest.mark.reliability("termination")
@pytest.mark.parametrize(
    ("child_mode", "orchestrator_signal"),
    [("obey", signal.SIGINT), ("ignore", signal.SIGINT), ("obey", signal.SIGTERM)],
)
def test_termination_is_forwarded_and_a_stubborn_child_is_killed(
    tmp_path: Path, kill_at_teardown: list[subprocess.Popen[str] | int], child_mode: str, orchestrator_signal: int
) -> None:
    orchestrator = Orchestrator(tmp_path, child_mode, grace=0.5)
    kill_at_teardown += [orchestrator.process, orchestrator.child]
    orchestrator.process.send_signal(orchestrator_signal)
    orchestrator.assert_interrupted_and_clean()


@pytest.mark.reliability("repeated-signals")
@pytest.mark.parametrize(
    ("orchestrator_signal", "stdio"),
    [(signal.SIGTERM, "forward"), (signal.SIGINT, "forward"), (signal.SIGTERM, "capture")],
)
def test_a_second_signal_kills_a_stubborn_child_at_once(
    tmp_path: Path, kill_at_teardown: list[subprocess.Popen[str] | int], orchestrator_signal: int, stdio: str
) -> None:
    orchestrator = Orchestrator(tmp_path, "ignore", grace=60, stdio=stdio)
    kill_at_teardown += [orchestrator.process, orchestrator.child]
    orchestrator.process.send_signal(orchestrator_signal)
    _wait_for(orchestrator.child_got_sigint, "the child never got SIGINT")  # the grace period has begun
    orchestrator.process.send_signal(orchestrator_signal)
    orchestrator.assert_interrupted_and_clean()  # within 30 s, well inside the 60 s grace period
