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

import pipes_fast
import pipes_fast.dagster as ours

DAGSTER_NAMES = sorted(name for name in ours.__all__ if hasattr(dagster, name))
METHODS = ("__init__", "run", "get_results", "get_materialize_result", "get_asset_check_result", "get_custom_messages",
           "get_bootstrap_env_vars", "get_bootstrap_cli_arguments", "get_bootstrap_params", "get_reported_results",
           "report_launched", "read_messages", "inject_context", "handle_message")

CALLED_POSITIONALLY = {("PipesTempFileContextInjector", "inject_context")}
"""Where Dagster's subclass renames its base's parameter (``context`` for ``context_data``) and
only sessions call it, positionally: pipes_fast keeps the base's name."""


def parameters(function: Any) -> list[tuple[str, Any, Any]]:
    """Names, kinds and defaults: what a caller sees (annotations may differ)."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


def test_every_dagster_name_is_covered() -> None:
    assert DAGSTER_NAMES == sorted(set(ours.__all__) - {"PipesExecutionError"})


@pytest.mark.parametrize("name", DAGSTER_NAMES)
def test_each_class_is_the_dagster_class_of_its_name(name: str) -> None:
    theirs = getattr(dagster, name)
    if inspect.isclass(theirs):
        assert issubclass(getattr(ours, name), theirs)


@pytest.mark.parametrize("name", [n for n in DAGSTER_NAMES if inspect.isclass(getattr(dagster, n))])
def test_each_class_takes_dagsters_parameters(name: str) -> None:
    """The same parameters, plus optional ones at the end (e.g. the captured stdout and stderr)."""
    checked = 0
    for method in METHODS:
        mine, theirs = getattr(getattr(ours, name), method, None), getattr(getattr(dagster, name), method, None)
        if theirs is None or mine is None or (name, method) in CALLED_POSITIONALLY:
            continue
        expected = parameters(theirs)
        assert parameters(mine)[: len(expected)] == expected, f"{name}.{method}"
        extensions = parameters(mine)[len(expected) :]
        assert all(default is not inspect.Parameter.empty for _, _, default in extensions), f"{name}.{method}"
        checked += 1
    assert checked


def test_open_pipes_session_takes_dagsters_parameters() -> None:
    assert parameters(ours.open_pipes_session) == parameters(dagster.open_pipes_session)


def test_a_failure_is_both_dagsters_and_pipes_fasts_error() -> None:
    assert issubclass(ours.PipesExecutionError, DagsterPipesExecutionError)
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
    assert "ImportError: pipes_fast.dagster needs Dagster: pip install 'pipes_fast[dagster]'" in run.stderr


def test_the_core_never_imports_dagster() -> None:
    code = "import sys, pipes_fast\nfor name in pipes_fast.__all__: getattr(pipes_fast, name)\nprint('dagster' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"


def test_a_step_context_is_refused_with_a_pointer_to_pipes_fast() -> None:
    with pytest.raises(TypeError, match="needs its context, got StepContext; outside Dagster, use pipes_fast's own"):
        ours.PipesSubprocessClient().run(context=pipes_fast.StepContext(), command=[sys.executable, "-c", "pass"])
