"""The external process of the chatty-logs goal: open the pipes, log N lines, close.

    python log_lines_child.py dagster_pipes|pipes_fast.external COUNT [LEVEL]

Each line is ``line {i} of {COUNT}`` at LEVEL (``info`` by default) through ``context.log``;
COUNT 0 is the same process sending none. One script for both packages (their APIs are the same).
"""

import sys

PACKAGES = ("dagster_pipes", "pipes_fast.external")

if len(sys.argv) not in (3, 4) or sys.argv[1] not in PACKAGES:
    sys.exit(__doc__)
package = __import__(sys.argv[1], fromlist=["open_dagster_pipes"])
count = int(sys.argv[2])
level = sys.argv[3] if len(sys.argv) == 4 else "info"
with package.open_dagster_pipes() as pipes:
    log = getattr(pipes.log, level)
    for i in range(count):
        log(f"line {i} of {count}")
