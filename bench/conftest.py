"""Benchmarks run from this folder: make its helpers and experiments importable and share the implementations."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import pytest

from pipes_fast import _hotpath

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).parent / "experiments"))


def _implementation(name: str) -> ModuleType:
    try:
        return _hotpath.load(name)
    except ImportError:
        pytest.skip("the compiled extension is not built in this install")


@pytest.fixture(params=["compiled", "pure"])
def hotpath(request: pytest.FixtureRequest) -> ModuleType:
    return _implementation(request.param)
