"""Shared fixtures: every hot-path test runs against the compiled extension and the pure twin."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

IMPLEMENTATIONS = ("compiled", "pure")


def load_implementation(name: str) -> ModuleType:
    """The hot-path module called ``name``; skips the test where the extension is not built."""
    if name == "pure":
        return importlib.import_module("pipes_fast._fallback")
    try:
        return importlib.import_module("pipes_fast._speedups")
    except ImportError:
        pytest.skip("the compiled extension is not built in this install")


@pytest.fixture(scope="session", params=IMPLEMENTATIONS)
def hotpath(request: pytest.FixtureRequest) -> ModuleType:
    """One hot-path implementation, by turns each of the two."""
    return load_implementation(request.param)


@pytest.fixture(scope="session")
def both() -> tuple[ModuleType, ModuleType]:
    """The compiled and the pure implementation, to check that they agree."""
    return load_implementation("compiled"), load_implementation("pure")
