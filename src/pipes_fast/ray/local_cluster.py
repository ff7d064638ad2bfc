"""A throwaway local Ray cluster on 127.0.0.1, for tests and benchmarks of Ray jobs."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

START_SECONDS = 90.0
"""Bound on ``ray start`` and on the dashboard's first answer."""

STOP_SECONDS = 2.0
"""How long the cluster's processes get to end after SIGTERM before they are killed (its GCS
server and monitor do not end on SIGTERM alone)."""

_PORT_FLAGS = (
    "--port",
    "--dashboard-port",
    "--ray-client-server-port",
    "--node-manager-port",
    "--object-manager-port",
    "--dashboard-agent-listen-port",
    "--dashboard-agent-grpc-port",
    "--runtime-env-agent-port",
    "--metrics-export-port",
)


class RayClusterError(RuntimeError):
    """The local cluster did not start."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ray_executable() -> str:
    beside = Path(sys.executable).with_name("ray")
    return str(beside) if beside.exists() else "ray"


def _live_stat(pid: int) -> Optional[tuple[int, int]]:
    """A live process's parent and session, from Linux's ``/proc`` (None if it is gone or a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, ppid, _pgrp, session = stat[stat.rindex(")") + 2 :].split()[:4]  # after "pid (comm) "
    return None if state == "Z" else (int(ppid), int(session))


def _cluster_processes(session_id: int) -> list[int]:
    """The live processes of a session and all their descendants (job entrypoints run in
    sessions of their own); elsewhere than Linux none are found."""
    stats = {int(entry.name): _live_stat(int(entry.name)) for entry in Path("/proc").iterdir() if entry.name.isdigit()}
    live = {pid: stat for pid, stat in stats.items() if stat is not None}
    found = {pid for pid, (_ppid, session) in live.items() if session == session_id}
    while grown := {pid for pid, (ppid, _session) in live.items() if ppid in found and pid not in found}:
        found |= grown
    return sorted(found)


def _signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except OSError:
            pass


def _stop_session(session_id: int) -> None:
    """End every process of the cluster: SIGTERM, then SIGKILL after ``STOP_SECONDS``."""
    members = _cluster_processes(session_id)
    _signal_all(members, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    while (alive := [pid for pid in members if _live_stat(pid) is not None]) and time.monotonic() < deadline:
        time.sleep(0.1)
    _signal_all(alive + _cluster_processes(session_id), signal.SIGKILL)


def _wait_for_dashboard(address: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            with urllib.request.urlopen(f"{address}/api/version", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RayClusterError(f"the Ray dashboard at {address} did not answer within {START_SECONDS} s")
        time.sleep(0.2)


@contextmanager
def local_cluster(num_cpus: int = 2) -> Iterator[str]:
    """Start a Ray head node on 127.0.0.1 and yield its dashboard address (for ``PipesRayJobClient``).

    Every port is a free one chosen here, the cluster has its own temp dir and no usage stats,
    and every server listens on the loopback address only. On exit all of the cluster's
    processes end (its own session, so other Ray clusters on the machine are left alone) and the
    temp dir is removed. Raises ``RayClusterError`` if it does not start within ``START_SECONDS``.
    """
    temp_dir = tempfile.mkdtemp(prefix="pfray-")
    ports = {flag: _free_port() for flag in _PORT_FLAGS}
    command = [
        _ray_executable(),
        "start",
        "--head",
        "--node-ip-address",
        "127.0.0.1",
        "--dashboard-host",
        "127.0.0.1",
        "--temp-dir",
        temp_dir,
        "--disable-usage-stats",
        "--num-cpus",
        str(num_cpus),
        "--include-dashboard",
        "true",
    ]
    for flag, port in ports.items():
        command += [flag, str(port)]
    address = f"http://127.0.0.1:{ports['--dashboard-port']}"
    # without RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, Ray swaps 127.0.0.1 for the host's outward address
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    launcher = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        try:
            output, _ = launcher.communicate(timeout=START_SECONDS)
        except subprocess.TimeoutExpired as exc:
            raise RayClusterError(f"ray start did not finish within {START_SECONDS} s") from exc
        if launcher.returncode != 0:
            raise RayClusterError(f"ray start failed ({launcher.returncode}):\n{output[-4000:]}")
        _wait_for_dashboard(address)
        yield address
    finally:
        _stop_session(launcher.pid)
        launcher.wait(STOP_SECONDS)
        shutil.rmtree(temp_dir, ignore_errors=True)
