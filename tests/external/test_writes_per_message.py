"""The unbuffered file writer makes exactly one ``write`` per message, before and after the hot
path's appender takes over, on both implementations, and its lines are compact ``json.dumps``.

The writes are counted by the kernel (``syscw`` in ``/proc/self/io``) in a real external process
launched with the bootstrap params, not by wrapping ``os.write``: the compiled appender calls
``write(2)`` itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from support.files import bootstrap_env, context_data

from pipes_fast._hotpath import MODULES
from pipes_fast.protocol import make_message

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="needs Linux's /proc/self/io")

PER_KIND = 300
"""Messages of each kind counted, past the switch and before it."""

SCRIPT = """if True:
    import json, sys
    from pipes_fast.external import open_dagster_pipes
    from pipes_fast.external.writers import ORJSON_AFTER

    def writes():
        with open("/proc/self/io") as io:
            return int(next(line for line in io if line.startswith("syscw:")).split()[1])

    per_kind = int(sys.argv[1])
    counted = {}

    def count(name, report):
        before = writes()
        for i in range(per_kind):
            report(i)
        counted[name] = writes() - before

    with open_dagster_pipes() as context:
        count("early", lambda i: context.report_custom_message({"i": i, "name": "row", "value": i * 1.5}))
        for i in range(ORJSON_AFTER):  # past the switch to the hot path's appender (not counted)
            context.report_custom_message(i)
        count("small", lambda i: context.report_custom_message({"i": i, "name": "row", "value": i * 1.5}))
        count("1 KB", lambda i: context.report_custom_message({"i": i, "text": "x" * 1000}))
        count("log", lambda i: context.log.info("row %d", i))
        count("materialization", lambda i: context.report_asset_materialization({"rows": i}, asset_key=f"a{i}"))
    print(json.dumps(counted))
"""


def test_each_message_is_one_write_and_its_line_is_compact_json_dumps(tmp_path: Path, hotpath: ModuleType) -> None:
    path = tmp_path / "messages.jsonl"
    env = {
        **os.environ,
        **bootstrap_env(context_data(asset_keys=[f"a{i}" for i in range(PER_KIND)]), {"path": str(path)}),
        "PIPES_FAST_NO_EXTENSIONS": "1" if hotpath.__name__ == MODULES["pure"] else "0",
    }
    process = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(PER_KIND)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert process.returncode == 0, process.stderr
    assert json.loads(process.stdout) == dict.fromkeys(["early", "small", "1 KB", "log", "materialization"], PER_KIND)
    lines = path.read_bytes().splitlines(keepends=True)
    for line in lines:  # ASCII values only: compact json.dumps, byte for byte
        assert line == (json.dumps(json.loads(line), separators=(",", ":")) + "\n").encode()
    custom = [json.loads(line) for line in lines if b'"report_custom_message"' in line]
    last = {"i": PER_KIND - 1, "text": "x" * 1000}
    assert custom[-1] == make_message("report_custom_message", {"payload": last})
