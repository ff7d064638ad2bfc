"""The README's main job: an external process that reports on an orders table.

Run it under an orchestrator, for instance pipes_fast's command line:

    pipes-fast run --asset warehouse/orders --partition 2024-06-01 --extras '{"rows": 600}' \
        -- python examples/report_orders.py

It logs as it goes, reports its progress as custom messages, checks the rows and materializes
the asset. Written with ``pipes_fast.external``; with ``dagster_pipes`` it runs unchanged.
``--writer`` picks where its messages go when the orchestrator reads them from a blob store:
``directory`` (chunk files in a directory both sides see) or ``s3`` (chunks in a bucket; needs
boto3); by default, wherever the orchestrator's bootstrap says (a file, or stdout).
"""

import argparse
import sys

from pipes_fast.external import (
    PipesEnvVarParamsLoader,
    PipesS3MessageWriter,
    PipesUnityCatalogVolumesMessageWriter,
    open_dagster_pipes,
)

parser = argparse.ArgumentParser(description="Report on an orders table, as a Pipes external process.")
parser.add_argument("--writer", choices=("default", "directory", "s3"), default="default")
args = parser.parse_args()

if not PipesEnvVarParamsLoader().is_dagster_pipes_process():
    sys.exit(
        "report_orders.py is a Pipes external process: launch it through an orchestrator, e.g.\n"
        "  pipes-fast run --asset warehouse/orders --partition 2024-06-01 -- python examples/report_orders.py"
    )

if args.writer == "directory":
    writer = PipesUnityCatalogVolumesMessageWriter(interval=1)
elif args.writer == "s3":
    import boto3

    writer = PipesS3MessageWriter(boto3.client("s3"), interval=1)
else:
    writer = None

with open_dagster_pipes(message_writer=writer) as pipes:
    rows = int(pipes.extras.get("rows", 1000))
    partition = pipes.partition_key if pipes.is_partition_step else "all"
    pipes.log.info(f"reading {rows} rows of {pipes.asset_key} for partition {partition}")
    nulls = 0
    for done in range(250, rows + 250, 250):
        pipes.report_custom_message({"rows_done": min(done, rows)})
    pipes.report_asset_check(check_name="no_nulls", passed=nulls == 0, severity="WARN", metadata={"null_rows": nulls})
    pipes.report_asset_check(check_name="rows_positive", passed=rows > 0, metadata={"rows": rows})
    pipes.report_asset_materialization(
        metadata={"rows": rows, "source": {"raw_value": "s3://bucket/orders.parquet", "type": "url"}},
        data_version=f"{partition}-{rows}",
    )
    pipes.log.info("done")
