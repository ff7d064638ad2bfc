"""The physical floor of delivery latency at N idle-then-active writers on this machine.

The same load as ``goal_scale``'s latency mode (N Python children, open and idle, then each
writes ``LINES`` stamped lines with random gaps, and stays until the last can have written), read
by the least an orchestrator can do: one thread, one inotify instance watching every file, one
``os.read`` per event, the stamp parsed. No Pipes, no handler, no pool. What this loop cannot do
on this machine, pipes_fast cannot either. ``FLOOR_WRITER=pipes_fast`` makes the children write
their lines with ``pipes_fast.external``'s ``context.log.info`` instead of a bare ``os.write``
(the same reading loop picks the stamps out of the Pipes messages)::

    python bench/experiments/latency_floor.py 100 1000
    FLOOR_WRITER=pipes_fast python bench/experiments/latency_floor.py 1000
"""

from __future__ import annotations

import ctypes
import os
import resource
import select
import struct
import subprocess
import sys
import tempfile
import time

LINES = 10
CHILD = """
import os, random, sys, time
path, folder, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
if os.environ.get("FLOOR_WRITER") == "pipes_fast":
    from pipes_fast.external import open_dagster_pipes
    pipes = open_dagster_pipes().__enter__()
    pipes.log.info("warming up")
    info = pipes.log.info
    def write(fd, data):
        info(data.decode().strip())
    fd = 0
else:
    write = os.write
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
go = os.open(os.path.join(folder, "go"), os.O_RDONLY)
ready = os.open(os.path.join(folder, "ready"), os.O_WRONLY)
os.write(ready, b"r")
while os.read(go, 64):
    pass
gaps = random.Random(seed)
went = time.monotonic()
time.sleep(gaps.uniform(0, 0.5))
for i in range(%d):
    write(fd, f"{i} {time.monotonic_ns()}\\n".encode())
    time.sleep(gaps.uniform(0.01, 0.1))
time.sleep(max(0.0, went + 0.5 + %d * 0.1 + 0.5 - time.monotonic()))
""" % (LINES, LINES)


def measure(count: int) -> list[float]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    libc = ctypes.CDLL(None, use_errno=True)
    inotify = libc.inotify_init1(os.O_NONBLOCK)
    folder = tempfile.mkdtemp(prefix="latency-floor-")
    for name in ("go", "ready"):
        os.mkfifo(os.path.join(folder, name))
    ready = os.open(os.path.join(folder, "ready"), os.O_RDWR | os.O_NONBLOCK)
    go = os.open(os.path.join(folder, "go"), os.O_RDWR)
    files: dict[int, int] = {}
    children = []
    for n in range(count):
        path = os.path.join(folder, f"messages-{n}")
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o600)
        files[libc.inotify_add_watch(inotify, path.encode(), 0x2)] = fd
        env = dict(os.environ)
        if os.environ.get("FLOOR_WRITER") == "pipes_fast":
            from dagster_pipes import encode_env_var

            env["DAGSTER_PIPES_CONTEXT"] = encode_env_var(
                {
                    "data": {
                        "asset_keys": ["a"],
                        "run_id": "r",
                        "job_name": "j",
                        "retry_number": 0,
                        "extras": {},
                        "code_version_by_asset_key": None,
                        "provenance_by_asset_key": None,
                        "partition_key": None,
                        "partition_key_range": None,
                        "partition_time_window": None,
                    }
                }
            )
            env["DAGSTER_PIPES_MESSAGES"] = encode_env_var({"path": path})
        children.append(subprocess.Popen([sys.executable, "-c", CHILD, path, folder, str(n)], env=env))
    seen = 0
    while seen < count:
        select.select([ready], [], [])
        seen += len(os.read(ready, 65536))
    os.close(go)
    latencies: list[float] = []
    event = struct.Struct("iIII")
    while len(latencies) < count * LINES:
        select.select([inotify], [], [])
        events = os.read(inotify, 65536)
        offset = 0
        while offset < len(events):
            wd, _, _, length = event.unpack_from(events, offset)
            offset += event.size + length
            data = os.read(files[wd], 65536)
            now = time.monotonic_ns()
            for line in data.splitlines():
                if line.startswith(b"{"):  # a Pipes message: the stamped log lines only
                    if b'"message":"' not in line or b"warming" in line:
                        continue
                    line = line.split(b'"message":"')[1].split(b'"')[0]
                latencies.append((now - int(line.split()[1])) / 1e9)
    for child in children:
        child.wait()
    return sorted(latencies)


if __name__ == "__main__":
    for n in map(int, sys.argv[1:] or ["100", "1000"]):
        lat = measure(n)
        print(
            f"{n} writers: p50 {lat[len(lat) // 2] * 1e3:.2f} ms, p99 {lat[int(len(lat) * 0.99)] * 1e3:.2f} ms, max {lat[-1] * 1e3:.2f} ms"
        )
