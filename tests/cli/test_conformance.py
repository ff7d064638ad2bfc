"""The conformance checker behind ``pipes-fast check``.

Real clients (dagster-pipes and pipes_fast.external) must pass in every standard case; scripted
broken clients (tests/support/scripts/emit.py writing raw lines where the bootstrap says) must each be
reported with exactly the rule they break, at the offending line; and ``validate_stream`` is
checked on lines directly.
"""

from __future__ import annotations

import json
import re
import runpy
import sys
from pathlib import Path
from typing import Any, Optional

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import SCRIPTS
from support.helpers import closed, line, materialization, opened, script
from support.strategies import json_values, messages

from pipes_fast import testing as pipes_testing
from pipes_fast.conformance import (
    RULES,
    STANDARD_CASES,
    CaseReport,
    check_command,
    format_report,
    reports_as_json,
    validate_stream,
)
from pipes_fast.conformance.cases import OP, SEVERAL_ASSETS, SINGLE_ASSET, Case
from pipes_fast.conformance.metadata import VALUE_CHECKS
from pipes_fast.errors import PipesExecutionError
from pipes_fast.protocol import METHODS

REPORTING_CLIENT = str(SCRIPTS / "reporting_client.py")
TIMEOUT = 60.0

LOG = line("log", {"message": "hello", "level": "INFO"})
TRACEBACK = 'Traceback (most recent call last):\n  File "client.py", line 3, in <module>\nValueError: boom\n'


def run_client(
    tmp_path: Path, steps: list[dict[str, Any]], case: Case = SINGLE_ASSET, timeout: float = TIMEOUT
) -> CaseReport:
    """The report of a scripted client (emit.py steps) run under one case."""
    [report] = check_command(script(tmp_path, steps), [case], timeout=timeout)
    return report


def writes(*lines: str | bytes) -> list[dict[str, Any]]:
    """emit.py steps writing these lines (text, or raw bytes), each with its newline."""
    return [
        {"write": (text.encode() if isinstance(text, str) else text).rstrip(b"\n").decode("latin-1") + "\n"}
        for text in lines
    ]


def found(report_or_violations: Any) -> list[tuple[str, Optional[int]]]:
    violations = getattr(report_or_violations, "violations", report_or_violations)
    return [(violation.rule, violation.line) for violation in violations]


def warned(report: CaseReport) -> list[tuple[str, Optional[int]]]:
    return [(warning.rule, warning.line) for warning in report.warnings]


# ----- real clients pass -----


def expected_lines(case: Case) -> int:
    """What reporting_client.py writes: opened, two logs, a custom message, an external stream
    message, per asset a materialization and two checks, closed."""
    return 6 + 3 * len(case.context["asset_keys"] or ())


def test_the_reporting_client_sends_every_metadata_type() -> None:
    metadata = runpy.run_path(REPORTING_CLIENT)["METADATA"]
    typed = {entry["type"] for entry in metadata.values() if isinstance(entry, dict)}
    assert typed == VALUE_CHECKS.keys()


@pytest.mark.parametrize("module", ["dagster_pipes", "pipes_fast.external"])
def test_a_client_using_every_method_and_metadata_type_passes_every_case(module: str) -> None:
    pytest.importorskip(module)
    reports = check_command([sys.executable, REPORTING_CLIENT, module], timeout=TIMEOUT)
    assert [report.case for report in reports] == [case.name for case in STANDARD_CASES]
    assert all(report.passed for report in reports), format_report(reports)
    assert [(report.lines, report.exit_status) for report in reports] == [
        (expected_lines(case), 0) for case in STANDARD_CASES
    ]
    assert format_report(reports).splitlines()[-1] == f"{len(STANDARD_CASES)} of {len(STANDARD_CASES)} cases passed"


@pytest.mark.parametrize("module", ["dagster_pipes", "pipes_fast.external"])
def test_a_client_that_raises_closes_with_a_conforming_exception(module: str) -> None:
    pytest.importorskip(module)
    [report] = check_command([sys.executable, REPORTING_CLIENT, module, "--fail"], [SINGLE_ASSET], timeout=TIMEOUT)
    # the closed message carries the exception in a shape that breaks no rule: only the exit status fails it
    assert found(report) == [("exit-status", None)]
    assert warned(report) == [("stderr-traceback", None)]
    assert report.lines == expected_lines(SINGLE_ASSET)
    assert report.exit_status == 1
    assert "ValueError: the client failed on purpose" in report.stderr_tail


