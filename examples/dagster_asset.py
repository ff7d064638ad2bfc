"""A Dagster asset with two checks whose work runs in an external process, under pipes_fast.dagster.

    python examples/dagster_asset.py

``external_orders.py`` reports a materialization and both checks; Dagster records them as it
would under its own ``PipesSubprocessClient`` (annotated here, as usual: any Pipes client
resource fits), and this script prints what the run recorded.
"""

import sys
from pathlib import Path

import dagster

from pipes_fast.dagster import PipesSubprocessClient

EXTERNAL = str(Path(__file__).with_name("external_orders.py"))
ORDERS = dagster.AssetKey(["warehouse", "orders"])


@dagster.asset(
    key=ORDERS,
    partitions_def=dagster.StaticPartitionsDefinition(["2024-06-01"]),
    check_specs=[
        dagster.AssetCheckSpec("row_count_positive", asset=ORDERS),
        dagster.AssetCheckSpec("small_enough", asset=ORDERS),
    ],
)
def orders(context: dagster.AssetExecutionContext, pipes_subprocess_client: dagster.PipesSubprocessClient):
    command = [sys.executable, EXTERNAL]
    return pipes_subprocess_client.run(context=context, command=command, extras={"rows": 600}).get_results()


if __name__ == "__main__":
    result = dagster.materialize(
        [orders], partition_key="2024-06-01", resources={"pipes_subprocess_client": PipesSubprocessClient()}
    )
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        version = materialization.tags.get("dagster/data_version")
        print(f"materialized {materialization.asset_key.to_user_string()} (data version {version})")
        for name, value in materialization.metadata.items():
            print(f"  {name}: {type(value).__name__} {value.value!r}")
    for evaluation in result.get_asset_check_evaluations():
        print(
            f"check {evaluation.check_name}: {'passed' if evaluation.passed else 'failed'} ({evaluation.severity.value})"
        )
    sys.exit(0 if result.success else 1)
