"""An external process reporting through a blob-store message writer, pipes_fast.external's or
dagster-pipes' (the import is the only difference).

Usage: blob_writer.py LIBRARY STORE COUNT INTERVAL [PAD]
LIBRARY is ``pipes_fast.external`` or ``dagster_pipes``; STORE is ``directory`` (the Unity Catalog
volumes writer) or ``s3`` (the S3 writer and context loader, on a plain ``boto3.client("s3")``: the test server's
environment points it there); the script logs,
prints a line, reports COUNT custom messages ``{"i": i, "pad": "x" * PAD}`` and a materialization.
"""

import importlib
import sys

library = importlib.import_module(sys.argv[1])
store, count, interval = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
pad = "x" * int(sys.argv[5]) if len(sys.argv) > 5 else ""

if store == "s3":
    import boto3

    client = boto3.client("s3")
    loader = library.PipesS3ContextLoader(client)
    writer = library.PipesS3MessageWriter(client, interval=interval)
else:
    loader = library.PipesDefaultContextLoader()
    writer = library.PipesUnityCatalogVolumesMessageWriter(interval=interval)

with library.open_dagster_pipes(context_loader=loader, message_writer=writer) as pipes:
    pipes.log.info("starting")
    print("printed by the script", flush=True)
    for i in range(count):
        pipes.report_custom_message({"i": i, "pad": pad})
    pipes.report_asset_materialization(metadata={"count": count}, data_version="v1")
