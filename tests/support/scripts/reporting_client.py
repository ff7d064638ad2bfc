"""A well-behaved Pipes client that uses every part of the protocol, for the conformance tests.

Usage: reporting_client.py MODULE [--fail] — MODULE is ``dagster_pipes`` or
``pipes_fast.external`` (the same API). It logs, reports a custom message echoing its context,
streams external output, and for each asset of the step a materialization and two checks whose
metadata covers every metadata type. With ``--fail`` it raises inside the Pipes block after
reporting, so that ``closed`` carries the exception.
"""

import importlib
import sys

METADATA = {
    "inferred_text": "plain ✓",
    "inferred_int": 3,
    "inferred_float": 2.5,
    "inferred_bool": True,
    "inferred_null": None,
    "inferred_list": [1, "a", None],
    "text": {"raw_value": "some text", "type": "text"},
    "url": {"raw_value": "https://example.com/x?y=1", "type": "url"},
    "path": {"raw_value": "/data/out.parquet", "type": "path"},
    "notebook": {"raw_value": "/notebooks/report.ipynb", "type": "notebook"},
    "json": {"raw_value": {"rows": [1, 2], "ok": True}, "type": "json"},
    "json_list": {"raw_value": [1, 2, 3], "type": "json"},
    "md": {"raw_value": "# Title\n\n*bold*", "type": "md"},
    "float": {"raw_value": 0.125, "type": "float"},
    "float_from_int": {"raw_value": 7, "type": "float"},
    "int": {"raw_value": 12345678901234567890, "type": "int"},
    "bool": {"raw_value": False, "type": "bool"},
    "dagster_run": {"raw_value": "4b1f8b5e-0000-0000-0000-000000000000", "type": "dagster_run"},
    "asset": {"raw_value": "upstream/table", "type": "asset"},
    "null": {"raw_value": None, "type": "null"},
    "table": {
        "raw_value": {
            "records": [{"id": 1, "name": "a", "score": 0.5, "ok": True, "note": None}],
            "schema": [
                {"name": "id", "type": "int", "description": "the id", "constraints": {"nullable": False}},
                {"name": "name", "type": "string", "tags": {"pii": "no"}},
            ],
        },
        "type": "table",
    },
    "table_schema": {
        "raw_value": {
            "columns": [{"name": "id", "type": "int"}, {"name": "name", "type": "string", "description": None}]
        },
        "type": "table_schema",
    },
    "table_column_lineage": {
        "raw_value": {"deps_by_column": {"id": [{"asset_key": "upstream/table", "column_name": "id"}], "name": []}},
        "type": "table_column_lineage",
    },
    "timestamp": {"raw_value": 1700000000.5, "type": "timestamp"},
    "explicit_infer": {"raw_value": {"any": ["json"]}, "type": "__infer__"},
}


def main() -> None:
    pipes = importlib.import_module(sys.argv[1])
    with pipes.open_dagster_pipes() as context:
        context.log.info("starting: ünïcode ✓")
        context.log.warning("a warning")
        context.report_custom_message(
            {
                "extras": context.extras,
                "partition_key": context.partition_key if context.is_partition_step else None,
                "retry_number": context.retry_number,
            }
        )
        context.log_external_stream("stdout", "external output\n", {"source": "conformance"})
        for key in context.asset_keys if context.is_asset_step else ():
            context.report_asset_materialization(metadata=METADATA, data_version="v1", asset_key=key)
            context.report_asset_check("non_null", passed=True, severity="WARN", metadata=METADATA, asset_key=key)
            context.report_asset_check("unique", passed=False, asset_key=key)
        if "--fail" in sys.argv:
            raise ValueError("the client failed on purpose")


if __name__ == "__main__":
    main()
