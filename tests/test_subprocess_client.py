"""PipesSubprocessClient with real child processes: environment, output, failures, termination."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from helpers import closed, materialization, opened, script
from pipes_fast import (
    AssetCheckResult,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    PipesError,
    PipesEnvContextInjector,
    PipesExecutionError,
    PipesSubprocessClient,
    StepContext,
)
from pipes_fast.protocol import make_message


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def test_results_custom_messages_and_invocation_getters(tmp_path):
    check = json.dumps(make_message("report_asset_check", {"asset_key": "a", "check_name": "c", "passed": True,
                                                           "severity": "ERROR", "metadata": None})) + "\n"
    steps = [{"write": opened() + materialization("a", {"n": {"raw_value": 1, "type": "__infer__"}}) + check + closed()}]
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
    invocation = PipesSubprocessClient().run(context=StepContext(["a", "b"]), command=script(tmp_path, [{"write": opened() + closed()}]))
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
    exception = {"message": "bad input", "stack": ["  File s.py\n"], "name": "ValueError", "cause": None, "context": None}
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
    client.run(context=StepContext("a", partition_key="p"), command=script(tmp_path, [{"context_to": str(out)}]), extras={"e": 1})
    context = json.loads(out.read_text())
    assert context["partition_key"] == "p" and context["extras"] == {"e": 1} and context["asset_keys"] == ["a"]


ORCHESTRATOR = """
import sys, time
from pipes_fast import PipesSubprocessClient, StepContext
child = [sys.executable, "-c", '''
import os, signal, sys, time
if sys.argv[1] == "ignore":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
open(sys.argv[2], "w").write(str(os.getpid()))
time.sleep(600)
''', sys.argv[1], sys.argv[2]]
try:
    PipesSubprocessClient(termination_timeout_seconds=float(sys.argv[3])).run(context=StepContext(), command=child)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(42)
"""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize(("child_mode", "orchestrator_signal"),
                         [("obey", signal.SIGINT), ("ignore", signal.SIGINT), ("obey", signal.SIGTERM)])
def test_termination_is_forwarded_and_a_stubborn_child_is_killed(tmp_path, child_mode, orchestrator_signal):
    pid_file = tmp_path / "child.pid"
    orchestrator = subprocess.Popen(
        [sys.executable, "-c", ORCHESTRATOR, child_mode, str(pid_file), "0.5"],
        stdout=subprocess.PIPE, text=True, start_new_session=True,  # our signal reaches the orchestrator only
    )
    deadline = time.monotonic() + 60
    while not (pid_file.exists() and pid_file.read_text()):
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.05)
    child = int(pid_file.read_text())
    orchestrator.send_signal(orchestrator_signal)
    out, _ = orchestrator.communicate(timeout=60)
    assert orchestrator.returncode == 42 and "interrupted" in out
    time.sleep(0.1)
    assert not _pid_alive(child)
