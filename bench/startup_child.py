"""The external process of the start-up goal: open the pipes, report one materialization, close.

    python startup_child.py dagster_pipes|pipes_fast.external

One script for both packages (their APIs are the same), loaded with the builtin ``__import__``
so that the script itself imports nothing; the bootstrap params come in the environment.
"""

import sys

PACKAGES = ("dagster_pipes", "pipes_fast.external")

if len(sys.argv) != 2 or sys.argv[1] not in PACKAGES:
    sys.exit(__doc__)
package = __import__(sys.argv[1], fromlist=["open_dagster_pipes"])
with package.open_dagster_pipes() as pipes:
    pipes.report_asset_materialization(metadata={"rows": 1})