# ----- broken clients are named -----

BROKEN_CLIENTS = [
    pytest.param(writes(materialization("orders"), closed()), SINGLE_ASSET, [("missing-opened", None)], id="no-opened"),
    pytest.param(
        writes(opened(), materialization("orders")), SINGLE_ASSET, [("missing-closed", None)], id="missing-closed"
    ),
    pytest.param(
        writes(opened(), '{"method":"log","params":{"message":"hi","level":"INFO"}}', closed()),
        SINGLE_ASSET,
        [("missing-version", 2)],
        id="missing-version",
    ),
    pytest.param(
        writes(opened(), '{"__dagster_pipes_version":"0.1","method":"log"}', closed()),
        SINGLE_ASSET,
        [("envelope", 2)],
        id="missing-params",
    ),
    pytest.param(
        writes(opened(), line("report_asset_observation", {"asset_key": "orders"}), closed()),
        SINGLE_ASSET,
        [("unknown-method", 2)],
        id="unknown-method",
    ),
    pytest.param(
        writes(
            opened(),
            line(
                "report_asset_check",
                {"asset_key": "orders", "check_name": "c", "passed": "yes", "severity": "ERROR", "metadata": None},
            ),
            closed(),
        ),
        SINGLE_ASSET,
        [("params", 2)],
        id="wrong-param-type",
    ),
    pytest.param(
        writes(opened(), line("log", {"message": "hi", "level": "INFO", "color": "red"}), closed()),
        SINGLE_ASSET,
        [("params", 2)],
        id="unknown-param",
    ),
    pytest.param(
        writes(opened(), materialization("orders", {"rows": {"raw_value": 3, "type": "integer"}}), closed()),
        SINGLE_ASSET,
        [("metadata-type", 2)],
        id="unknown-metadata-type",
    ),
    pytest.param(
        writes(opened(), materialization("orders", {"rows": {"raw_value": "3", "type": "int"}}), closed()),
        SINGLE_ASSET,
        [("metadata-value", 2)],
        id="metadata-value-not-its-type",
    ),
    pytest.param(
        writes(opened(), materialization("orders", {"rows": 3}), closed()),
        SINGLE_ASSET,
        [("metadata-entry", 2)],
        id="metadata-entry-not-typed",
    ),
    pytest.param(
        writes(opened(), LOG, materialization("customers"), closed()),
        SINGLE_ASSET,
        [("asset-key-outside-step", 3)],
        id="asset-key-outside-step",
    ),
    pytest.param(
        writes(opened(), materialization("orders"), closed()),
        OP,
        [("asset-key-outside-step", 2)],
        id="asset-key-in-op-step",
    ),
    pytest.param(
        writes(opened(), line("report_asset_materialization", {"data_version": None, "metadata": None}), closed()),
        SEVERAL_ASSETS,
        [("missing-asset-key", 2)],
        id="missing-asset-key-several-assets",
    ),
    pytest.param(
        writes(opened(), materialization("orders"), materialization("orders"), closed()),
        SINGLE_ASSET,
        [("duplicate-materialization", 3)],
        id="materialized-twice",
    ),
    pytest.param(
        writes(
            opened(),
            line(
                "report_asset_check",
                {"asset_key": "orders", "check_name": "c", "passed": True, "severity": "FATAL", "metadata": None},
            ),
            closed(),
        ),
        SINGLE_ASSET,
        [("check-severity", 2)],
        id="bad-severity",
    ),
    pytest.param(
        writes(
            opened(),
            b'{"__dagster_pipes_version":"0.1","method":"log","params":{"message":"\xff","level":"INFO"}}',
            closed(),
        ),
        SINGLE_ASSET,
        [("not-utf8", 2)],
        id="invalid-utf8",
    ),
    pytest.param(writes(opened(), "progress: 50%", closed()), SINGLE_ASSET, [("not-json", 2)], id="not-json"),
    pytest.param(writes(opened(), "[1, 2]", closed()), SINGLE_ASSET, [("envelope", 2)], id="not-an-object"),
    pytest.param([*writes(opened(), closed()), {"exit": 3}], SINGLE_ASSET, [("exit-status", None)], id="non-zero-exit"),
]


