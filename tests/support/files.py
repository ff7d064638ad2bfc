"""Helpers for tests that drive pipes_fast.external through real files: bootstrap params in, the
message file read back with a hot-path implementation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Optional

from pipes_fast._system.tailer import FileTailer
from pipes_fast.external import PipesContext, PipesMappingParamsLoader, encode_param
from support.scenarios import EXTERNAL_SCRIPT


def context_data(**overrides: Any) -> dict[str, Any]:
    """Context data as Dagster builds it for an unpartitioned single-asset step."""
    data: dict[str, Any] = {
        "asset_keys": ["orders"],
        "code_version_by_asset_key": {"orders": "1"},
        "provenance_by_asset_key": {"orders": None},
        "partition_key": None,
        "partition_key_range": None,
        "partition_time_window": None,
        "run_id": "run-1",
        "job_name": "job",
        "retry_number": 0,
        "extras": {},
    }
    data.update(overrides)
    return data


def bootstrap_env(data: dict[str, Any], messages: dict[str, Any]) -> dict[str, str]:
    """The two bootstrap params as environment variables."""
    return {"DAGSTER_PIPES_CONTEXT": encode_param({"data": data}), "DAGSTER_PIPES_MESSAGES": encode_param(messages)}


def open_context(messages_path: Path, **overrides: Any) -> PipesContext:
    """A context writing to ``messages_path``, made the way ``open_dagster_pipes`` makes one (but not
    the process-wide instance)."""
    from pipes_fast.external import PipesDefaultContextLoader, PipesDefaultMessageWriter

    loader = PipesMappingParamsLoader(bootstrap_env(context_data(**overrides), {"path": str(messages_path)}))
    return PipesContext(loader, PipesDefaultContextLoader(), PipesDefaultMessageWriter())


def read_messages(hotpath: ModuleType, path: Path) -> list[dict[str, Any]]:
    """Every message in the file, framed by this hot-path implementation; fails on a line that is
    not JSON."""
    framer = hotpath.LineFramer()
    lines: list[bytes] = []
    with FileTailer(str(path)) as tailer:
        while data := tailer.read():
            lines += framer.feed(data)
    lines += framer.flush()
    return [json.loads(line) for line in lines]


def run_script(
    tmp_path: Path, scenario: str, *, include_stdio: bool = False, timeout: float = 120, **extras: Any
) -> tuple[subprocess.CompletedProcess[bytes], Path]:
    """Run a scenario of ``scripts/external_script.py`` with its messages going to a file; returns the finished
    process (its own stdout and stderr captured) and the file. ``timeout`` only guards against hangs."""
    path = tmp_path / f"{scenario}.jsonl"
    messages = {"path": str(path), "include_stdio_in_messages": include_stdio}
    env = {**os.environ, **bootstrap_env(context_data(extras={"scenario": scenario, **extras}), messages)}
    process = subprocess.run(
        [sys.executable, str(EXTERNAL_SCRIPT)], env=env, capture_output=True, timeout=timeout, check=False
    )
    return process, path


def payloads(messages: list[dict[str, Any]], method: str, key: Optional[str] = None) -> list[Any]:
    """The params (or one param) of the messages with this method, in order."""
    return [m["params"] if key is None else m["params"][key] for m in messages if m["method"] == method]
