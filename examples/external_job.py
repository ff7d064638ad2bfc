"""An external process: reads its Pipes context and reports back.

Written against ``pipes_fast.external``; with ``from dagster_pipes import open_dagster_pipes``
instead, it runs unchanged.
"""

import sys

from pipes_fast.external import open_dagster_pipes

with open_dagster_pipes() as pipes:
    rows = int(pipes.get_extra("rows"))
    pipes.log.info(f"processing {rows} rows of {pipes.asset_key} for partition {pipes.partition_key}")
    for batch in range(0, rows, 250):
        pipes.report_custom_message({"progress": min(batch + 250, rows) / rows})
    pipes.report_asset_check(check_name="no_nulls", passed=True, severity="WARN", metadata={"null_rows": 0})
    pipes.report_asset_materialization(
        metadata={"rows": rows, "source": {"raw_value": "s3://bucket/orders.parquet", "type": "url"}},
        data_version=f"{pipes.partition_key}-{rows}",
    )
    print("external job done", file=sys.stderr)
