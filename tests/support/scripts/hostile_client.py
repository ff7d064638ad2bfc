"""A Pipes client written by hand (no Pipes library) for the checker's verdict tests.

Usage: hostile_client.py SCENARIO [ARG] — it writes opened, the scenario's messages for the
asset ``orders`` (check ``c``), then closed, where DAGSTER_PIPES_MESSAGES says, and exits 0:

- ``correct``: one materialization and one check;
- ``duplicate-materialization`` / ``duplicate-check``: the materialization / the check twice;
- ``opened-without-extras``: ``opened`` with ``"params": {}``;
- ``logged-exception``: correct, and ``logging.exception(...)`` puts a traceback on stderr;
- ``background PIDFILE``: correct, and leaves a background process holding stderr open (its pid
  written to PIDFILE);
- ``stderr-flood MB``: correct, and MB megabytes of stderr output, a megabyte at a time;
- ``long-line MB``: correct, and a message line of MB megabytes, written a megabyte at a time.
"""

import base64
import json
import logging
import os
import subprocess
import sys
import zlib

MEGABYTE = 1 << 20


def message(method, params):
    return json.dumps({"__dagster_pipes_version": "0.1", "method": method, "params": params}) + "\n"


MATERIALIZATION = message(
    "report_asset_materialization", {"asset_key": "orders", "data_version": None, "metadata": None}
)
CHECK = message(
    "report_asset_check",
    {"asset_key": "orders", "check_name": "c", "passed": True, "severity": "ERROR", "metadata": None},
)
BODIES = {
    "duplicate-materialization": [MATERIALIZATION, MATERIALIZATION, CHECK],
    "duplicate-check": [MATERIALIZATION, CHECK, CHECK],
}


def main():
    scenario = sys.argv[1]
    params = json.loads(zlib.decompress(base64.b64decode(os.environ["DAGSTER_PIPES_MESSAGES"])))
    with open(params["path"], "a") as messages:
        messages.write(message("opened", {} if scenario == "opened-without-extras" else {"extras": {}}))
        messages.writelines(BODIES.get(scenario, [MATERIALIZATION, CHECK]))
        if scenario == "long-line":
            messages.write('{"__dagster_pipes_version": "0.1", "method": "log", "params": {"message": "')
            for _ in range(int(sys.argv[2])):
                messages.write("x" * MEGABYTE)
            messages.write('"}}\n')
        messages.write(message("closed", {}))
    if scenario == "logged-exception":
        try:
            raise ValueError("handled, and logged with its traceback")
        except ValueError:
            logging.exception("a retry will do")
    elif scenario == "background":
        background = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])  # inherits stderr
        with open(sys.argv[2], "w") as pidfile:
            pidfile.write(str(background.pid))
    elif scenario == "stderr-flood":
        for _ in range(int(sys.argv[2])):
            sys.stderr.write("e" * (MEGABYTE - 1) + "\n")


if __name__ == "__main__":
    main()
