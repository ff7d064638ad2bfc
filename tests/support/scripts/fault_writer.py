"""The external process of the fault matrix: reports COUNT numbered custom messages over SECONDS
through a blob-store writer, pipes_fast.external's or dagster-pipes' (the import is the only
difference), then closes.

Usage: fault_writer.py LIBRARY STORE COUNT SECONDS INTERVAL [GATE]
LIBRARY is ``pipes_fast.external`` or ``dagster_pipes``; STORE is ``directory`` (the Unity Catalog
volumes writer) or ``s3`` (the S3 writer, on a ``boto3.client("s3")`` that the environment points
at the writer's side of the test server, with short timeouts and no retries of boto3's own: the
writer's own retrying is what is tried). Messages are ``{"seq": i}``. With GATE, once every message
is sent the script creates ``GATE.ready`` and waits for GATE to exist before it closes.
"""

import importlib
import os
import sys
import time

library = importlib.import_module(sys.argv[1])
store, count, seconds, interval = sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
gate = sys.argv[6] if len(sys.argv) > 6 else None

if store == "s3":
    import boto3
    from botocore.config import Config

    client = boto3.client("s3", config=Config(connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 1}))
    writer = library.PipesS3MessageWriter(client, interval=interval)
else:
    writer = library.PipesUnityCatalogVolumesMessageWriter(interval=interval)

with library.open_dagster_pipes(message_writer=writer) as pipes:
    for seq in range(count):
        pipes.report_custom_message({"seq": seq})
        time.sleep(seconds / count)
    if gate:
        open(gate + ".ready", "w").close()
        deadline = time.monotonic() + 30
        while not os.path.exists(gate) and time.monotonic() < deadline:
            time.sleep(0.01)
