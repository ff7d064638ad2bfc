"""pipes_fast.dagster is Dagster's API, name for name: each class is the Dagster class of the same
name, constructed and called with the same parameters."""

from __future__ import annotations

import inspect
import subprocess
import sys
from typing import Any

import dagster
import pytest
from dagster._core.errors import DagsterPipesExecutionError
from dagster._core.pipes import utils as dagster_pipes_utils

import pipes_fast
import pipes_fast.dagster as ours

DAGSTER: dict[str, Any] = {
    name: getattr(dagster, name, None) or getattr(dagster_pipes_utils, name, None) for name in ours.__all__
}
"""Dagster's class of each name (public, or in ``dagster._core.pipes.utils`` where Dagster keeps
it unexported), None where Dagster has none."""
DAGSTER_NAMES = sorted(name for name, theirs in DAGSTER.items() if theirs is not None)
BEYOND_DAGSTER = {
    "PipesExecutionError": DagsterPipesExecutionError,
    "PipesDirectoryMessageReader": dagster.PipesBlobStoreMessageReader,
    "PipesS3MessageReader": dagster.PipesBlobStoreMessageReader,  # dagster-aws's: not a dependency here
    "PipesS3LogReader": dagster_pipes_utils.PipesChunkedLogReader,
    "PipesS3ContextInjector": dagster.PipesContextInjector,
    "PipesStdioMessageReader": dagster.PipesMessageReader,
}
"""pipes_fast's own names, and the Dagster class each is."""
METHODS = (
    "__init__",
    "run",
    "get_results",
    "get_materialize_result",
    "get_asset_check_result",
    "get_custom_messages",
    "get_bootstrap_env_vars",
    "get_bootstrap_cli_arguments",
    "get_bootstrap_params",
    "get_reported_results",
    "report_launched",
    "read_messages",
    "inject_context",
    "handle_message",
    "download_messages_chunk",
    "messages_are_readable",
    "get_params",
    "add_log_reader",
    "start",
    "stop",
    "is_running",
    "target_is_readable",
    "download_log_chunk",
)

CALLED_POSITIONALLY = {("PipesTempFileContextInjector", "inject_context")}
"""Where Dagster's subclass renames its base's parameter (``context`` for ``context_data``) and
only sessions call it, positionally: pipes_fast keeps the base's name."""


def parameters(function: Any) -> list[tuple[str, Any, Any]]:
    """Names, kinds and defaults: what a caller sees (annotations may differ)."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


def test_every_name_is_dagsters_or_said_to_be_beyond_it() -> None:
    assert sorted(DAGSTER_NAMES + list(BEYOND_DAGSTER)) == sorted(ours.__all__)


@pytest.mark.parametrize("name", DAGSTER_NAMES)
def test_each_class_is_the_dagster_class_of_its_name(name: str) -> None:
    theirs = DAGSTER[name]
    if inspect.isclass(theirs):
        assert issubclass(getattr(ours, name), theirs)


@pytest.mark.parametrize("name", sorted(BEYOND_DAGSTER))
def test_each_name_beyond_dagster_is_a_dagster_class_still(name: str) -> None:
    assert issubclass(getattr(ours, name), BEYOND_DAGSTER[name])


@pytest.mark.parametrize("name", [n for n in DAGSTER_NAMES if inspect.isclass(DAGSTER[n])])
def test_each_class_takes_dagsters_parameters(name: str) -> None:
    """The same parameters with Dagster's defaults (a default where Dagster requires a value is
    allowed), plus optional ones at the end (e.g. the captured stdout and stderr)."""
    checked = 0
    for method in METHODS:
        mine, theirs = getattr(getattr(ours, name), method, None), getattr(DAGSTER[name], method, None)
        if theirs is None or mine is None or (name, method) in CALLED_POSITIONALLY:
            continue
        expected, given = parameters(theirs), parameters(mine)
        assert len(given) >= len(expected), f"{name}.{method}"
        for (their_name, their_kind, their_default), (my_name, my_kind, my_default) in zip(expected, given):
            assert (my_name, my_kind) == (their_name, their_kind), f"{name}.{method}"
            if their_default is not inspect.Parameter.empty:  # a default Dagster lacks is allowed
                assert my_default == their_default, f"{name}.{method}"
        extensions = given[len(expected) :]
        assert all(default is not inspect.Parameter.empty for _, _, default in extensions), f"{name}.{method}"
        checked += 1
    assert checked


def test_open_pipes_session_takes_dagsters_parameters_then_optional_keywords() -> None:
    theirs, mine = parameters(dagster.open_pipes_session), parameters(ours.open_pipes_session)
    assert mine[: len(theirs)] == theirs
    extensions = mine[len(theirs) :]  # log_to_stderr_below
    assert all(kind is inspect.Parameter.KEYWORD_ONLY and default is None for _, kind, default in extensions)


def test_a_failure_is_pipes_fasts_error_too() -> None:
    assert issubclass(ours.PipesExecutionError, pipes_fast.PipesExecutionError)


def test_the_client_is_a_dagster_resource() -> None:
    client = ours.PipesSubprocessClient()
    assert isinstance(client, dagster.PipesClient)
    assert isinstance(client, dagster.PipesSubprocessClient)
    assert isinstance(client.message_reader, dagster.PipesMessageReader)
    assert isinstance(client.context_injector, dagster.PipesContextInjector)


def test_without_dagster_the_import_says_what_to_install() -> None:
    code = "import sys\nsys.modules['dagster'] = None\nimport pipes_fast.dagster"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 1
    assert "ImportError: pipes_fast.dagster needs Dagster 1.13: pip install 'dagster>=1.13,<1.14'" in run.stderr


def test_the_core_never_imports_dagster() -> None:
    code = "import sys, pipes_fast\nfor name in pipes_fast.__all__: getattr(pipes_fast, name)\nprint('dagster' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"


def test_a_step_context_is_refused_with_a_pointer_to_pipes_fast() -> None:
    with pytest.raises(TypeError, match="needs its context, got StepContext; outside Dagster, use pipes_fast's own"):
        ours.PipesSubprocessClient().run(context=pipes_fast.StepContext(), command=[sys.executable, "-c", "pass"])
