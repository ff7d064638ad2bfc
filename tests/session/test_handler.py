"""The message handler: each method, and messages it must skip without stopping the stream."""

from __future__ import annotations

import logging
import os

import pytest
from support.helpers import capturing_logger

from pipes_fast import AssetCheckResult, AssetCheckSeverity, AssetKey, MaterializeResult, MetadataValue, StepContext
from pipes_fast.handler import PipesMessageHandler
from pipes_fast.protocol import make_message
from pipes_fast.readers import PipesTempFileMessageReader


@pytest.fixture
def logged():
    return capturing_logger("handler")


@pytest.fixture
def handler(logged):
    logger, _ = logged
    return PipesMessageHandler(StepContext(["db/orders", "raw"], log=logger), PipesTempFileMessageReader())


def handle(handler, messages):
    """Feed decoded messages one at a time, as a custom reader does."""
    for message in messages:
        handler.handle_message(message)


def mat(key="db/orders", **params):
    return make_message(
        "report_asset_materialization", {"asset_key": key, "metadata": None, "data_version": None, **params}
    )


def test_materializations_and_checks(handler):
    handle(
        handler,
        [
            mat(metadata={"rows": {"raw_value": 3, "type": "__infer__"}}, data_version="v1"),
            make_message(
                "report_asset_check",
                {"asset_key": "raw", "check_name": "fresh", "passed": False, "severity": "WARN", "metadata": {}},
            ),
        ],
    )
    assert handler.drain_results() == [
        MaterializeResult(AssetKey(["db", "orders"]), {"rows": MetadataValue("int", 3)}, "v1"),
        AssetCheckResult(AssetKey("raw"), "fresh", False, AssetCheckSeverity.WARN, {}),
    ]
    assert handler.drain_results() == []


def test_custom_messages_in_order_and_drained(handler):
    handle(handler, [make_message("report_custom_message", {"payload": p}) for p in (1, None, {"a": [1]})])
    assert handler.get_custom_messages() == (1, None, {"a": [1]})
    assert handler.drain_custom_messages() == [1, None, {"a": [1]}]
    assert handler.get_custom_messages() == ()


@pytest.mark.parametrize(
    ("message", "warning"),
    [
        (mat(key="elsewhere"), "asset key 'elsewhere' is not one of the step's assets: ['db/orders', 'raw']"),
        (mat(key=["db", "orders"]), "param 'asset_key' must be str"),
        (mat(data_version=5), "param 'data_version' must be str or null"),
        (mat(metadata={"m": 1}), "metadata entry 'm' must be an object"),
        (
            make_message("report_asset_check", {"asset_key": "raw", "check_name": "c", "passed": "yes"}),
            "param 'passed' must be bool",
        ),
        (
            make_message(
                "report_asset_check", {"asset_key": "raw", "check_name": "c", "passed": True, "severity": "BAD"}
            ),
            "param 'severity' must be 'WARN' or 'ERROR'",
        ),
        (make_message("report_custom_message", {}), "missing param 'payload'"),
        (make_message("report_custom_message", None), "missing param 'payload'"),
        (make_message("log", {"message": "m", "level": "LOUD"}), "unknown log level 'LOUD'"),
        (
            make_message("log_external_stream", {"stream": "stdnone", "text": "x"}),
            "param 'stream' must be 'stdout' or 'stderr'",
        ),
        (make_message("teleport", {}), "unknown method 'teleport'"),  # type: ignore[arg-type]
    ],
)
def test_a_message_that_cannot_be_handled_is_a_warning_and_the_stream_goes_on(handler, logged, message, warning):
    handle(handler, [message, mat()])
    warnings = logged[1].messages(logging.WARNING)
    assert len(warnings) == 1 and warning in warnings[0]
    assert handler.drain_results() == [MaterializeResult(AssetKey(["db", "orders"]))]


def test_an_op_step_takes_no_materializations(logged):
    handler = PipesMessageHandler(StepContext(log=logged[0]), PipesTempFileMessageReader())
    handle(handler, [mat()])
    assert handler.drain_results() == []
    assert "none (an op step)" in logged[1].messages(logging.WARNING)[0]


def test_logs_go_to_the_context_logger_at_their_level(handler, logged):
    levels = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
    handle(handler, [make_message("log", {"message": f"at {lv}", "level": lv}) for lv in levels])
    assert [(r.levelname, r.getMessage()) for r in logged[1].records] == [(lv, f"at {lv}") for lv in levels]


def test_external_streams_go_to_stdout_and_stderr(handler, capfd):
    handle(
        handler,
        [
            make_message("log_external_stream", {"stream": "stdout", "text": "to out\n", "extras": {}}),
            make_message("log_external_stream", {"stream": "stderr", "text": "to err\n", "extras": {}}),
        ],
    )
    out, err = capfd.readouterr()
    assert "to out\n" in out and "to err\n" in err


