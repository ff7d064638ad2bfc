"""``report_orders.py`` as a Ray job: pipes_fast.ray's client submits it and reads its messages
from the job's log.

    python examples/ray_orders.py                          (a throwaway local Ray cluster)
    python examples/ray_orders.py --address http://HOST:8265   (your cluster's dashboard)

Needs Ray's job client (``pip install 'ray[default]'``). The job runs this interpreter on this
file's neighbour, so a cluster of your own must see the same paths (or add a ``working_dir`` to
the ``runtime_env``).
"""

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path

from pipes_fast import StepContext
from pipes_fast.ray import PipesRayJobClient
from pipes_fast.ray.local_cluster import local_cluster

REPORT = Path(__file__).with_name("report_orders.py")

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
parser.add_argument("--address", help="the Ray dashboard's address (default: start a local cluster)")
args = parser.parse_args()

with ExitStack() as stack:
    address = args.address or stack.enter_context(local_cluster(num_cpus=2))
    client = PipesRayJobClient(address, poll_interval=0.2)
    completed = client.run(
        context=StepContext(["warehouse/orders"], partition_key="2024-06-01"),
        submit_job_params={"entrypoint": f"{sys.executable} {REPORT}", "runtime_env": {"env_vars": {"MODE": "full"}}},
        extras={"rows": 600},
    )
    result = completed.get_materialize_result()
    print(f"materialized {result.asset_key.to_user_string()} in Ray job {result.metadata['Ray Job ID'].value}")
    for check in result.check_results:
        print(f"  check {check.check_name}: {'passed' if check.passed else 'failed'}")
