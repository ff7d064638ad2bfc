"""``pipes_script.py``'s scenarios over S3, written against the real ``dagster-pipes`` package only:
the context from ``PipesS3ContextLoader``, the messages through ``PipesS3MessageWriter``.

Run as ``python s3_script.py --scenario NAME [--interval SECONDS]``. The client is boto3's
default one: endpoint, region and credentials come from the environment.
"""

from __future__ import annotations

import argparse

import boto3
import pipes_script
from dagster_pipes import PipesS3ContextLoader, PipesS3MessageWriter, open_dagster_pipes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", required=True, choices=sorted(pipes_script.SCENARIOS))
    parser.add_argument("--interval", type=float, default=10)
    args = parser.parse_args()
    client = boto3.client("s3")
    with open_dagster_pipes(
        context_loader=PipesS3ContextLoader(client),
        message_writer=PipesS3MessageWriter(client, interval=args.interval),
    ) as pipes:
        pipes_script.run_scenario(pipes, args.scenario)


if __name__ == "__main__":
    main()
