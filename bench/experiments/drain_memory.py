"""Peak memory of an orchestrator draining a long stream of custom messages, through close.

    python bench/experiments/drain_memory.py [--messages N] [--bounded]
    PIPES_FAST_NO_EXTENSIONS=1 python bench/experiments/drain_memory.py --bounded

A ``pipes_fast.external`` child reports N custom messages as fast as it can while this process
drains them every 10 ms: with ``drain_custom_messages()`` (unbounded), or with
``max_messages=10_000`` (bounded, which keeps the backlog in the file through the session's close).
Prints the peak RSS while the child ran and overall.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

from pipes_fast import EXTENSION, PipesEnvContextInjector, PipesTempFileMessageReader, StepContext, open_pipes_session

WRITER = """
import sys
from pipes_fast.external import open_dagster_pipes
with open_dagster_pipes() as pipes:
    for i in range(int(sys.argv[1])):
        pipes.report_custom_message({"i": i, "name": "item"})
"""


def peak_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=5_000_000)
    parser.add_argument("--bounded", action="store_true", help="drain with max_messages=10_000")
    args = parser.parse_args()
    bound = {"max_messages": 10_000} if args.bounded else {}
    received = 0
    with open_pipes_session(StepContext(), PipesEnvContextInjector(), PipesTempFileMessageReader()) as session:
        env = {**os.environ, **session.get_bootstrap_env_vars()}
        child = subprocess.Popen([sys.executable, "-c", WRITER, str(args.messages)], env=env)
        while child.poll() is None:
            received += len(session.drain_custom_messages(**bound))
            time.sleep(0.01)
        while_running = peak_mb()
    while batch := session.drain_custom_messages(**bound):
        received += len(batch)
    assert received == args.messages, received
    print(
        f"{'compiled' if EXTENSION else 'pure'}, {'bounded' if args.bounded else 'unbounded'} drain:"
        f" {received:,} messages, peak RSS {while_running} MB while the child ran, {peak_mb()} MB overall"
    )


if __name__ == "__main__":
    main()
