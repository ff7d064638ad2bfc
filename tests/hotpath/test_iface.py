"""One contract, two implementations: both hot paths expose the same names, signatures and
attributes (in the spirit of frozenlist's ``test_iface``)."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import os
import pickle
import re
import subprocess
import sys
from collections.abc import Iterator
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


def pairs(instances: list[dict[str, Any]]) -> Iterator[tuple[str, Any, Any]]:
    """Each public class's name, and its sample in the compiled and in the pure implementation."""
    compiled, pure = instances
    for name, compiled_one in compiled.items():
        yield name, compiled_one, pure[name]


def public(obj: Any) -> list[str]:
    return sorted(name for name in dir(obj) if not name.startswith("_"))


def parameters(function: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
    """Names, kinds and defaults: annotations are the pure implementation's alone."""
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
        compiled_one, pure_one = getattr(compiled, name), getattr(pure, name)
        if not isinstance(compiled_one, type):
            continue
        assert public(compiled_one) == public(pure_one), name
        for member in public(compiled_one):
            method = inspect.getattr_static(compiled_one, member)
            if callable(method) or isinstance(method, classmethod):
                assert parameters(getattr(compiled_one, member)) == parameters(getattr(pure_one, member)), (
                    f"{name}.{member}"
                )


def test_constructors_take_the_same_arguments(both, tmp_path):
    """Compiled classes do not expose their signature: call them with every parameter of the pure one's,
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


def test_instances_compare_hash_and_print_alike(instances):
    for name, compiled_one, pure_one in pairs(instances):
        assert repr(compiled_one) == repr(pure_one) or name in (
            "LineFramer",
            "StdioDemux",
            "MessageRouter",
            "JsonLineAppender",
        )
        assert (type(compiled_one).__hash__ is None) == (type(pure_one).__hash__ is None), name


# What follows walks the public names of both implementations, so that a class or an attribute
# added to one, or made to behave differently, fails here without a test of its own.


def classes(module: ModuleType) -> list[str]:
    return [name for name in module.__all__ if isinstance(getattr(module, name), type)]


def attributes(cls: type) -> list[str]:
    """The public data attributes of ``cls`` (properties, slots, compiled attributes)."""
    return [name for name in public(cls) if inspect.isdatadescriptor(inspect.getattr_static(cls, name))]


def comparable(text: str) -> str:
    """``text`` without what differs only in wording between a compiled class and a Python one
    made alike: qualified names reduced to their last part, addresses dropped, and a read-only
    attribute's error (which names the class defining it when compiled, the object's when pure)
    worded alike."""
    text = re.sub(r"pipes_fast(?:\.\w+)*\.(\w+)", r"\1", text)
    text = re.sub(r" at 0x[0-9a-f]+", "", text)
    return re.sub(
        r"(?:attribute|property) '(\w+)' of '\w+' objects? (?:is not writable|has no (?:setter|deleter))",
        r"attribute '\1' is read-only",
        text,
    )


def attempt(function: Callable[..., Any], *arguments: Any) -> tuple[str, str]:
    """``("ok", the result's repr)``, or the exception's type name and message, made comparable."""
    try:
        result = function(*arguments)
    except Exception as error:  # noqa: BLE001 - the point is which exception
        return type(error).__name__, comparable(str(error))
    return "ok", comparable(repr(result))


def test_every_public_class_has_a_sample(instances, both):
    for module, made in zip(both, instances):
        assert sorted(made) == sorted(classes(module))


def test_subclassing_fails_or_works_alike(both):
    for name in classes(both[0]):
        outcomes = [attempt(type, "Derived", (getattr(m, name),), {}) for m in both]
        assert outcomes[0] == outcomes[1], name


def test_the_dataclass_protocol_applies_alike(instances):
    for name, compiled_one, pure_one in pairs(instances):
        assert dataclasses.is_dataclass(compiled_one) == dataclasses.is_dataclass(pure_one), name
        for probe in (dataclasses.fields, dataclasses.asdict, dataclasses.astuple, dataclasses.replace):
            outcomes = [attempt(probe, obj) for obj in (compiled_one, pure_one)]
            assert outcomes[0] == outcomes[1], f"{name}: {probe.__name__}"


def match_positionally(obj: Any, count: int) -> Any:
    """What ``case type(obj)(p0, ..., p<count-1>)`` captures from ``obj`` (None: no match)."""
    names = ", ".join(f"p{i}" for i in range(count))
    scope: dict[str, Any] = {"obj": obj, "cls": type(obj)}
    exec(f"match obj:\n    case cls({names}):\n        found = [{names}]\n    case _:\n        found = None", scope)  # noqa: S102
    return scope["found"]


def test_positional_patterns_match_alike(instances):
    for name, compiled_one, pure_one in pairs(instances):
        fields = getattr(type(compiled_one), "__match_args__", ())
        assert fields == getattr(type(pure_one), "__match_args__", ()), name
        for obj in (compiled_one, pure_one):
            assert match_positionally(obj, len(fields)) == [getattr(obj, field) for field in fields], name
        outcomes = [attempt(match_positionally, obj, len(fields) + 1) for obj in (compiled_one, pure_one)]
        assert outcomes[0] == outcomes[1], name


ASSIGNED = (None, False, 0, "x", object())
HELD = object()  # stands for the value the attribute holds


def test_attributes_round_trip_alike(both, tmp_path):
    """Each value assigned to each public attribute (the one it holds too) reads back alike, or fails
    alike; so does deleting."""
    fd = os.open(tmp_path / "appended", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for name in classes(both[0]):
            names = [attributes(getattr(module, name)) for module in both]
            assert names[0] == names[1], name
            for attribute in names[0]:
                for assigned_value in (*ASSIGNED, HELD):
                    outcomes = []
                    for module in both:
                        obj = samples(module, fd)[name]
                        value = getattr(obj, attribute) if assigned_value is HELD else assigned_value
                        assigned = attempt(setattr, obj, attribute, value)
                        read = getattr(obj, attribute)
                        outcomes.append((assigned, read is assigned_value or comparable(repr(read))))
                    assert outcomes[0] == outcomes[1], f"{name}.{attribute} = {assigned_value!r}"
                deleted = [attempt(delattr, samples(m, fd)[name], attribute) for m in both]
                assert deleted[0] == deleted[1], f"del {name}.{attribute}"
    finally:
        os.close(fd)


def test_copying_and_pickling_apply_alike(instances):
    """Copies keep the class and compare equal; what pickles, pickles by the same (public) name."""
    for name, compiled_one, pure_one in pairs(instances):
        for copier in (copy.copy, copy.deepcopy):
            outcomes = [attempt(copier, obj) for obj in (compiled_one, pure_one)]
            assert outcomes[0] == outcomes[1], f"{name}: {copier.__name__}"
            if outcomes[0][0] == "ok":
                for obj in (compiled_one, pure_one):
                    assert type(copier(obj)) is type(obj) and copier(obj) == obj, name
        reduced = [attempt(obj.__reduce_ex__, pickle.HIGHEST_PROTOCOL) for obj in (compiled_one, pure_one)]
        assert reduced[0][0] == reduced[1][0], name
        if reduced[0][0] == "ok":
            callables = [obj.__reduce_ex__(pickle.HIGHEST_PROTOCOL)[0] for obj in (compiled_one, pure_one)]
            assert len({f"{c.__module__}.{c.__qualname__}" for c in callables}) == 1, name
        else:
            assert reduced[0] == reduced[1], name


def test_results_pickle_in_the_implementation_in_use(instances):
    from pipes_fast import _hotpath

    for obj in instances[0 if _hotpath.EXTENSION else 1].values():
        if isinstance(obj, (_hotpath.MetadataValue, _hotpath.MaterializeResult, _hotpath.AssetCheckResult)):
            again = pickle.loads(pickle.dumps(obj))
            assert type(again) is type(obj) and again == obj


PICKLING = """
import pickle, sys
import pipes_fast
from pipes_fast import AssetCheckResult, AssetKey, MaterializeResult, MetadataValue

check = AssetCheckResult(AssetKey("a"), "c", False, metadata={"m": MetadataValue("text", "t")})
made = [MetadataValue("int", 1), check, MaterializeResult(AssetKey(["a", "b"]), {"n": MetadataValue("int", 1)}, "v", (check,))]
if sys.argv[1] == "dump":
    sys.stdout.buffer.write(pickle.dumps(made))
else:
    loaded = pickle.loads(sys.stdin.buffer.read())
    print(pipes_fast.EXTENSION, loaded == made, [type(obj) is type(compiled_one) for obj, compiled_one in zip(loaded, made)])
"""


@pytest.mark.parametrize("dumped_by_pure", [False, True], ids=["compiled-to-pure", "pure-to-compiled"])
def test_results_pickled_by_one_implementation_load_as_the_other(both, dumped_by_pure):
    def run(pure: bool, *argv: str, data: bytes = b"") -> bytes:
        env = {k: v for k, v in os.environ.items() if k != "PIPES_FAST_NO_EXTENSIONS"}
        if pure:
            env["PIPES_FAST_NO_EXTENSIONS"] = "1"
        done = subprocess.run(
            [sys.executable, "-c", PICKLING, *argv], input=data, env=env, capture_output=True, timeout=120, check=True
        )
        return done.stdout

    loaded = run(not dumped_by_pure, "load", data=run(dumped_by_pure, "dump"))
    assert loaded.decode().split(None, 1) == [str(dumped_by_pure), "True [True, True, True]\n"]
