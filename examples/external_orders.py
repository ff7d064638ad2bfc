"""An external process written with pipes_fast.external: it reads its step from the Pipes context,
logs, prints (captured when the orchestrator asks for stdio in messages), and reports a
materialization with metadata and two asset checks.

Change the import to ``from dagster_pipes import open_dagster_pipes`` and it runs the same.
``external_run_both.py`` runs it under Dagster and under pipes_fast.
"""

import subprocess
import sys

from pipes_fast.external import PipesEnvVarParamsLoader, open_dagster_pipes

if not PipesEnvVarParamsLoader().is_dagster_pipes_process():
    sys.exit(
        "external_orders.py is a Pipes external process: launch it through an orchestrator, e.g.\n"
        "  python examples/external_run_both.py, or\n"
        "  pipes-fast run --asset warehouse/orders --partition 2024-06-01 --extras '{\"rows\": 1200}' -- python examples/external_orders.py"
    )

with open_dagster_pipes() as pipes:
    rows = pipes.get_extra("rows")
    pipes.log.info(f"loading {rows} rows into {pipes.asset_key}")
    print(f"step for {pipes.asset_key}, partition {pipes.partition_key}")
    subprocess.run(["echo", "a child process prints too"], check=True)
    pipes.report_asset_check("row_count_positive", passed=rows > 0, metadata={"rows": rows})
    pipes.report_asset_check("small_enough", passed=rows < 1_000_000, severity="WARN")
    pipes.report_asset_materialization(
        metadata={
            "rows": rows,
            "source": {"raw_value": "s3://bucket/orders.parquet", "type": "url"},
            "schema": {"raw_value": {"columns": [{"name": "id", "type": "int"}]}, "type": "table_schema"},
        },
        data_version=f"{pipes.partition_key}-{rows}",
    )
    print("done", file=sys.stderr)