@pytest.mark.parametrize(("steps", "case", "expected"), BROKEN_CLIENTS)
def test_a_broken_client_is_reported_with_the_rule_it_breaks(
    tmp_path: Path, steps: list[dict[str, Any]], case: Case, expected: list[tuple[str, Optional[int]]]
) -> None:
    report = run_client(tmp_path, steps, case)
    assert found(report) == expected, format_report([report])
    assert not report.passed


WARNED_CLIENTS = [
    pytest.param(writes(LOG, opened(), closed()), [("opened-first", 2)], id="opened-not-first"),
    pytest.param(writes(opened(), opened(), closed()), [("opened-twice", 2)], id="opened-twice"),
    pytest.param(writes(opened(), closed(), LOG), [("after-closed", 3)], id="message-after-closed"),
    pytest.param(writes(opened(), LOG.replace('"0.1"', '"0.2"'), closed()), [("version", 2)], id="wrong-version"),
    pytest.param(writes(line("opened", {}), closed()), [("ignored-param", 1)], id="opened-without-extras"),
    pytest.param([*writes(opened(), closed()), {"stderr": TRACEBACK}], [("stderr-traceback", None)], id="traceback"),
]


@pytest.mark.parametrize(("steps", "expected"), WARNED_CLIENTS)
def test_what_both_orchestrators_accept_is_a_warning_that_fails_no_case(
    tmp_path: Path, steps: list[dict[str, Any]], expected: list[tuple[str, Optional[int]]]
) -> None:
    report = run_client(tmp_path, steps)
    assert report.passed and found(report) == [], format_report([report])
    assert warned(report) == expected
    text = format_report([report])
    assert text.startswith("PASS single-asset (") and ", 1 warning)" in text.splitlines()[0]
    assert f"  warning: {report.warnings[0]}" in text


def test_the_report_names_each_violation_with_its_offending_line(tmp_path: Path) -> None:
    bad_key = materialization("not_in_step")
    report = run_client(tmp_path, [*writes(opened(), bad_key, "oops"), {"exit": 2}])
    text = format_report([report])
    assert text.splitlines()[0] == "FAIL single-asset (3 message lines): 4 violations"
    assert "  line 2: [asset-key-outside-step] asset key 'not_in_step' is not one of the step's ['orders']" in text
    assert f"      {bad_key.strip()[:80]}..." in text
    assert "  line 3: [not-json] not JSON" in text
    assert "      oops" in text
    assert "  [missing-closed] the stream ends without a closed message" in text
    assert "  [exit-status] the process exited with status 2" in text
    assert text.splitlines()[-1] == "0 of 1 cases passed"

    [as_json] = json.loads(json.dumps(reports_as_json([report])))
    assert as_json["case"] == "single-asset"
    assert as_json["passed"] is False
    assert as_json["exit_status"] == 2
    assert as_json["lines"] == 3
    assert [(v["rule"], v["line"]) for v in as_json["violations"]] == found(report)
    assert as_json["violations"][1]["text"] == "oops"


@pytest.mark.parametrize(
    "stderr",
    [
        "panic: runtime error: index out of range [3] with length 3\n\ngoroutine 1 [running]:\nmain.main()\n",
        "thread 'main' panicked at src/main.rs:4:5:\nboom\n",
        'Exception in thread "main" java.lang.IllegalStateException: boom\n\tat Main.main(Main.java:3)\n',
        "** (RuntimeError) boom\n    client.exs:1: (file)\n",
    ],
    ids=["go", "rust", "java", "elixir"],
)
def test_a_crash_in_another_language_is_reported(tmp_path: Path, stderr: str) -> None:
    report = run_client(tmp_path, [*writes(opened(), closed()), {"stderr": stderr}])
    assert report.passed and warned(report) == [("stderr-traceback", None)]
    assert report.warnings[0].text == stderr.splitlines()[0]


def test_ordinary_stderr_output_is_not_a_violation(tmp_path: Path) -> None:
    report = run_client(tmp_path, [*writes(opened(), closed()), {"stderr": "warning: cache is cold\nerror count: 0\n"}])
    assert report.passed
    assert report.stderr_tail == "warning: cache is cold\nerror count: 0"


def test_a_client_that_hangs_is_killed_at_the_timeout(tmp_path: Path) -> None:
    report = run_client(tmp_path, [*writes(opened()), {"sleep": 60}], timeout=1.0)
    assert found(report) == [("missing-closed", None), ("timeout", None)]
    assert report.exit_status is None


