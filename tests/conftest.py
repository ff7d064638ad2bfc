"""Shared fixtures: every hot-path test runs against the compiled extension and the pure twin."""

from __future__ import annotations

from types import ModuleType

import pytest

from pipes_fast import _hotpath

IMPLEMENTATIONS = ("compiled", "pure")


def load_implementation(name: str) -> ModuleType:
    """The hot-path module called ``name``; skips the test where the extension is not built."""
    try:
        return _hotpath.load(name)
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


@pytest.fixture(params=IMPLEMENTATIONS)
def use_hotpath(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Route the whole package (readers, sessions, clients) through one hot-path implementation.

    For integration tests: everything that reaches the hot path through ``pipes_fast._hotpath``
    uses the chosen module for the duration of the test.
    """
    module = load_implementation(request.param)
    import pipes_fast
    from pipes_fast import results

    for name in ("LineFramer", "FileTailer", "decode_batch", "encode_param", "decode_param", "resolve_metadata", "MessageRouter",
                 "JsonLineAppender"):
        monkeypatch.setattr(_hotpath, name, getattr(module, name))
    for name in RESULT_TYPES:  # so that isinstance(result, pipes_fast.MaterializeResult) holds
        for namespace in (_hotpath, results, pipes_fast):
            monkeypatch.setattr(namespace, name, getattr(module, name), raising=False)
    monkeypatch.setattr(_hotpath, "implementation", module)
    return module


RESULT_TYPES = ("MetadataValue", "MaterializeResult", "AssetCheckResult")
