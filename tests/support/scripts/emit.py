"""A bare external process for tests: writes raw bytes where the Pipes bootstrap says to.

Usage: emit.py SPEC.json — SPEC is a list of steps: {"write": "<text>"} (bytes as latin-1 text,
written with one os.write), {"sleep": seconds}, {"stdout": "<text>"}, {"stderr": "<text>"},
{"exit": code}, {"context_to": "path"} (dump the loaded context JSON there).
It decodes the bootstrap by hand, independently of pipes_fast.
"""

import base64
import json
import os
import sys
import time
import zlib


def decode(value):
    return json.loads(zlib.decompress(base64.b64decode(value)))


def main():
    with open(sys.argv[1]) as f:
        steps = json.load(f)
    messages = decode(os.environ["DAGSTER_PIPES_MESSAGES"])
    context_params = decode(os.environ["DAGSTER_PIPES_CONTEXT"])
    fd = os.open(messages["path"], os.O_WRONLY | os.O_APPEND)
    for step in steps:
        if "write" in step:
            os.write(fd, step["write"].encode("latin-1"))
        elif "sleep" in step:
            time.sleep(step["sleep"])
        elif "stdout" in step:
            sys.stdout.write(step["stdout"])
            sys.stdout.flush()
        elif "stderr" in step:
            sys.stderr.write(step["stderr"])
            sys.stderr.flush()
        elif "exit" in step:
            sys.exit(step["exit"])
        elif "context_to" in step:
            if "path" in context_params:
                with open(context_params["path"]) as f:
                    context = json.load(f)
            else:
                context = context_params["data"]
            with open(step["context_to"], "w") as f:
                json.dump(context, f)


main()
