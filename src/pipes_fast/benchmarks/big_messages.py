"""Peak memory of one big message inside a real ``dagster.materialize``: pipes_fast.dagster's
``PipesSubprocessClient`` against Dagster's own.

Each measurement runs in a fresh interpreter (``python -m pipes_fast.benchmarks.big_messages SIDE
KIND BYTES``, which prints one JSON line): it imports Dagster and pipes_fast.dagster, materializes
the asset once with a one-byte message (Dagster's lazy imports and first-run caches), resets the
process's peak resident set to its current size (``/proc/self/clear_refs``), then materializes an
asset whose client runs a dagster-pipes child that sends one message of ``BYTES`` characters: a
``log`` line (``kind="log"``) or a ``report_custom_message`` payload (``kind="custom"``). The
figure is the growth of the orchestrator's peak (``VmHWM`` in ``/proc/self/status``; ``ru_maxrss``
would count what a fork inherits) over that reset. The child's own memory is not counted.
Imports Dagster: for the benchmarks and tests, where it is installed.
"""

import gc
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

SIDES = ("dagster", "pipes_fast")
"""Whose ``PipesSubprocessClient`` runs the child: Dagster's own, or pipes_fast.dagster's."""
KINDS = ("log", "custom")

CHILD = """
import sys
from dagster_pipes import open_dagster_pipes

kind, size = sys.argv[1], int(sys.argv[2])
with open_dagster_pipes() as pipes:
    if kind == "log":
        pipes.log.info("x" * size)
    else:
        pipes.report_custom_message("x" * size)
"""
"""The external process, written with dagster-pipes: one message of ``size`` characters."""


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        found = re.search(rf"^{field}:\s+(\d+) kB", status.read(), re.MULTILINE)
    if found is None:
        raise RuntimeError(f"/proc/self/status has no {field}")
    return int(found.group(1))


def _reset_peak() -> int:
    """Reset the peak resident set to the current one where Linux allows; the peak from here on."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        pass  # the peak so far stays the baseline: growth under it is not seen
    return _status_kb("VmHWM")


def _whole_lines_reader(folder: str) -> Any:
    """Dagster's file reader, its thread held until the process has ended, so that it reads whole
    lines: tailing, it parses the part of a big line written so far, and the JSON error ends its
    thread (that message and every later one lost, no memory spent on them)."""
    import dagster

    class WholeLinesReader(dagster.PipesFileMessageReader):
        def _reader_thread(self, handler: Any, is_resource_complete: Any) -> None:
            is_resource_complete.wait()
            super()._reader_thread(handler, is_resource_complete)

    return WholeLinesReader(os.path.join(folder, "messages"))


def _materialize(side: str, kind: str, script: str, size: int) -> None:
    import dagster

    import pipes_fast.dagster

    if side == "dagster":
        client = dagster.PipesSubprocessClient(message_reader=_whole_lines_reader(os.path.dirname(script)))
    else:
        client = pipes_fast.dagster.PipesSubprocessClient()

    @dagster.asset(name="big_message")
    def big_message(context: dagster.AssetExecutionContext) -> dagster.MaterializeResult:  # type: ignore[type-arg]
        completed = client.run(context=context, command=[sys.executable, script, kind, str(size)])
        if kind == "custom":
            (payload,) = completed.get_custom_messages()
            if len(payload) != size:
                raise AssertionError(f"a payload of {len(payload)} characters arrived, {size} were sent")
        return completed.get_materialize_result()

    instance = dagster.DagsterInstance.ephemeral()
    config = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}  # the log line: not on the console
    result = dagster.materialize([big_message], instance=instance, run_config=config)
    if not result.success:
        raise RuntimeError(f"the run failed with {side}'s client")
    if kind == "log":  # it reached the run's event log whole
        sizes = [len(entry.user_message) for entry in instance.all_logs(result.run_id)]
        if size not in sizes:
            raise AssertionError(f"no log entry of {size} characters in the run's event log")


def measure_here(side: str, kind: str, size: int) -> dict[str, int]:
    """This process's peak growth (kB) for one message: see the module's docstring."""
    warnings.filterwarnings("ignore")
    with tempfile.TemporaryDirectory(prefix="pipes_fast-big-") as folder:
        script = os.path.join(folder, "child.py")
        with open(script, "w") as out:
            out.write(CHILD)
        _materialize(side, kind, script, 1)
        gc.collect()
        baseline = _reset_peak()
        _materialize(side, kind, script, size)
        peak = _status_kb("VmHWM")
    return {"baseline_kb": baseline, "peak_kb": peak, "growth_kb": peak - baseline}


def measure(side: str, kind: str, size: int, env: Any = None) -> int:
    """Peak growth (bytes) of a fresh orchestrator for one message of ``size`` characters."""
    command = [sys.executable, "-m", __name__, side, kind, str(size)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"measuring {side} {kind} {size} failed:\n{done.stderr[-3000:]}")
    growth_kb: int = json.loads(done.stdout.strip().splitlines()[-1])["growth_kb"]
    return growth_kb * 1024


@dataclass
class Comparison:
    """Peak growth (bytes) of each run, Dagster's client and pipes_fast.dagster's, interleaved."""

    kind: str
    size: int
    dagster: list[int]
    pipes_fast: list[int]

    @property
    def ratio(self) -> float:
        """pipes_fast.dagster's median over Dagster's."""
        return statistics.median(self.pipes_fast) / statistics.median(self.dagster)

    def __str__(self) -> str:
        mb = 1024 * 1024
        sides = ", ".join(
            f"{name} {statistics.median(runs) / mb:.0f} MB ({min(runs) / mb:.0f}-{max(runs) / mb:.0f})"
            for name, runs in (("Dagster", self.dagster), ("pipes_fast", self.pipes_fast))
        )
        return f"{self.kind} of {self.size / mb:.0f} MB, peak growth over {len(self.dagster)} runs: {sides}; ratio {self.ratio:.2f}"


def compare(kind: str, size: int, runs: int = 1, env: Any = None) -> Comparison:
    """Each side measured ``runs`` times, alternating, each in a fresh process."""
    comparison = Comparison(kind, size, [], [])
    for _ in range(runs):
        comparison.dagster.append(measure("dagster", kind, size, env))
        comparison.pipes_fast.append(measure("pipes_fast", kind, size, env))
    return comparison


def environment(pure: bool) -> dict[str, str]:
    """This environment, for a child that runs pipes_fast's pure implementation (``pure``) or its default."""
    env = {k: v for k, v in os.environ.items() if k != "PIPES_FAST_NO_EXTENSIONS"}
    if pure:
        env["PIPES_FAST_NO_EXTENSIONS"] = "1"
    return env


def main(argv: Sequence[str]) -> None:
    side, kind, size = argv
    if side not in SIDES or kind not in KINDS:
        raise SystemExit(f"usage: python -m {__name__} {{{'|'.join(SIDES)}}} {{{'|'.join(KINDS)}}} BYTES")
    print(json.dumps(measure_here(side, kind, int(size))))


if __name__ == "__main__":
    main(sys.argv[1:])
