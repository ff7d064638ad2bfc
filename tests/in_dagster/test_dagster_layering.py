"""The dependency points one way: pipes_fast.dagster imports the core, never the reverse.

Given a Dagster context, each core entry point refuses it with a ``TypeError`` naming its
counterpart in ``pipes_fast.dagster``; no module outside the adapter imports Dagster or the adapter
(checked on the source, imports inside functions included); and a core run leaves both unloaded.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import dagster as dg
import pytest

import pipes_fast

PACKAGE = Path(pipes_fast.__file__).parent

ADAPTER = ("pipes_fast.dagster",)
"""The adapter: the only modules that import Dagster."""

TOOLS = ("pipes_fast.benchmarks",)
"""Tools above both layers: the benchmarks measure pipes_fast against Dagster itself (run by
``pipes-fast bench``; lazily, inside the functions that compare)."""

FORBIDDEN = ("dagster", "pipes_fast.dagster")
"""What no other module imports, nor any module beneath these."""


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


def imported_modules(source: str, package: str) -> Iterator[tuple[int, str]]:
    """``(line, module)`` for every import in ``source`` at any depth (functions, branches, ``try``),
    relative ones resolved from ``package`` (the module's own); ``from a import b`` counts as ``a``
    and ``a.b``; ``__import__("x")`` and ``import_module("x")`` with a literal name count as ``x``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if called in ("__import__", "import_module") and isinstance(node.args[0].value, str):
                yield node.lineno, node.args[0].value


def core_modules() -> Iterator[tuple[str, str, Path]]:
    """Every module of pipes_fast outside the adapter and the tools: ``(name, its package, path)``."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        package = ".".join(parts[:-1])
        name = package if parts[-1] == "__init__" else ".".join(parts)
        if not _within(name, ADAPTER + TOOLS):
            yield name, package, path


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("import dagster", True),
        ("import dagster_pipes", False),
        ("def f():\n    from dagster._core import errors", True),
        ("from pipes_fast import dagster", True),
        ("from pipes_fast.dagster.ray import PipesRayJobClient", True),
        ("from .. import dagster", True),
        ("from ..dagster import _io", True),
        ("from . import dagster", False),  # pipes_fast.clients.dagster: not the adapter
        ("try:\n    x = __import__('pipes_fast.dagster')\nexcept ImportError:\n    pass", True),
        ("import importlib\nimportlib.import_module('dagster')", True),
        ("from pipes_fast.external import open_dagster_pipes", False),
    ],
)
def test_the_walk_finds_forbidden_imports_wherever_they_are(source: str, found: bool) -> None:
    names = [name for _, name in imported_modules(source, "pipes_fast.clients")]
    assert any(_within(name, FORBIDDEN) for name in names) is found, names


def test_no_core_module_imports_dagster_or_the_adapter() -> None:
    modules = list(core_modules())
    assert len(modules) > 50 and "pipes_fast.session" in [name for name, _, _ in modules]  # it sees the package
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: imports {name}"
        for _, package, path in modules
        for line, name in imported_modules(path.read_text(encoding="utf-8"), package)
        if _within(name, FORBIDDEN)
    ]
    assert not found, "the core imports Dagster or its adapter (use pipes_fast.dagster's side instead):\n" + "\n".join(
        found
    )


def test_a_core_run_loads_neither_dagster_nor_the_adapter(tmp_path: Path) -> None:
    child = tmp_path / "child.py"
    child.write_text(
        textwrap.dedent(
            """
            from pipes_fast.external import open_dagster_pipes

            with open_dagster_pipes() as pipes:
                pipes.report_asset_materialization(metadata={"rows": 1})
            """
        )
    )
    orchestrator = textwrap.dedent(
        f"""
        import sys
        import pipes_fast

        client = pipes_fast.PipesSubprocessClient()
        completed = client.run(context=pipes_fast.StepContext("orders"), command=[sys.executable, {str(child)!r}])
        assert [r.metadata["rows"].value for r in completed.get_results()] == [1]
        print(sorted(m for m in sys.modules if m == "dagster" or m.startswith(("dagster.", "pipes_fast.dagster"))))
        """
    )
    done = subprocess.run([sys.executable, "-c", orchestrator], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# --- a Dagster context given to the core: refused, naming the adapter ----------------------------


def _run_subprocess_client(context: Any) -> None:
    pipes_fast.PipesSubprocessClient().run(context=context, command=[sys.executable, "-c", "pass"])


def _open_session(context: Any) -> None:
    with pipes_fast.open_pipes_session(
        context, pipes_fast.PipesEnvContextInjector(), pipes_fast.PipesTempFileMessageReader()
    ):
        pass


def _run_ray_client(context: Any) -> None:
    from pipes_fast.ray import PipesRayJobClient

    # refused before any job is submitted: no cluster is reached at this address
    PipesRayJobClient("http://127.0.0.1:9").run(context=context, submit_job_params={"entrypoint": "true"})


ENTRY_POINTS: dict[str, tuple[Callable[[Any], None], str]] = {
    "PipesSubprocessClient.run": (_run_subprocess_client, "pipes_fast.dagster.PipesSubprocessClient"),
    "open_pipes_session": (_open_session, "pipes_fast.dagster.open_pipes_session"),
    "ray.PipesRayJobClient.run": (_run_ray_client, "pipes_fast.dagster.ray.PipesRayJobClient"),
}


def _errors(error: Any) -> Iterator[Any]:
    """A step failure's error and its causes, outermost first."""
    while error is not None:
        yield error
        error = error.cause


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_a_dagster_context_given_to_the_core_fails_the_step_naming_the_adapter(entry_point: str) -> None:
    call, adapter = ENTRY_POINTS[entry_point]
    if entry_point.startswith("ray."):
        pytest.importorskip("ray.job_submission", reason="needs Ray: pip install '.[ray]'")

    @dg.asset
    def orders(context):  # type: ignore[no-untyped-def]  # Dagster reads string annotations as names
        call(context)

    result = dg.materialize([orders], raise_on_error=False)
    assert not result.success
    (failure,) = result.get_step_failure_events()
    refusals = [e for e in _errors(failure.step_failure_data.error) if e.cls_name == "TypeError"]
    assert [e.message.strip() for e in refusals] == [
        f"TypeError: AssetExecutionContext is a Dagster context: use {adapter}, which takes the same"
        " arguments, or pass a pipes_fast.StepContext to run outside Dagster"
    ]
