"""Importing pipes_fast.external stays cheap: it loads none of the orchestration side, and neither
the hot path nor orjson, json, logging or threading until they are needed; a Pipes process that
opens the pipes and reports a materialization loads no heavy module either."""

from __future__ import annotations

import subprocess
import sys
from typing import get_args

import dagster_pipes

import pipes_fast.external
from pipes_fast import MaterializeResult, PipesSubprocessClient, StepContext, protocol
from pipes_fast._logic import wire as _wire

EXTERNAL_MODULES = [
    "pipes_fast",
    "pipes_fast._logic",
    "pipes_fast._logic.wire",
    "pipes_fast._system",
    "pipes_fast._system.lazy",
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
    out = subprocess.run(
        [sys.executable, "-c", f"{code}; import sys; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(out.stdout.split())


def test_importing_the_external_side_loads_only_itself() -> None:
    loaded = loaded_after("import pipes_fast.external")
    assert sorted(m for m in loaded if m.startswith("pipes_fast")) == EXTERNAL_MODULES
    assert not loaded & {
        "orjson",
        "json",
        "logging",
        "threading",
        "argparse",
        "subprocess",
        "tempfile",
        "dagster_pipes",
    }
    assert not loaded & HEAVY


HEAVY = {"typing", "enum", "re", "json", "base64", "uuid", "dataclasses", "inspect", "orjson", "pipes_fast.protocol"}
"""Modules a Pipes process does without up to its first thousands of messages: each costs a
millisecond or more at start-up (``typing``, ``enum`` and ``re``: the protocol's shapes; ``json``,
``base64`` and ``re``: the bootstrap codec; orjson and what it imports: the file writer's
appender, loaded once the stream gets long)."""

CHILD = """\
import sys
from pipes_fast.external import PipesDefaultContextLoader, PipesEnvVarParamsLoader, open_dagster_pipes
params = PipesEnvVarParamsLoader()
with PipesDefaultContextLoader().load_context(params.load_context_params()):
    params.load_messages_params()
print(" ".join(sys.modules))
with open_dagster_pipes() as pipes:
    pipes.report_asset_materialization(metadata={"rows": 1})
print(" ".join(sys.modules))
"""


def test_a_pipes_process_starts_without_heavy_modules() -> None:
    """In a process the client launched: the default injector's and reader's params (files)
    decoded and the context file read; then the pipes opened, one materialization reported (and
    delivered), closed. Neither step loads a heavy module."""
    client = PipesSubprocessClient(forward_stdio=False)
    invocation = client.run(context=StepContext(["orders"]), command=[sys.executable, "-c", CHILD])
    (result,) = invocation.get_results()
    assert isinstance(result, MaterializeResult)
    assert (result.asset_key.to_user_string(), result.metadata["rows"].value) == ("orders", 1)
    after_reading, at_exit = (set(line.split()) for line in invocation.stdout.splitlines())
    assert (sorted(HEAVY & after_reading), sorted(HEAVY & at_exit)) == ([], [])


def test_the_protocol_names_its_shapes_use() -> None:
    """The import-free names agree with the protocol's Literals."""
    assert _wire.METADATA_TYPES == frozenset(get_args(protocol.PipesMetadataType))
    assert _wire.PIPES_METADATA_TYPE_INFER in _wire.METADATA_TYPES


def test_names_dagster_pipes_users_import_are_here() -> None:
    theirs = set(dir(dagster_pipes))
    ours = set(pipes_fast.external.__all__)
    assert ours - theirs == {"open_pipes", "PipesStdioCapture", "PipesStdioCapturingChannel"}
    for name in ours:  # the lazily loaded ones resolve
        assert getattr(pipes_fast.external, name) is not None
    assert pipes_fast.external.DAGSTER_PIPES_CONTEXT_CLI_ARGUMENT == dagster_pipes.DAGSTER_PIPES_CONTEXT_CLI_ARGUMENT
    assert pipes_fast.external.PIPES_PROTOCOL_VERSION == dagster_pipes.PIPES_PROTOCOL_VERSION
