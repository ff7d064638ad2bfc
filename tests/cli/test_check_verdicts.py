"""``pipes-fast check`` verdicts against hostile clients: Dagster's own orchestrator is the oracle
for what passes, the checker leaves no process behind, and its memory stays bounded whatever the
client writes. Every client is tests/support/scripts/hostile_client.py, run by the real checker."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support import SCRIPTS

from pipes_fast.conformance import check_command, format_report
from pipes_fast.conformance.cases import SINGLE_ASSET

pytestmark = pytest.mark.filterwarnings(
    "ignore::pytest.PytestUnraisableExceptionWarning",  # Dagster's failed step: GeneratorExit at collection
    "ignore::dagster.PreviewWarning",
    "ignore::DeprecationWarning",
)

CLIENT = str(SCRIPTS / "hostile_client.py")
TIMEOUT = 60.0
MEMORY_BOUND_KIB = 200 * 1024
FLOOD_MEGABYTES = 300


SCENARIOS = [
    ("correct", None, None),
    ("duplicate-materialization", "duplicate-materialization", None),
    ("duplicate-check", "duplicate-check", None),
    ("opened-without-extras", None, "ignored-param"),
    ("logged-exception", None, "stderr-traceback"),
]


@pytest.mark.reliability("check-verdicts")
@pytest.mark.parametrize(("scenario", "violation", "warning"), SCENARIOS)
def test_a_client_passes_exactly_when_dagster_accepts_it(
    scenario: str, violation: str | None, warning: str | None
) -> None:
    [report] = check_command([sys.executable, CLIENT, scenario], [SINGLE_ASSET], timeout=TIMEOUT)
    assert [found.rule for found in report.violations] == ([violation] if violation else []), format_report([report])
    assert [found.rule for found in report.warnings] == ([warning] if warning else [])
    accepted, how = dagster_outcome(scenario)
    assert report.passed == accepted, f"{format_report([report])}\nDagster: {how}"


@pytest.mark.reliability("check-verdicts")
@pytest.mark.parametrize("scenario", [scenario for scenario, _, _ in SCENARIOS])
def test_what_dagster_does_with_each_client(scenario: str, observe: Callable[[str], None]) -> None:
    accepted, how = dagster_outcome(scenario)
    observe(f"{scenario}: {how}")
    assert accepted == (scenario not in ("duplicate-materialization", "duplicate-check")), how


def dagster_outcome(scenario: str) -> tuple[bool, str]:
    """Whether a step of asset ``orders`` (with check ``c``) running the client through Dagster's
    PipesSubprocessClient succeeds, and how it ended in words."""
    dg = pytest.importorskip("dagster")

    def orders(context):  # type: ignore[no-untyped-def]  # dagster resolves no string annotation
        return context.resources.pipes.run(command=[sys.executable, CLIENT, scenario], context=context).get_results()

    asset = dg.asset(
        name="orders", check_specs=[dg.AssetCheckSpec("c", asset="orders")], required_resource_keys={"pipes"}
    )(orders)
    result = dg.materialize([asset], resources={"pipes": dg.PipesSubprocessClient()}, raise_on_error=False)
    gc.collect()  # a failed step leaves generators that raise as they are collected: here, not in a later test
    if result.success:
        return True, "Dagster's step succeeds"
    failures = [event.step_failure_data.error for event in result.all_events if event.is_step_failure]
    reason = failures[0].message.strip().splitlines()[-1] if failures and failures[0] else "no failure event"
    return False, f"Dagster's step fails: {reason}"


def is_running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.reliability("check-process-cleanup")
def test_a_background_process_left_holding_stderr_is_killed_and_not_waited_for(tmp_path: Path) -> None:
    pidfile = tmp_path / "background.pid"
    [report] = check_command([sys.executable, CLIENT, "background", str(pidfile)], [SINGLE_ASSET], timeout=20.0)
    assert report.passed and report.exit_status == 0, format_report([report])
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 10.0  # SIGKILL is delivered asynchronously; reaping is init's
    while is_running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert not is_running(pid), f"the background process {pid} is still running"
    finally:
        if is_running(pid):
            os.kill(pid, 9)


MEASURED_CHECK = """\
import json, sys
from pipes_fast.conformance import check_command, reports_as_json
from pipes_fast.conformance.cases import SINGLE_ASSET
print(json.dumps(reports_as_json(check_command(sys.argv[1:], [SINGLE_ASSET]))[0]))
# this process's peak (not the client's), in KiB: VmHWM starts afresh at exec, while ru_maxrss
# keeps the high-water mark of the process that forked it (here pytest's)
print(next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")))
"""


@pytest.mark.reliability("check-memory")
@pytest.mark.parametrize(("scenario", "rule"), [("stderr-flood", None), ("long-line", "line-too-long")])
def test_the_checker_s_memory_stays_bounded_whatever_the_client_writes(scenario: str, rule: str | None) -> None:
    command = [sys.executable, "-c", MEASURED_CHECK, sys.executable, CLIENT, scenario, str(FLOOD_MEGABYTES)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report, peak_kib = [json.loads(line) for line in done.stdout.splitlines()]
    assert peak_kib < MEMORY_BOUND_KIB, f"the checker's peak RSS was {peak_kib // 1024} MiB"
    assert [found["rule"] for found in report["violations"]] == ([rule] if rule else []), report
    assert len(report["stderr_tail"]) < 100_000