@pytest.mark.parametrize(
    ("command", "error"), [([], "no command to check"), (["/nonexistent/client"], "cannot run '/nonexistent/client'")]
)
def test_a_command_that_cannot_run_is_a_clear_error(command: list[str], error: str) -> None:
    with pytest.raises(PipesExecutionError, match=re.escape(error)):
        check_command(command, [SINGLE_ASSET])


def test_every_case_reaches_the_client_as_its_context(tmp_path: Path) -> None:
    outputs = [tmp_path / f"{case.name}.json" for case in STANDARD_CASES]
    for case, output in zip(STANDARD_CASES, outputs):
        report = run_client(tmp_path, [{"context_to": str(output)}, *writes(opened(), closed())], case)
        assert report.passed, format_report([report])
        assert json.loads(output.read_text()) == case.context


# ----- validate_stream on lines -----


def stream(*lines: str | bytes) -> list[bytes]:
    return [(text.encode() if isinstance(text, str) else text).rstrip(b"\n") for text in lines]


def around(message: str | bytes) -> list[bytes]:
    """A stream holding ``message`` as its line 2, after opened, and closed after it unless it closes."""
    closes = b'"method":"closed"' in (message.encode() if isinstance(message, str) else message)
    return stream(opened(), message) if closes else stream(opened(), message, closed())


def check(**params: Any) -> str:
    return line(
        "report_asset_check",
        {"asset_key": "orders", "check_name": "c", "passed": True, "severity": "WARN", "metadata": None, **params},
    )


def exception(**fields: Any) -> dict[str, Any]:
    return {"message": "boom", "stack": ["  File x\n"], "name": "ValueError", "cause": None, "context": None, **fields}


GOOD_MESSAGES = [
    pytest.param(line("closed", None), id="closed-null-params"),
    pytest.param(
        closed(exception(cause=exception(name=None), context=exception())), id="closed-with-chained-exception"
    ),
    pytest.param(line("log", {"message": "m"}), id="log-without-level"),
    pytest.param(line("log", {"message": "m", "level": "warning"}), id="log-lowercase-level"),
    pytest.param(line("log_external_stream", {"stream": "stderr", "text": "x"}), id="external-stream-without-extras"),
    pytest.param(line("report_custom_message", {"payload": None}), id="custom-null-payload"),
    pytest.param(materialization("orders", None, "v2"), id="materialization-null-metadata"),
    pytest.param(check(), id="check"),
    pytest.param(
        '{"__dagster_pipes_version": "0.1", "method": "report_asset_materialization", "params": '
        '{"asset_key": "orders", "data_version": null, "metadata": {"ratio": {"raw_value": NaN, "type": "float"}}}}',
        id="json-dumps-framing-with-nan",
    ),
]


@pytest.mark.parametrize("message", GOOD_MESSAGES)
def test_a_conforming_message_breaks_nothing(message: str) -> None:
    assert validate_stream(around(message), SINGLE_ASSET.context) == []


BAD_MESSAGES = [
    pytest.param(
        '{"__dagster_pipes_version":"0.1","method":"log","params":{"message":"m"},"extra":1}',
        "extra-field",
        id="extra-envelope-key",
    ),
    pytest.param('{"__dagster_pipes_version":"0.1","method":7,"params":null}', "envelope", id="method-not-a-string"),
    pytest.param(
        '{"__dagster_pipes_version":0.1,"method":"log","params":{"message":"m"}}', "version", id="version-as-number"
    ),
    pytest.param(line("log", None), "params", id="null-params"),
    pytest.param(line("log", ["m"]), "params", id="params-not-an-object"),
    pytest.param(line("log", {"level": "INFO"}), "params", id="log-without-message"),
    pytest.param(line("log", {"message": "m", "level": "LOUD"}), "params", id="unknown-log-level"),
    pytest.param(line("log", {"message": "m", "level": None}), "params", id="null-log-level"),
    pytest.param(line("log_external_stream", {"stream": "stdlog", "text": "x"}), "params", id="unknown-stream"),
    pytest.param(line("report_custom_message", {}), "params", id="custom-without-payload"),
    pytest.param(closed(exception(stack="one string")), "params", id="exception-stack-not-a-list"),
    pytest.param(closed({"message": "boom"}), "params", id="exception-missing-fields"),
    pytest.param(
        line("report_asset_materialization", {"asset_key": "orders", "metadata": None}),
        "params",
        id="materialization-without-data-version",
    ),
    pytest.param(materialization("orders", None, 2), "params", id="data-version-not-a-string"),
    pytest.param(materialization("orders", [1]), "params", id="metadata-not-an-object"),
    pytest.param(check(asset_key=["orders"]), "params", id="asset-key-not-a-string"),
    pytest.param(check(severity=["ERROR"]), "check-severity", id="severity-not-a-string"),
    pytest.param(check(severity="warn"), "check-severity", id="severity-lowercase"),
    pytest.param(
        materialization("orders", {"m": {"raw_value": 1, "type": "int", "extra": 0}}),
        "extra-field",
        id="metadata-entry-extra-key",
    ),
    pytest.param(
        materialization("orders", {"m": {"type": "int"}}), "metadata-entry", id="metadata-entry-without-value"
    ),
    pytest.param(
        materialization("orders", {"m": {"raw_value": 1, "type": None}}), "metadata-type", id="metadata-type-null"
    ),
    pytest.param(b"", "not-json", id="blank-line"),
]