def test_opened_and_closed_with_an_exception(handler, logged):
    exception = {
        "message": "boom",
        "stack": ["  File x, line 1\n"],
        "name": "ValueError",
        "cause": {"message": "root", "stack": [], "name": "KeyError", "cause": None, "context": None},
        "context": None,
    }
    handle(handler, [make_message("opened", {"extras": {"a": 1}}), make_message("closed", {"exception": exception})])
    assert handler.received_opened_message and handler.received_closed_message
    assert handler.opened_payload == {"extras": {"a": 1}}
    assert handler.exception == exception
    (error,) = logged[1].messages(logging.ERROR)
    assert "ValueError: boom" in error and "File x, line 1" in error and "KeyError: root" in error


def test_messages_after_closed_are_handled_with_a_warning(handler, logged):
    handle(handler, [make_message("closed", {}), mat()])
    assert "received after closed" in logged[1].messages(logging.WARNING)[0]
    assert len(handler.drain_results()) == 1


@pytest.mark.reliability("handler-exceptions")
@pytest.mark.parametrize(
    ("message", "warning"),
    [
        (make_message("log", {"message": 5, "level": "INFO"}), "param 'message' must be str"),
        (make_message("log", {"message": "m", "level": 7}), "unknown log level 7"),
        (make_message("closed", {"exception": {"message": "m", "stack": 5, "cause": "x", "name": 3}}), None),
        (make_message("closed", {"exception": "just text"}), None),
        (make_message("opened", [1, 2]), None),
        ({"__dagster_pipes_version": "0.1", "method": ["not", "a", "str"], "params": {}}, "unknown method"),
        (5, "not a message (got int)"),
    ],
)
def test_wrongly_typed_messages_never_stop_the_stream(handler, logged, message, warning):
    handle(handler, [message, mat()])
    assert handler.drain_results() == [MaterializeResult(AssetKey(["db", "orders"]))]
    warnings = logged[1].messages(logging.WARNING)
    if warning:
        assert len(warnings) == 1 and warning in warnings[0]


@pytest.mark.reliability("handler-exceptions")
def test_a_wrongly_typed_exception_is_still_shown(handler, logged):
    exception = {"message": "m", "stack": 5, "cause": "x", "name": 3, "context": {"message": "inner", "stack": ["s\n"]}}
    handle(handler, [make_message("closed", {"exception": exception})])
    (error,) = logged[1].messages(logging.ERROR)
    assert "3: m" in error and "5" in error and "Exception: inner" in error
    assert handler.received_closed_message and handler.exception == exception


@pytest.mark.reliability("handler-exceptions")
def test_text_the_terminal_cannot_encode_is_written_escaped():
    """A lone surrogate in log_external_stream text, with a strict UTF-8 stdout (a pipe)."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        from pipes_fast import PipesTempFileMessageReader, StepContext
        from pipes_fast.handler import PipesMessageHandler
        from pipes_fast.protocol import make_message
        handler = PipesMessageHandler(StepContext(["a"]), PipesTempFileMessageReader())
        handler.handle_message(make_message("log_external_stream", {"stream": "stdout", "text": "bad \\ud800 end\\n"}))
        handler.handle_message(make_message("report_asset_materialization", {"asset_key": "a"}))
        print(len(handler.drain_results()), handler.skipped_message_count)
    """)
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONIOENCODING": "utf-8:strict"},
        check=True,
    ).stdout
    assert out == "bad \\ud800 end\n1 0\n"


@pytest.mark.reliability("handler-exceptions")
def test_a_closed_stdout_is_a_warning_and_the_stream_goes_on(handler, logged, monkeypatch):
    import io

    closed_stream = io.StringIO()
    closed_stream.close()
    monkeypatch.setattr("sys.stdout", closed_stream)
    text = make_message("log_external_stream", {"stream": "stdout", "text": "x", "extras": {}})
    handle(handler, [text, mat()])
    (warning,) = logged[1].messages(logging.WARNING)
    assert "ValueError: I/O operation on closed file" in warning and "log_external_stream" in warning
    assert len(handler.drain_results()) == 1


@pytest.mark.reliability("handler-exceptions")
def test_unknown_methods_and_late_messages_get_capped_warnings(handler, logged):
    handle(handler, [make_message("teleport", {}) for _ in range(150)])  # type: ignore[arg-type]
    handle(handler, [make_message("closed", {})] + [mat() for _ in range(150)])
    warnings = logged[1].messages(logging.WARNING)
    assert len(warnings) == 101 and warnings[-1].endswith("counting them silently")
    assert handler.skipped_message_count == 300
    assert len(handler.drain_results()) == 150  # late materializations are still delivered
