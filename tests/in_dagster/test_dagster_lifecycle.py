"""pipes_fast.dagster's client when a Dagster run is interrupted: the external process is told."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)

EXTERNAL = """
import signal, sys, time
from dagster_pipes import open_dagster_pipes

def interrupted(signum, frame):
    open({marker!r}, "w").write("SIGINT")
    sys.exit(3)

signal.signal(signal.SIGINT, interrupted)
with open_dagster_pipes() as pipes:
    open({started!r}, "w").write("started")
    time.sleep(60)
"""

ORCHESTRATOR = """
import sys
import dagster
from pipes_fast.dagster import PipesSubprocessClient

@dagster.asset
def slow(context: dagster.AssetExecutionContext):
    return PipesSubprocessClient(termination_timeout_seconds=10).run(
        context=context, command=[sys.executable, {external!r}]
    ).get_results()

result = dagster.materialize([slow], raise_on_error=False)
print("RUN SUCCESS" if result.success else "RUN FAILED")
"""


def wait_for(path: Path, process: subprocess.Popen[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_an_interrupted_dagster_run_interrupts_the_external_process(tmp_path: Path) -> None:
    started, marker = tmp_path / "started", tmp_path / "interrupted"
    external = tmp_path / "external.py"
    external.write_text(textwrap.dedent(EXTERNAL.format(marker=str(marker), started=str(started))))
    orchestrator = tmp_path / "orchestrator.py"
    orchestrator.write_text(textwrap.dedent(ORCHESTRATOR.format(external=str(external))))
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, str(orchestrator)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    try:
        wait_for(started, process)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert marker.read_text() == "SIGINT"
    assert "[pipes] execution interrupted, sending SIGINT to subprocess." in output
    assert "DagsterExecutionInterruptedError" in output
    assert "RUN FAILED" in output