@pytest.mark.parametrize(("message", "rule"), BAD_MESSAGES)
def test_a_broken_message_breaks_its_rule_at_its_line(message: str | bytes, rule: str) -> None:
    assert found(validate_stream(around(message), SINGLE_ASSET.context)) == [(rule, 2)]


@pytest.mark.parametrize(
    ("params", "rule"),
    [
        ({}, "ignored-param"),
        (None, "ignored-param"),
        ({"extras": []}, "ignored-param"),
        ({"extras": {}, "launched": True}, "extra-field"),
    ],
)
def test_opened_params_are_ignored_by_both_sides_so_only_warned_about(params: Any, rule: str) -> None:
    assert found(validate_stream(stream(line("opened", params), closed()), SINGLE_ASSET.context)) == [(rule, 1)]


WRONG_VALUES: dict[str, list[Any]] = {
    "text": [1, None],
    "url": [["https://x"]],
    "path": [{"p": "/x"}],
    "notebook": [True],
    "md": [None],
    "dagster_run": [7],
    "asset": [["a", "b"]],
    "json": ["{}", 1, None],
    "float": ["1.5", True, None],
    "int": [1.5, True, "1"],
    "bool": [1, "true"],
    "null": [0, ""],
    "timestamp": ["2024-01-01", False],
    "table": [
        [],
        {"records": [{"a": 1}]},
        {"records": [{"a": [1]}], "schema": []},
        {"records": [], "schema": [{"name": "a"}]},
        {"records": [], "schema": [{"name": "a", "type": "int", "tags": []}]},
    ],
    "table_schema": [{"columns": {"a": "int"}}, {"columns": [{"name": 1, "type": "int"}]}],
    "table_column_lineage": [
        {"deps_by_column": []},
        {"deps_by_column": {"a": [{"asset_key": "x"}]}},
        {"deps_by_column": {"a": [{"asset_key": [], "column_name": "a"}]}},
    ],
}


def test_every_typed_metadata_type_has_wrong_values_here() -> None:
    assert WRONG_VALUES.keys() == VALUE_CHECKS.keys() - {"__infer__"}


@pytest.mark.parametrize(
    ("kind", "value"), [(kind, value) for kind, values in WRONG_VALUES.items() for value in values]
)
def test_a_metadata_value_not_of_its_type_is_named(kind: str, value: Any) -> None:
    metadata = {"m": {"raw_value": value, "type": kind}}
    [violation] = validate_stream(stream(opened(), materialization("orders", metadata), closed()), SINGLE_ASSET.context)
    assert (violation.rule, violation.line) == ("metadata-value", 2)
    assert violation.message.startswith(f"metadata 'm' of type {kind!r} needs ")


def test_an_empty_stream_misses_opened_and_closed() -> None:
    assert found(validate_stream([], SINGLE_ASSET.context)) == [("missing-opened", None), ("missing-closed", None)]


def test_every_line_after_closed_is_reported_and_still_judged() -> None:
    lines = stream(opened(), closed(), b"\xff", "not json", closed())
    assert found(validate_stream(lines, SINGLE_ASSET.context)) == [
        ("after-closed", 3),
        ("not-utf8", 3),
        ("after-closed", 4),
        ("not-json", 4),
        ("after-closed", 5),
    ]


