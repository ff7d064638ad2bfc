"""A fan-out job: stream ``MESSAGES`` custom messages ``{"job": JOB, "seq": i}`` to the orchestrator.

    python ray_job_child.py JOB MESSAGES [pipes_fast|dagster_pipes]

Run as a Ray job by ``ray_fanout.py`` (the context comes in its ``runtime_env.env_vars``; messages
go to stdout, into the job's log). Its last message is ``{"job": JOB, "timing": {...}}``: the
wall-clock times (``time.time()``) at which writing the messages began and ended, and their
difference, so the orchestrator can tell the job's own time from the rest, and the CPU time this
process had used by then (start-up and imports included).
"""

from __future__ import annotations

import sys
import time
from typing import Any


def open_pipes(writer: str) -> Any:
    """``open_dagster_pipes()`` of ``writer``: ``"pipes_fast"`` (pipes_fast.external) or ``"dagster_pipes"``."""
    if writer == "dagster_pipes":
        import dagster_pipes

        return dagster_pipes.open_dagster_pipes()
    import pipes_fast.external

    return pipes_fast.external.open_dagster_pipes()


def main(job: int, messages: int, writer: str) -> None:
    """Open Pipes with ``writer`` and report the messages, then the timing."""
    with open_pipes(writer) as pipes:
        report = pipes.report_custom_message
        started = time.time()
        begin = time.perf_counter()
        for seq in range(messages):
            report({"job": job, "seq": seq})
        seconds = time.perf_counter() - begin
        timing = {"start": started, "end": started + seconds, "seconds": seconds, "cpu": time.process_time()}
        report({"job": job, "timing": timing})


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "pipes_fast")
