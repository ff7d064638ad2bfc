"""A dagster-pipes external process: runs the steps given as JSON in argv[1], in order.

Run as ``python steps_script.py STEPS_JSON``; ``tests/in_dagster/test_dagster_integration.py`` uses it (``support.orchestrators.EXTERNAL_SCRIPT``).
"""

import json
import os
import sys
import time

from dagster_pipes import open_dagster_pipes
from pipes_script import context_report


def keyed(pipes, params):
    """``params`` with ``key_index`` replaced by that (sorted) asset key of the context."""
    params = dict(params)
    if "key_index" in params:
        params["asset_key"] = sorted(pipes.asset_keys)[params.pop("key_index")]
    return params


def wait_for(path):
    """Wait (at most a minute) until the orchestrator creates ``path``."""
    for _ in range(6000):
        if os.path.exists(path):
            return
        time.sleep(0.01)


def run(pipes, action, arg):
    if action == "context":
        pipes.report_custom_message({"context": context_report(pipes)})
    elif action == "materialize":
        pipes.report_asset_materialization(**keyed(pipes, arg))
    elif action == "check":
        pipes.report_asset_check(**keyed(pipes, arg))
    elif action == "log":
        getattr(pipes.log, arg[0])(arg[1])
    elif action == "custom":
        pipes.report_custom_message(arg)
    elif action == "stream":
        pipes.log_external_stream(arg[0], arg[1], extras={"from": "script"})
    elif action == "print":
        print(arg[1], file=getattr(sys, arg[0]), flush=True)
    elif action == "wait_for":
        wait_for(arg)
    elif action == "raise":
        try:
            raise KeyError("the cause")
        except KeyError as cause:
            raise ValueError(arg) from cause
    else:
        raise SystemExit(f"unknown action {action!r}")


with open_dagster_pipes() as pipes:
    for step in json.loads(sys.argv[1]):
        [(action, arg)] = step.items()
        run(pipes, action, arg)
