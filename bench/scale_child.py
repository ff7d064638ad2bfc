"""External process of ``goal_scale``: opens the pipes, says it is ready, waits for the go, then reports.

    python scale_child.py MODE API COUNT FOLDER

``API`` is the package it reports with (``pipes_fast`` for ``pipes_fast.external``, or
``dagster_pipes``). Once its pipes are open, it writes one byte to the FIFO ``FOLDER/ready`` and
blocks reading the FIFO ``FOLDER/go`` until the orchestrator closes it, so that every session is
open and idle at once before any streams. Then, by ``MODE``:

- ``stream``: ``COUNT`` custom messages ``{"s": session, "i": i}`` as fast as it can (``session``
  is the ``session`` extra the orchestrator passed);
- ``latency``: after a random pause in ``[0, SPREAD)``, ``COUNT`` log lines ``"session i t"``
  (``t`` is ``time.monotonic_ns()`` just before the line is written; CLOCK_MONOTONIC is
  system-wide on Linux), each followed by a random gap in ``GAPS``; then it waits until every
  child can have written its lines, so that no child's exit competes with the lines for the CPU.
"""

import os
import random
import sys
import time

SPREAD = 0.5
"""Seconds over which the children of a latency run start writing after the go."""
GAPS = (0.01, 0.1)
"""A latency child's pause after each line: uniform between these, seconds."""


def main() -> None:
    mode, api, count, folder = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    if api == "dagster_pipes":
        from dagster_pipes import open_dagster_pipes
    else:
        from pipes_fast.external import open_dagster_pipes
    with open_dagster_pipes() as context:
        session = context.get_extra("session")
        if mode == "latency":  # what the first log line loads (pipes_fast.external: logging, 20 ms) is
            context.log.info("warming up")  # loaded now, not in the measured lines
        go = os.open(os.path.join(folder, "go"), os.O_RDONLY)
        ready = os.open(os.path.join(folder, "ready"), os.O_WRONLY)
        os.write(ready, b"r")
        os.close(ready)
        while os.read(go, 64):  # end-of-file: the go
            pass
        os.close(go)
        if mode == "stream":
            report = context.report_custom_message
            for i in range(count):
                report({"s": session, "i": i})
        else:
            gaps, info = random.Random(session), context.log.info
            went = time.monotonic()
            time.sleep(gaps.uniform(0, SPREAD))
            for i in range(count):
                info(f"{session} {i} {time.monotonic_ns()}")
                time.sleep(gaps.uniform(*GAPS))
            # every child stays until the last can have written: the exits (tens of ms of CPU each,
            # a thousand at once) come after the lines, and do not delay their delivery
            time.sleep(max(0.0, went + SPREAD + count * GAPS[1] + 0.5 - time.monotonic()))


if __name__ == "__main__":
    main()
