"""The same bad calls on both implementations fail the same way (in the spirit of multidict's
``test_incorrect_args``): same exception type, same message."""

from __future__ import annotations

import inspect
import os
from types import ModuleType
from typing import Any, Callable, Optional, get_type_hints

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.strategies import json_values

from pipes_fast import AssetKey


def router(module: ModuleType) -> Any:
    return module.MessageRouter(None, print, print)


BAD_CALLS: dict[str, Callable[[ModuleType], Any]] = {
    "framer limit 0": lambda m: m.LineFramer(0),
    "framer limit str": lambda m: m.LineFramer("5"),
    "framer limit float": lambda m: m.LineFramer(1.5),
    "framer limit bool": lambda m: m.LineFramer(True),
    "feed str": lambda m: m.LineFramer().feed("text"),
    "feed int": lambda m: m.LineFramer().feed(5),
    "feed None": lambda m: m.LineFramer().feed(None),
    "demux limit 0": lambda m: m.StdioDemux(0),
    "demux limit str": lambda m: m.StdioDemux("5"),
    "demux limit float": lambda m: m.StdioDemux(1.5),
    "demux limit bool": lambda m: m.StdioDemux(True),
    "demux feed str": lambda m: m.StdioDemux().feed("text"),
    "demux feed int": lambda m: m.StdioDemux().feed(5),
    "demux feed None": lambda m: m.StdioDemux().feed(None),
    "metadata type int": lambda m: m.MetadataValue(5, 1),
    "metadata type None": lambda m: m.MetadataValue(None, 1),
    "metadata type unknown": lambda m: m.MetadataValue("nope", 1),
    "metadata type infer": lambda m: m.MetadataValue("__infer__", 1),
    "metadata missing value": lambda m: m.MetadataValue("int"),
    "infer object": lambda m: m.MetadataValue.infer(object()),
    "resolve list": lambda m: m.resolve_metadata([1], print),
    "resolve entry int": lambda m: m.resolve_metadata({"m": 5}, print),
    "resolve asset int": lambda m: m.resolve_metadata({"m": {"type": "asset", "raw_value": 1}}, print),
    "router other int": lambda m: m.MessageRouter(None, 5, print),
    "router warn None": lambda m: m.MessageRouter(None, print, None),
    "router keys int": lambda m: m.MessageRouter(5, print, print),
    "route int": lambda m: router(m).route(5),
    "route_lines int": lambda m: router(m).route_lines(5),
    "route_lines str items": lambda m: router(m).route_lines(["text"]),
    "route_lines None items": lambda m: router(m).route_lines([None]),
    "route_lines first 0": lambda m: router(m).route_lines([b"x"], 0),
    "route_lines first str": lambda m: router(m).route_lines([b"x"], "1"),
    "check missing args": lambda m: m.AssetCheckResult(AssetKey("a")),
    "replace unknown field": lambda m: m.MaterializeResult().replace(bogus=1),
    "appender fd str": lambda m: m.JsonLineAppender("1", bytes),
    "appender fallback int": lambda m: m.JsonLineAppender(1, 5),
    "appender closed fd": lambda m: m.JsonLineAppender(_closed_fd(), bytes).append({"a": 1}),
    "appender fallback returns str": lambda m: m.JsonLineAppender(1, str).append({1: 2}),
    "appender buffer 0": lambda m: m.JsonLineAppender(1, bytes, 0),
    "appender buffer negative": lambda m: m.JsonLineAppender(1, bytes, -4096),
    "appender buffer str": lambda m: m.JsonLineAppender(1, bytes, "4096"),
    "appender buffer float": lambda m: m.JsonLineAppender(1, bytes, 4096.0),
    "appender wake int": lambda m: m.JsonLineAppender(1, bytes, 4096, 5),
    "appender wake without buffer": lambda m: m.JsonLineAppender(1, bytes, None, 5),
    "buffered appender flush to closed fd": lambda m: _buffered(m, _closed_fd()).flush(),
    "buffered appender line over closed fd": lambda m: _buffered(m, _closed_fd()).append({"a": "x" * 64}),
    "append after close": lambda m: _closed(m.JsonLineAppender(1, bytes)).append({"a": 1}),
    "buffered append after close": lambda m: _closed(m.JsonLineAppender(1, bytes, 16)).append({"a": 1}),
}


def _buffered(module: ModuleType, fd: int) -> Any:
    """A 16-byte buffered appender holding one line."""
    appender = module.JsonLineAppender(fd, bytes, 16)
    appender.append({"a": 1})
    return appender


def _closed(appender: Any) -> Any:
    appender.close()
    return appender


def _closed_fd() -> int:
    read, write = os.pipe()
    os.close(read)
    os.close(write)
    return write


def outcome(call: Callable[[ModuleType], Any], module: ModuleType) -> tuple[str, str]:
    try:
        call(module)
    except Exception as error:  # noqa: BLE001 - the point is which exception
        return type(error).__name__, str(error)
    return "no error", ""


@pytest.mark.parametrize("case", BAD_CALLS)
def test_bad_calls_fail_alike(both, case):
    compiled, pure = both
    compiled_one, pure_one = outcome(BAD_CALLS[case], compiled), outcome(BAD_CALLS[case], pure)
    assert compiled_one[0] == pure_one[0] and compiled_one[0] != "no error"
    if compiled_one[0] not in ("TypeError", "OSError"):  # CPython and Cython word argument errors differently
        assert compiled_one == pure_one


