"""Run ``external_job.py`` under pipes_fast's subprocess client and print what it reported.

python examples/orchestrate.py [--rows N]
"""

import argparse
import logging
import sys
from pathlib import Path

from pipes_fast import PipesSubprocessClient, StepContext

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--rows", type=int, default=1000, help="rows the external job pretends to process")
args = parser.parse_args()

invocation = PipesSubprocessClient().run(
    context=StepContext(["warehouse/orders"], partition_key="2024-06-01"),
    command=[sys.executable, str(Path(__file__).with_name("external_job.py"))],
    extras={"rows": args.rows},
)
print(f"{len(invocation.get_custom_messages())} progress messages, last: {invocation.get_custom_messages()[-1]}")
result = invocation.get_materialize_result()
print(f"materialized {result.asset_key.to_user_string()} (data version {result.data_version})")
for name, value in result.metadata.items():
    print(f"  {name}: {value.type} {value.value!r}")
for check in result.check_results:
    print(f"  check {check.check_name}: {'passed' if check.passed else 'failed'} ({check.severity.value})")
