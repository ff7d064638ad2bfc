"""``pipes-fast`` imports what the subcommand being run needs, when it runs: importing the command
line, or running ``pipes-fast run`` with the default injector and reader, loads neither the
benchmarks, nor the conformance checker, nor Dagster, nor ``importlib.metadata``; and a process that
sends no message costs no JSON parser nor the modules only a dataclass or a UUID would need."""

from __future__ import annotations

import subprocess
import sys

import pytest

NOT_FOR_RUN = {
    "pipes_fast.benchmarks",
    "pipes_fast.conformance",
    "dagster",
    "importlib.metadata",
    "orjson",  # loaded with the first line parsed (20 ms: it imports dataclasses, inspect, uuid, ...)
    "dataclasses",
    "uuid",
}
"""Modules ``pipes-fast run -- true`` does without (each costs milliseconds; the first three tens)."""


def loaded_after(code: str) -> set[str]:
    """The modules loaded in a new interpreter after ``code`` (whose own output is dropped)."""
    script = f"import os, sys\nsys.stdout = sys.stderr = open(os.devnull, 'w')\n{code}\nsys.__stdout__.write(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    return set(out.stdout.split())


def test_importing_the_command_line_loads_no_subcommand() -> None:
    loaded = loaded_after("import pipes_fast.cli")
    assert not loaded & NOT_FOR_RUN
    assert not {"pipes_fast.cli.run", "pipes_fast.cli.check", "pipes_fast.cli.bench"} & loaded


@pytest.mark.parametrize("options", [[], ["--json"]])
def test_run_loads_neither_benchmarks_nor_conformance_nor_dagster(options: list[str]) -> None:
    loaded = loaded_after(f"from pipes_fast.cli import main\nassert main(['run', *{options!r}, '--', 'true']) == 3")
    assert "pipes_fast.cli.run" in loaded
    assert sorted(loaded & NOT_FOR_RUN) == []
    assert sorted(m for m in loaded if m.startswith(("pipes_fast.readers.", "pipes_fast.cli."))) == [
        "pipes_fast.cli.choices",
        "pipes_fast.cli.live",
        "pipes_fast.cli.output",
        "pipes_fast.cli.run",
        "pipes_fast.readers._drain",
        "pipes_fast.readers.base",
        "pipes_fast.readers.file",
        "pipes_fast.readers.stdio",
    ]


def test_version_and_help_load_no_subcommand() -> None:
    for argv in (["--version"], ["--help"]):
        loaded = loaded_after(f"from pipes_fast.cli import main\nassert main({argv!r}) == 0")
        assert not loaded & (NOT_FOR_RUN | {"pipes_fast.cli.run", "pipes_fast.session"}), argv
