"""PipesContext and open_dagster_pipes: what the step is, how reports are checked and sent, closing,
the process-wide instance, and the no-op context of a process no orchestrator launched.

Contexts write to real files, read back with both hot-path implementations (``hotpath``).
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import dagster_pipes
import pytest
from support.files import context_data, open_context, payloads, read_messages

from pipes_fast.external import (
    DagsterPipesError,
    DagsterPipesWarning,
    PipesContext,
    PipesEnvVarParamsLoader,
    PipesMappingParamsLoader,
    encode_param,
    open_dagster_pipes,
    open_pipes,
)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "messages.jsonl"


@pytest.fixture
def no_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    """No process-wide context for the span of the test."""
    monkeypatch.setattr(PipesContext, "_instance", None)


# ----- what the step is -----


def test_an_asset_step_describes_its_asset(path: Path) -> None:
    provenance = {"code_version": "1", "input_data_versions": {"raw": "abc"}, "is_user_provided": True}
    context = open_context(path, provenance_by_asset_key={"orders": provenance}, extras={"k": [1, 2]}, retry_number=2)
    assert context.is_asset_step and not context.is_partition_step
    assert (context.asset_key, list(context.asset_keys)) == ("orders", ["orders"])
    assert (context.code_version, context.code_version_by_asset_key) == ("1", {"orders": "1"})
    assert (context.provenance, context.provenance_by_asset_key) == (provenance, {"orders": provenance})
    assert (context.run_id, context.job_name, context.retry_number) == ("run-1", "job", 2)
    assert (context.extras, context.get_extra("k")) == ({"k": [1, 2]}, [1, 2])


def test_a_partitioned_step_describes_its_partitions(path: Path) -> None:
    window = {"start": "2024-01-01T00:00:00+00:00", "end": "2024-01-03T00:00:00+00:00"}
    context = open_context(path, partition_key_range={"start": "a", "end": "b"}, partition_time_window=window)
    assert context.is_partition_step
    assert (context.partition_key_range, context.partition_time_window) == ({"start": "a", "end": "b"}, window)
    with pytest.raises(
        DagsterPipesError, match="`partition_key` is undefined. Current step does not target any partitions"
    ):
        context.partition_key  # noqa: B018 - a range has no single key
    single = open_context(path.with_name("single"), partition_key="a", partition_key_range={"start": "a", "end": "a"})
    assert (single.partition_key, single.partition_time_window) == ("a", None)


@pytest.mark.parametrize(
    ("prop", "message"),
    [
        ("asset_key", "`asset_key` is undefined. Current step does not target an asset."),
        ("asset_keys", "`asset_keys` is undefined. Current step does not target an asset."),
        ("provenance", "`provenance` is undefined. Current step does not target an asset."),
        (
            "code_version_by_asset_key",
            "`code_version_by_asset_key` is undefined. Current step does not target an asset.",
        ),
        ("partition_key_range", "`partition_key_range` is undefined. Current step does not target any partitions."),
        ("partition_time_window", "`partition_time_window` is undefined. Current step does not target any partitions."),
    ],
)
def test_an_op_step_says_which_property_it_lacks(path: Path, prop: str, message: str) -> None:
    context = open_context(path, asset_keys=None, code_version_by_asset_key=None, provenance_by_asset_key=None)
    assert not context.is_asset_step
    with pytest.raises(DagsterPipesError, match=re.escape(message)):
        getattr(context, prop)


@pytest.mark.parametrize("prop", ["asset_key", "code_version", "provenance"])
def test_single_asset_properties_refuse_a_multi_asset_step(path: Path, prop: str) -> None:
    keys = {"a": None, "b": None}
    context = open_context(path, asset_keys=["a", "b"], code_version_by_asset_key=keys, provenance_by_asset_key=keys)
    with pytest.raises(DagsterPipesError, match=f"`{prop}` is undefined. Current step targets multiple assets."):
        getattr(context, prop)


def test_a_missing_extra_is_named(path: Path) -> None:
    with pytest.raises(DagsterPipesError, match="Extra `nope` is undefined"):
        open_context(path).get_extra("nope")


# ----- reporting -----


def test_reports_travel_as_dagster_pipes_sends_them(path: Path, hotpath: ModuleType) -> None:
    with open_context(path, asset_keys=["a", "b/c"]) as context:
        context.report_asset_materialization({"n": 1, "t": {"raw_value": "x", "type": "text"}}, "v1", asset_key="b/c")
        context.report_asset_materialization(asset_key="a", metadata={})
        context.report_asset_check("valid", passed=False, severity="WARN", metadata={"bad": 3}, asset_key="a")
        context.report_custom_message(["anything", {"json": None}])
        context.log_external_stream("stdout", "some text")
    assert read_messages(hotpath, path) == [
        {"__dagster_pipes_version": "0.1", "method": "opened", "params": {"extras": {}}},
        {
            "__dagster_pipes_version": "0.1",
            "method": "report_asset_materialization",
            "params": {
                "asset_key": "b/c",
                "data_version": "v1",
                "metadata": {"n": {"raw_value": 1, "type": "__infer__"}, "t": {"raw_value": "x", "type": "text"}},
            },
        },
        {
            "__dagster_pipes_version": "0.1",
            "method": "report_asset_materialization",
            "params": {"asset_key": "a", "data_version": None, "metadata": None},
        },
        {
            "__dagster_pipes_version": "0.1",
            "method": "report_asset_check",
            "params": {
                "asset_key": "a",
                "check_name": "valid",
                "passed": False,
                "metadata": {"bad": {"raw_value": 3, "type": "__infer__"}},
                "severity": "WARN",
            },
        },
        {
            "__dagster_pipes_version": "0.1",
            "method": "report_custom_message",
            "params": {"payload": ["anything", {"json": None}]},
        },
        {
            "__dagster_pipes_version": "0.1",
            "method": "log_external_stream",
            "params": {"stream": "stdout", "text": "some text", "extras": {}},
        },
        {"__dagster_pipes_version": "0.1", "method": "closed", "params": {}},
    ]


def test_the_only_asset_is_the_default_key(path: Path, hotpath: ModuleType) -> None:
    with open_context(path) as context:
        context.report_asset_materialization()
        context.report_asset_check("fresh", passed=True)
    assert payloads(read_messages(hotpath, path), "report_asset_check", "asset_key") == ["orders"]
    assert payloads(read_messages(hotpath, path), "report_asset_check", "severity") == ["ERROR"]


@pytest.mark.parametrize(
    ("overrides", "report", "message"),
    [
        (
            {},
            lambda c: [c.report_asset_materialization(), c.report_asset_materialization()],
            "Calling `report_asset_materialization` with asset key `orders` is undefined. Asset has already been materialized",
        ),
        (
            {},
            lambda c: c.report_asset_materialization(asset_key="elsewhere"),
            "Invalid asset key. Expected one of `['orders']`, got `elsewhere`.",
        ),
        (
            {"asset_keys": ["a", "b"]},
            lambda c: c.report_asset_check("c", True),
            "Calling `report_asset_check` without passing an asset key is undefined. Current step targets multiple assets.",
        ),
        (
            {"asset_keys": None},
            lambda c: c.report_asset_materialization(),
            "Calling `report_asset_materialization` without passing an asset key is undefined. Current step does not"
            " target a specific asset.",
        ),
        (
            {},
            lambda c: c.report_asset_materialization(asset_key=["orders"]),
            "Invalid type for parameter `asset_key` of `report_asset_materialization`. Expected `Optional[<class 'str'>]`",
        ),
        (
            {},
            lambda c: c.report_asset_materialization(data_version=1),
            "Invalid type for parameter `data_version` of `report_asset_materialization`",
        ),
        (
            {},
            lambda c: c.report_asset_materialization(metadata=[("a", 1)]),
            "Invalid type for parameter `metadata` of `report_asset_materialization`. Expected `<class 'dict'>`",
        ),
        (
            {},
            lambda c: c.report_asset_materialization(metadata={1: "one"}),
            "Expected a dict with string keys, got a key `1`",
        ),
        (
            {},
            lambda c: c.report_asset_materialization(metadata={"m": {"value": 1}}),
            "values that are either raw metadata values or dictionaries with schema `{raw_value: ..., type: ...}`",
        ),
        (
            {},
            lambda c: c.report_asset_check("c", True, metadata={"m": {"raw_value": 1, "type": "integer"}}),
            "Invalid value for parameter `metadata.m.type` of `report_asset_check`. Expected one of",
        ),
        (
            {},
            lambda c: c.report_asset_check("c", True, severity="INFO"),
            "Invalid value for parameter `severity` of `report_asset_check`. Expected one of `('WARN', 'ERROR')`, got `'INFO'`.",
        ),
        (
            {},
            lambda c: c.report_asset_check("c", passed="yes"),
            "Invalid type for parameter `passed` of `report_asset_check`",
        ),
        (
            {},
            lambda c: c.report_asset_check(7, passed=True),
            "Invalid type for parameter `check_name` of `report_asset_check`",
        ),
        (
            {},
            lambda c: c.report_custom_message({"when": {1, 2}}),
            "Cannot send the `report_custom_message` message: params['payload']['when'] is of type `set`, which is not"
            " JSON-serializable.",
        ),
        (
            {},
            lambda c: c.report_asset_materialization(metadata={"m": {"raw_value": object(), "type": "json"}}),
            "params['metadata']['m']['raw_value'] is of type `object`",
        ),
        (
            {},
            lambda c: c.log_external_stream("stdout", "t", extras={(1, 2): "tuple key"}),
            "params['extras'] has a key of type `tuple`, which JSON cannot write as an object key",
        ),
    ],
)
def test_bad_reports_are_refused_with_a_clear_message_and_nothing_is_sent(
    path: Path, hotpath: ModuleType, overrides: dict[str, Any], report: Any, message: str
) -> None:
    with open_context(path, **overrides) as context:
        with pytest.raises(DagsterPipesError) as raised:
            report(context)
        context.report_custom_message("still usable")
    assert message in str(raised.value)
    methods = [m["method"] for m in read_messages(hotpath, path)]
    assert methods[-2:] == ["report_custom_message", "closed"]
    assert methods.count("report_asset_materialization") <= 1


def test_a_value_that_contains_itself_is_refused(path: Path) -> None:
    looped: list[Any] = []
    looped.append(looped)
    with pytest.raises(DagsterPipesError, match=r"params\['payload'\]\[0\] contains itself"):
        open_context(path).report_custom_message(looped)


def test_the_log_sends_every_level_with_exceptions_formatted(path: Path, hotpath: ModuleType) -> None:
    with open_context(path) as context:
        assert isinstance(context.log, logging.Logger)
        context.log.debug("d %s", 1)
        context.log.warning("w")
        try:
            raise RuntimeError("inside")
        except RuntimeError:
            context.log.exception("failed")
    logs = payloads(read_messages(hotpath, path), "log")
    assert logs[:2] == [{"message": "d 1", "level": "DEBUG"}, {"message": "w", "level": "WARNING"}]
    assert logs[2]["level"] == "ERROR"
    assert logs[2]["message"].startswith("failed\nTraceback (most recent call last):")
    assert logs[2]["message"].endswith("RuntimeError: inside")


# ----- closing -----


def test_closing_is_final_and_idempotent(path: Path, hotpath: ModuleType) -> None:
    context = open_context(path)
    assert not context.is_closed
    context.close()
    context.close()
    assert context.is_closed
    for report in (lambda: context.report_custom_message(1), lambda: context.log.info("late")):
        with pytest.raises(DagsterPipesError, match="Cannot send message after pipes context is closed."):
            report()
    assert [m["method"] for m in read_messages(hotpath, path)] == ["opened", "closed"]


def test_an_exception_leaving_the_block_is_reported_in_closed(path: Path, hotpath: ModuleType) -> None:
    with pytest.raises(ValueError, match="outer"), open_context(path):
        try:
            raise KeyError("inner")
        except KeyError:
            raise ValueError("outer")  # noqa: B904 - the context, not the cause, is what is tested
    closed = read_messages(hotpath, path)[-1]["params"]["exception"]
    assert (closed["name"], closed["message"], closed["cause"]) == ("ValueError", "ValueError: outer\n", None)
    assert closed["context"]["name"] == "KeyError"
    assert any("raise ValueError" in frame for frame in closed["stack"])


def test_close_reports_an_exception_given_as_dagster_pipes_does(path: Path, hotpath: ModuleType) -> None:
    exception = {"message": "m", "stack": ["s"], "name": "N", "cause": None, "context": None}
    open_context(path).close(exception)  # type: ignore[arg-type]
    assert read_messages(hotpath, path)[-1]["params"] == {"exception": exception}


# ----- the process-wide context -----


def test_open_dagster_pipes_makes_one_context_per_process(
    path: Path, no_instance: None, monkeypatch: pytest.MonkeyPatch, hotpath: ModuleType
) -> None:
    assert not PipesContext.is_initialized()
    with pytest.raises(DagsterPipesError, match="You must call `open_dagster_pipes\\(\\)`"):
        PipesContext.get()
    monkeypatch.setenv("DAGSTER_PIPES_CONTEXT", encode_param({"data": context_data()}))
    monkeypatch.setenv("DAGSTER_PIPES_MESSAGES", encode_param({"path": str(path)}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        context = open_dagster_pipes()
    assert open_pipes() is context is PipesContext.get()
    context.close()
    assert [m["method"] for m in read_messages(hotpath, path)] == ["opened", "closed"]


def test_without_an_orchestrator_everything_is_a_no_op_after_one_warning(
    no_instance: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAGSTER_PIPES_CONTEXT", raising=False)
    with pytest.warns(DagsterPipesWarning, match="not launched by a Dagster orchestration process") as caught:
        context = open_dagster_pipes()
    assert len(caught) == 1 and caught[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert open_dagster_pipes() is context
        with context as same:
            same.report_asset_materialization(metadata={"a": 1})
            same.log.info("nowhere")
            assert same.asset_key is same.asset_key and same.is_closed
            assert list(same.asset_keys) == [] and len(same.extras) == 0
            assert same.get_extra("anything")["deeper"] is same.get_extra("else")["other"]


def test_a_param_loader_that_finds_no_params_also_gives_the_no_op(no_instance: None) -> None:
    with pytest.warns(DagsterPipesWarning):
        context = open_dagster_pipes(params_loader=PipesMappingParamsLoader({}))
    assert not isinstance(context, PipesContext)


def test_the_public_surface_matches_dagster_pipes() -> None:
    """Every public property and method of dagster_pipes.PipesContext exists here too."""
    theirs = {name for name in dir(dagster_pipes.PipesContext) if not name.startswith("_")}
    ours = {name for name in dir(PipesContext) if not name.startswith("_")}
    assert theirs <= ours
    assert isinstance(PipesEnvVarParamsLoader(), PipesMappingParamsLoader)
