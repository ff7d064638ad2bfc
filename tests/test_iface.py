"""One contract, two implementations: both hot paths expose the same names, signatures and
attributes (in the spirit of frozenlist's ``test_iface``)."""

from __future__ import annotations

import inspect
import os
from types import ModuleType
from typing import Any, Callable

import pytest

from pipes_fast import AssetKey


def samples(module: ModuleType, fd: int) -> dict[str, Any]:
    """One instance of each public class of ``module``."""
    return {
        "LineFramer": module.LineFramer(),
        "StdioDemux": module.StdioDemux(),
        "MetadataValue": module.MetadataValue("int", 1),
        "MaterializeResult": module.MaterializeResult(AssetKey("a")),
        "AssetCheckResult": module.AssetCheckResult(AssetKey("a"), "c", True),
        "MessageRouter": module.MessageRouter(None, print, print),
        "JsonLineAppender": module.JsonLineAppender(fd, bytes),
    }


@pytest.fixture
def instances(both, tmp_path):
    fd = os.open(tmp_path / "appended", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    yield [samples(module, fd) for module in both]
    os.close(fd)


def public(obj: Any) -> list[str]:
    return sorted(name for name in dir(obj) if not name.startswith("_"))


def parameters(function: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
    """Names, kinds and defaults: annotations are the pure twin's alone."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


def test_the_same_public_names(both):
    compiled, pure = both
    assert compiled.__all__ == pure.__all__
    for name in compiled.__all__:
        assert isinstance(getattr(compiled, name), type) == isinstance(getattr(pure, name), type), name


def test_functions_have_the_same_signatures(both):
    compiled, pure = both
    for name in compiled.__all__:
        if not isinstance(getattr(compiled, name), type):
            assert parameters(getattr(compiled, name)) == parameters(getattr(pure, name)), name


def test_classes_have_the_same_members_and_method_signatures(both):
    compiled, pure = both
    for name in compiled.__all__:
        ours, twin = getattr(compiled, name), getattr(pure, name)
        if not isinstance(ours, type):
            continue
        assert public(ours) == public(twin), name
        for member in public(ours):
            method = inspect.getattr_static(ours, member)
            if callable(method) or isinstance(method, classmethod):
                assert parameters(getattr(ours, member)) == parameters(getattr(twin, member)), f"{name}.{member}"


def test_constructors_take_the_same_arguments(both, tmp_path):
    """Compiled classes do not expose their signature: call them with every parameter of the twin's,
    by keyword, and with one too many."""
    compiled, pure = both
    fd = os.open(tmp_path / "appended", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    arguments = {
        "LineFramer": {"max_line_bytes": 10},
        "StdioDemux": {"max_line_bytes": 10},
        "MetadataValue": {"type": "url", "value": "u"},
        "MaterializeResult": {"asset_key": AssetKey("a"), "metadata": {}, "data_version": "1", "check_results": ()},
        "AssetCheckResult": {
            "asset_key": AssetKey("a"),
            "check_name": "c",
            "passed": True,
            "severity": "WARN",
            "metadata": {},
        },
        "MessageRouter": {"asset_keys": None, "other": print, "warn": print},
        "JsonLineAppender": {"fd": fd, "fallback": bytes, "buffer_bytes": 16, "wake": print},
    }
    try:
        for name, kwargs in arguments.items():
            assert [p[0] for p in parameters(getattr(pure, name))] == list(kwargs), name
            for module in both:
                getattr(module, name)(**kwargs)
                getattr(module, name)(*kwargs.values())
                with pytest.raises(TypeError):
                    getattr(module, name)(**kwargs, unexpected=1)
    finally:
        os.close(fd)


def test_attributes_are_writable_alike(instances):
    compiled, pure = instances
    for name, ours in compiled.items():
        twin = pure[name]
        assert hasattr(ours, "__dict__") == hasattr(twin, "__dict__"), name
        for member in public(ours):
            value = getattr(ours, member)
            if callable(value) and not isinstance(value, (AssetKey, dict)):
                continue
            outcomes = []
            for obj in (ours, twin):
                try:
                    setattr(obj, member, getattr(obj, member))
                    outcomes.append("writable")
                except AttributeError:
                    outcomes.append("read-only")
            assert outcomes[0] == outcomes[1], f"{name}.{member}: {outcomes}"


def test_instances_compare_hash_and_print_alike(instances):
    compiled, pure = instances
    for name, ours in compiled.items():
        twin = pure[name]
        assert repr(ours) == repr(twin) or name in ("LineFramer", "StdioDemux", "MessageRouter", "JsonLineAppender")
        assert (type(ours).__hash__ is None) == (type(twin).__hash__ is None), name
