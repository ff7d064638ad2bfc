"""The README's main job from Python: ``report_orders.py`` for the asset warehouse/orders,
partition 2024-06-01, under pipes_fast's ``PipesSubprocessClient``; prints what it reported.

    python examples/orchestrate.py [--rows N]
"""

import argparse
import logging
import sys
from pathlib import Path

from pipes_fast import PipesSubprocessClient, StepContext

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")  # the script's logs, on stderr

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
parser.add_argument("--rows", type=int, default=600, help="rows the script pretends to read (default: 600)")
args = parser.parse_args()

invocation = PipesSubprocessClient().run(
    context=StepContext(["warehouse/orders"], partition_key="2024-06-01"),
    command=[sys.executable, str(Path(__file__).with_name("report_orders.py"))],
    extras={"rows": args.rows},
)
progress = invocation.get_custom_messages()
print(f"{len(progress)} progress messages, last: {progress[-1]}")
result = invocation.get_materialize_result()
print(f"materialized {result.asset_key.to_user_string()} (data version {result.data_version})")
for name, value in result.metadata.items():
    print(f"  {name}: {value.type} {value.value!r}")
for check in result.check_results:
    print(f"  check {check.check_name}: {'passed' if check.passed else 'failed'} ({check.severity.value})")