wrongly_typed = st.lists(
    json_values
    | st.fixed_dictionaries(
        {
            "method": st.sampled_from(
                [
                    "report_asset_materialization",
                    "report_asset_check",
                    "report_custom_message",
                    "log",
                    "opened",
                    "closed",
                ]
            )
            | json_values,
            "params": json_values
            | st.dictionaries(
                st.sampled_from(
                    ["asset_key", "payload", "metadata", "check_name", "passed", "severity", "data_version"]
                ),
                json_values,
                max_size=4,
            ),
        },
        optional={"__dagster_pipes_version": json_values},
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(batch=wrongly_typed, op_step=st.booleans(), closed=st.booleans())
def test_wrongly_typed_messages_are_handled_alike(both, batch, op_step, closed):
    """Anything at all in place of messages: the same results, payloads and warnings, never an error."""
    outcomes = []
    for module in both:
        others, warnings = [], []
        router = module.MessageRouter(None if op_step else {"a": AssetKey("a")}, others.append, warnings.append)
        router.closed = closed
        router.route(batch)
        outcomes.append(repr((list(router.results), list(router.custom_messages), others, warnings)))
    assert outcomes[0] == outcomes[1]


# Every integer parameter of the hot path, found from the pure implementation's annotations, takes
# the same range on both: the same boundary values are accepted, and refused with the same error.

BOUNDARY_INTEGERS = (0, -1, 1, 2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64, -(2**63), -(2**63) - 1, True, 1.0)


def valid_arguments(fd: int) -> dict[str, Any]:
    """A valid value for each parameter name of the hot path's classes, functions and methods."""
    return {
        "max_line_bytes": 10,
        "type": "int",
        "value": 1,
        "asset_key": AssetKey("a"),
        "check_name": "c",
        "passed": True,
        "asset_keys": None,
        "other": print,
        "warn": print,
        "fd": fd,
        "fallback": bytes,
        "raw": {},
        "lines": [b"not json", b"{}"],
        "messages": [],
        "data": b"x\n",
        "message": {"a": 1},
    }


# what each class with an integer parameter is put through once made, with the arguments it was made with
WORKOUTS: dict[str, Callable[[Any, dict[str, Any], int], Any]] = {
    "LineFramer": lambda framer, _, __: (
        framer.feed(b"ab\n" + b"c" * 30 + b"\nd"),
        framer.flush(),
        framer.truncated_lines,
    ),
    "StdioDemux": lambda demux, _, __: (
        demux.feed(b'{"__dagster_pipes_version": "0.1", "m": 1}\nout\n{"a"'),
        demux.flush(),
        demux.truncated_lines,
    ),
    "JsonLineAppender": lambda appender, arguments, fd: (
        (appender.append({"a": 1}), appender.flush(), appender.close(), os.pread(fd, 100, 0))
        if arguments["fd"] == fd  # (never written to: another descriptor of this process)
        else None
    ),
}


def integer_parameters(function: Callable[..., Any]) -> list[str]:
    hints = get_type_hints(function)
    return [name for name, hint in hints.items() if name != "return" and hint in (int, Optional[int])]


def integer_cases(pure: ModuleType) -> list[tuple[str, str, str]]:
    """``(public name, method or "", parameter)`` for each integer parameter of the pure
    implementation's public functions, constructors and public methods."""
    cases = []
    for name in pure.__all__:
        target = getattr(pure, name)
        if not isinstance(target, type):
            cases += [(name, "", parameter) for parameter in integer_parameters(target)]
            continue
        cases += [(name, "__init__", parameter) for parameter in integer_parameters(target.__init__)]
        for method in dir(target):
            if not method.startswith("_") and inspect.isfunction(inspect.getattr_static(target, method)):
                cases += [(name, method, parameter) for parameter in integer_parameters(getattr(target, method))]
    return cases


def run_case(module: ModuleType, pure: ModuleType, case: tuple[str, str, str], value: Any, fd: int) -> str:
    """The case's call on ``module`` with ``value`` for its parameter (arguments named after the
    pure implementation's signature): what it returned, or the error it raised."""
    name, method, parameter = case
    valid = valid_arguments(fd)

    def arguments(function: Callable[..., Any], value: Any) -> dict[str, Any]:
        names = [p for p in inspect.signature(function).parameters if p != "self"]
        return {n: value if n == parameter else valid[n] for n in names if n in valid or n == parameter}

    target = getattr(module, name)
    try:
        if not method:
            result = target(**arguments(getattr(pure, name), value))
        elif method == "__init__":
            given = arguments(getattr(pure, name).__init__, value)
            result = WORKOUTS[name](target(**given), given, fd)
        else:
            obj = target(**arguments(getattr(pure, name).__init__, None))
            result = getattr(obj, method)(**arguments(getattr(getattr(pure, name), method), value))
    except Exception as error:  # noqa: BLE001 - the point is which exception
        return f"{type(error).__name__}: {error}"
    return repr(result)


def test_boundary_integers_are_taken_or_refused_alike(both, tmp_path):
    compiled, pure = both
    fd = os.open(tmp_path / "appended", os.O_RDWR | os.O_CREAT | os.O_APPEND)
    try:
        cases = integer_cases(pure)
        assert {("LineFramer", "__init__", "max_line_bytes"), ("JsonLineAppender", "__init__", "fd")} <= set(cases)
        assert ("MessageRouter", "route_lines", "first_line") in cases
        differing = []
        for case in cases:
            for value in BOUNDARY_INTEGERS:
                outcomes = []
                for module in both:
                    os.ftruncate(fd, 0)
                    outcomes.append(run_case(module, pure, case, value, fd))
                if outcomes[0] != outcomes[1]:
                    differing.append((case, value, *outcomes))
        assert differing == []
    finally:
        os.close(fd)