def test_several_problems_in_one_message_are_each_named() -> None:
    message = line(
        "report_asset_check",
        {
            "asset_key": "elsewhere",
            "check_name": 1,
            "passed": True,
            "severity": "INFO",
            "metadata": {"m": {"raw_value": 1, "type": "size"}},
        },
    )
    assert found(validate_stream(stream(opened(), message, closed()), SINGLE_ASSET.context)) == [
        ("params", 2),
        ("check-severity", 2),
        ("metadata-type", 2),
        ("asset-key-outside-step", 2),
    ]


def test_escaped_asset_keys_of_the_step_are_its_own() -> None:
    keys = SEVERAL_ASSETS.context["asset_keys"]
    assert keys is not None and "raw/a\\/b" in keys
    lines = stream(opened(), *(materialization(key) for key in keys), materialization("raw/a/b"), closed())
    assert found(validate_stream(lines, SEVERAL_ASSETS.context)) == [("asset-key-outside-step", len(keys) + 2)]


# ----- properties -----

conforming_messages = st.one_of(
    st.builds(lambda payload: line("report_custom_message", {"payload": payload}), json_values),
    st.builds(lambda text: line("log", {"message": text, "level": "DEBUG"}), st.text()),
    st.builds(
        lambda check_name, values: check(
            check_name=check_name,
            metadata={name: {"raw_value": value, "type": "__infer__"} for name, value in values.items()},
        ),
        st.text(max_size=8),
        st.dictionaries(st.text(max_size=8), json_values, max_size=4),
    ),
)


def _check_name(message: str) -> Any:
    """A check's name (a check is reported once per step); the message itself for other messages."""
    decoded = json.loads(message)
    return decoded["params"]["check_name"] if decoded["method"] == "report_asset_check" else message


@given(st.lists(conforming_messages, max_size=8, unique_by=_check_name))
def test_a_stream_of_conforming_messages_breaks_nothing(middle: list[str]) -> None:
    assert validate_stream(stream(opened(), *middle, closed()), SINGLE_ASSET.context) == []


@given(st.lists(st.binary(max_size=40) | messages().map(orjson.dumps), max_size=8), st.sampled_from(STANDARD_CASES))
def test_any_lines_are_judged_without_error(lines: list[bytes], case: Case) -> None:
    violations = validate_stream(lines, case.context)
    assert all(violation.rule in RULES for violation in violations)
    assert all(violation.line is None or 1 <= violation.line <= len(lines) for violation in violations)
    numbered = [violation.line for violation in violations if violation.line is not None]
    assert numbered == sorted(numbered)


@settings(max_examples=40)  # each example draws metadata of every type: slow to generate
@given(st.data())
def test_the_valid_streams_of_pipes_fast_testing_break_nothing(data: st.DataObject) -> None:
    context = data.draw(pipes_testing.context_data())
    # an asset is materialized once per step: the generated reports leave materializations out
    body = pipes_testing.messages(
        METHODS - {"opened", "closed", "report_asset_materialization"}, context["asset_keys"] or ()
    )
    case = data.draw(pipes_testing.message_streams(body, max_messages=8))
    # and a check is reported once per step (Dagster fails the step for a second): repeats are dropped
    lines, checks = [], set()
    for data_line, message in zip(case.data.split(b"\n")[:-1], case.messages):
        check = (
            (message["params"]["asset_key"], message["params"]["check_name"])
            if message["method"] == "report_asset_check"
            else None
        )
        if check is None or check not in checks:
            lines.append(data_line)
            checks.add(check)
    assert validate_stream(lines, context) == []


@given(pipes_testing.adversarial_streams(max_lines=8))
def test_every_line_a_reader_must_report_or_refuse_is_a_violation(case: pipes_testing.StreamCase) -> None:
    lines = case.data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    context = SINGLE_ASSET.context | {"asset_keys": list(pipes_testing.DEFAULT_ASSET_KEYS)}
    flagged = {violation.line for violation in validate_stream(lines, context)}
    # the case numbers its lines among the non-blank ones
    non_blank = [number for number, line in enumerate(lines, 1) if line not in (b"", b"\r")]
    assert {non_blank[number - 1] for number in case.bad_lines + case.skipped_lines} <= flagged
