"""Importing pipes_fast.external stays cheap: it loads none of the orchestration side, and neither
the hot path nor orjson, json, logging or threading until they are needed."""

from __future__ import annotations

import subprocess
import sys

import dagster_pipes

import pipes_fast.external

EXTERNAL_MODULES = [
    "pipes_fast",
    "pipes_fast._version",
    "pipes_fast.errors",
    "pipes_fast.external",
    "pipes_fast.external.context",
    "pipes_fast.external.errors",
    "pipes_fast.external.loaders",
    "pipes_fast.external.params",
    "pipes_fast.external.validation",
    "pipes_fast.external.writers",
]


def loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", f"{code}; import sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_importing_the_external_side_loads_only_itself() -> None:
    loaded = loaded_after("import pipes_fast.external")
    assert sorted(m for m in loaded if m.startswith("pipes_fast")) == EXTERNAL_MODULES
    assert not loaded & {"orjson", "json", "logging", "threading", "argparse", "subprocess", "tempfile", "dagster_pipes"}


def test_names_dagster_pipes_users_import_are_here() -> None:
    theirs = set(dir(dagster_pipes))
    ours = set(pipes_fast.external.__all__)
    assert ours - theirs == {"open_pipes", "PipesStdioCapture", "PipesStdioCapturingChannel"}
    for name in ours:  # the lazily loaded ones resolve
        assert getattr(pipes_fast.external, name) is not None
    assert pipes_fast.external.DAGSTER_PIPES_CONTEXT_CLI_ARGUMENT == dagster_pipes.DAGSTER_PIPES_CONTEXT_CLI_ARGUMENT
    assert pipes_fast.external.PIPES_PROTOCOL_VERSION == dagster_pipes.PIPES_PROTOCOL_VERSION
