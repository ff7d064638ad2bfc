"""The external process of the S3 close goal: a dagster-pipes script on the S3 transport.

    s3_child.py COUNT INTERVAL STAMP

Reads its context with ``PipesS3ContextLoader``, reports COUNT custom messages ``{"i": i}``
through ``PipesS3MessageWriter(interval=INTERVAL)`` on a plain ``boto3.client("s3")`` (the
environment says which server), then writes ``time.time()`` to STAMP once the pipes are closed
(the last chunk uploaded) and exits at once (``os._exit``: no interpreter teardown after the
stamp), so STAMP is the moment the process exited.
"""

import os
import sys
import time

import boto3
from dagster_pipes import PipesS3ContextLoader, PipesS3MessageWriter, open_dagster_pipes

count, interval, stamp = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
client = boto3.client("s3")
with open_dagster_pipes(
    context_loader=PipesS3ContextLoader(client), message_writer=PipesS3MessageWriter(client, interval=interval)
) as pipes:
    for i in range(count):
        pipes.report_custom_message({"i": i})
sys.stdout.flush()
sys.stderr.flush()
with open(stamp, "w") as out:
    out.write(repr(time.time()))
os._exit(0)
