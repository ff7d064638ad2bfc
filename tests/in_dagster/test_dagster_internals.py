"""Dagster's private names, all in ``pipes_fast.dagster._internals``: each is where the shim takes it
from and of the kind the adapter uses, on the installed Dagster; nothing else in pipes_fast imports
``dagster._`` anything.

A Dagster release that moves or renames one fails here, naming it and the Dagster version.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path
from typing import Any, Callable

import dagster
import pytest

import pipes_fast

PACKAGE = Path(pipes_fast.__file__).parent
SHIM = PACKAGE / "dagster" / "_internals.py"
VERSION = tuple(int(part) for part in dagster.__version__.split(".")[:3] if part.isdigit())

KINDS: dict[str, Callable[[Any], bool]] = {
    "class": inspect.isclass,
    "function": inspect.isfunction,
    "module": inspect.ismodule,
    "str": lambda value: isinstance(value, str),
}

PROMISED: dict[str, tuple[str, tuple[int, ...]]] = {
    "DagsterPipesExecutionError": ("class", ()),
    "DagsterChunkedLogReader": ("class", ()),
    "FAIL_TO_YIELD_ERROR_MESSAGE": ("str", ()),
    "NoValueSentinel": ("class", ()),
    "metadata_value_from_external": ("function", ()),
    "build_external_execution_context_data": ("function", ()),
    "extract_message_or_forward_to_file": ("function", ()),
    "ChildMessageHandler": ("class", (1, 13, 1)),
    "reattach": ("module", (1, 13, 21)),
}
"""Each name the shim promises: its kind, and the Dagster version it appeared in (before which the
shim gives a stand-in the adapter checks for)."""

PRIVATE_MEMBERS: dict[str, tuple[str, ...]] = {
    "dagster.PipesMessageHandler": ("_handle_opened", "_handle_closed", "_handle_log", "_handle_log_external_stream"),
    "dagster.MaterializeResult": ("_replace",),
    "dagster.AssetCheckResult": ("_replace",),
    "reattach": ("find_latest_launch_handle", "record_external_launch", "record_external_reattach"),
}
"""Private members the adapter calls on Dagster's classes and modules."""


def _moved(name: str) -> str:
    return f"Dagster {dagster.__version__} no longer has {name} where pipes_fast.dagster._internals expects it"


def _shim_imports() -> list[tuple[str, str]]:
    """``(module, name)`` of each ``from dagster._... import name`` in the shim (a name may be a
    submodule)."""
    found = []
    for node in ast.walk(ast.parse(SHIM.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dagster._"):
            found += [(node.module or "", alias.name) for alias in node.names]
    return found


@pytest.mark.parametrize(("module", "name"), _shim_imports(), ids=lambda part: str(part))
def test_each_private_name_is_where_the_shim_takes_it_from(module: str, name: str) -> None:
    if VERSION < PROMISED.get(name, ("", ()))[1]:
        pytest.skip(f"{name} came after Dagster {dagster.__version__}")
    try:
        source = importlib.import_module(module)
    except ImportError as missing:
        pytest.fail(f"{_moved(f'{module}.{name}')}: {missing}")
    if not hasattr(source, name):  # ``from package import module``: a submodule
        try:
            importlib.import_module(f"{module}.{name}")
        except ImportError:
            pytest.fail(_moved(f"{module}.{name}"))


def test_the_shim_promises_what_the_test_checks() -> None:
    from pipes_fast.dagster import _internals

    assert sorted(_internals.__all__) == sorted(PROMISED)


@pytest.mark.parametrize("name", PROMISED)
def test_each_promised_name_has_its_kind(name: str) -> None:
    from pipes_fast.dagster import _internals

    kind, since = PROMISED[name]
    value = getattr(_internals, name)
    if VERSION < since:
        assert value in (None, ()), f"{name} before Dagster {since}: a stand-in, got {value!r}"
        return
    assert KINDS[kind](value), f"{_moved(name)} (expected a {kind}, got {value!r})"


@pytest.mark.parametrize("owner", PRIVATE_MEMBERS)
def test_each_private_member_the_adapter_calls_exists(owner: str) -> None:
    from pipes_fast.dagster import _internals

    holder = getattr(dagster, owner.removeprefix("dagster.")) if owner.startswith("dagster.") else None
    holder = holder or getattr(_internals, owner)
    if holder is None:
        pytest.skip(f"{owner} came after Dagster {dagster.__version__}")
    for member in PRIVATE_MEMBERS[owner]:
        assert callable(getattr(holder, member, None)), _moved(f"{owner}.{member}")


def _private_dagster_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [
            f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {name}"
            for name in names
            if name.startswith("dagster._")
        ]
    return found


def test_only_the_shim_imports_dagsters_private_modules() -> None:
    modules = [path for path in sorted(PACKAGE.rglob("*.py")) if path != SHIM]
    assert _private_dagster_imports(SHIM) and len(modules) > 50  # the walk sees them
    found = [line for path in modules for line in _private_dagster_imports(path)]
    assert not found, "import these from pipes_fast.dagster._internals:\n" + "\n".join(found)
