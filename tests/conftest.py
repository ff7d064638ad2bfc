"""Shared fixtures.

The package as a whole (readers, sessions, clients) runs on the implementation chosen once at
import: the compiled extension, or the pure implementation with ``PIPES_FAST_NO_EXTENSIONS=1`` (CI runs the
suite both ways). Unit and agreement tests of the hot path itself load both side by side.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import settings

from pipes_fast import _hotpath

pytest_plugins = [
    "support.reliability",  # the reliability marker's case ids, --reliability-json, observe
    "support.s3_server",  # the S3 test server (moto over HTTP), its clients and buckets
]

IMPLEMENTATIONS = ("compiled", "pure")

# Tests assert behaviour, never time: no per-example deadline on shared, noisy machines.
settings.register_profile("pipes_fast", deadline=None)
settings.load_profile("pipes_fast")


def load_implementation(name: str) -> ModuleType:
    """The hot-path module called ``name``; skips the test where the extension is not built."""
    try:
        return _hotpath.load(name)
    except ImportError:
        pytest.skip("the compiled extension is not built in this install")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leaves out the ``reference`` tests (they record what Dagster does, not what pipes_fast does)
    unless ``-m`` selects by marker or their file (or a folder holding it) is named on the command line."""
    if config.option.markexpr:
        return
    named = (
        set()  # no path on the command line: the testpaths, every test but these
        if config.args_source == pytest.Config.ArgsSource.TESTPATHS
        else {Path(config.invocation_params.dir, arg.split("::")[0]).resolve() for arg in config.args}
    )
    left_out = [
        item for item in items if item.get_closest_marker("reference") and not named & {item.path, *item.path.parents}
    ]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if item not in left_out]


@pytest.fixture(scope="session", params=IMPLEMENTATIONS)
def hotpath(request: pytest.FixtureRequest) -> ModuleType:
    """One hot-path implementation, by turns each of the two."""
    return load_implementation(request.param)


@pytest.fixture(scope="session")
def both() -> tuple[ModuleType, ModuleType]:
    """The compiled and the pure implementation, to check that they agree."""
    return load_implementation("compiled"), load_implementation("pure")
