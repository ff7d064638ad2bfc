"""Benchmarks run from this folder: make its helpers importable and share the implementations."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

sys.path.insert(0, str(Path(__file__).parent))


def _implementation(name: str) -> ModuleType:
    if name == "pure":
        return importlib.import_module("pipes_fast._fallback")
    try:
        return importlib.import_module("pipes_fast._speedups")
    except ImportError:
        pytest.skip("the compiled extension is not built in this install")


@pytest.fixture(params=["compiled", "pure"])
def hotpath(request: pytest.FixtureRequest) -> ModuleType:
    return _implementation(request.param)
