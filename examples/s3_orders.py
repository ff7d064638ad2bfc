"""Messages through S3: ``report_orders.py --writer s3`` uploads its messages as chunks to a
bucket, and pipes_fast's ``PipesS3MessageReader`` downloads them in order.

    python examples/s3_orders.py                   (a local S3 server on 127.0.0.1, moto's)
    python examples/s3_orders.py --bucket BUCKET   (your S3: credentials as boto3 finds them)

Needs boto3 (``pip install boto3``); the local server needs moto (``pip install 'moto[server]'``).
"""

import argparse
import logging
import os
import socket
import sys
import uuid
from pathlib import Path

import boto3

from pipes_fast import PipesS3MessageReader, PipesSubprocessClient, StepContext

REPORT = Path(__file__).with_name("report_orders.py")

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
parser.add_argument("--bucket", help="an existing bucket of yours (default: a local server and a new bucket)")
args = parser.parse_args()

if args.bucket is None:  # a local S3 server for the example; both processes find it in the environment
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # not a line per request
    ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False).start()
    os.environ.update(
        AWS_ENDPOINT_URL_S3=f"http://127.0.0.1:{port}",
        AWS_ACCESS_KEY_ID="example",
        AWS_SECRET_ACCESS_KEY="example",
        AWS_DEFAULT_REGION="us-east-1",
    )
    args.bucket = f"pipes-fast-example-{uuid.uuid4().hex[:8]}"
    boto3.client("s3").create_bucket(Bucket=args.bucket)

reader = PipesS3MessageReader(bucket=args.bucket, client=boto3.client("s3"), interval=1)
invocation = PipesSubprocessClient(message_reader=reader).run(
    context=StepContext(["warehouse/orders"], partition_key="2024-06-01"),
    command=[sys.executable, str(REPORT), "--writer", "s3"],
    extras={"rows": 600},
)
result = invocation.get_materialize_result()
print(
    f"materialized {result.asset_key.to_user_string()} (data version {result.data_version}) through s3://{args.bucket}"
)
