"""pipes_fast.testing: its strategies against pipes_fast's real reader, dagster-pipes and Dagster."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from typing import Any

import dagster_pipes
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from support.conversions import dagster_results, pipes_fast_results

from pipes_fast import AssetKey, MaterializeResult
from pipes_fast.protocol import make_message
from pipes_fast.testing import (
    ADVERSARIAL_KINDS,
    FRAMINGS,
    StreamCase,
    adversarial_streams,
    asset_keys,
    context_data,
    deliver,
    encode_message,
    feed,
    json_values,
    message_streams,
    messages,
    metadata,
    metadata_values,
    split_writes,
)


def _only(method: str, case: StreamCase) -> list[Any]:
    return [message["params"] for message in case.messages if message["method"] == method]


def test_importing_pipes_fast_does_not_import_hypothesis() -> None:
    """Every module but pipes_fast.testing (and the Dagster adapter, which needs Dagster) imports
    without hypothesis; pipes_fast.testing imports it."""
    code = (  # pkgutil.walk_packages would import pipes_fast.testing itself, to walk it
        "import importlib, pathlib, sys, pipes_fast\n"
        "root = pathlib.Path(pipes_fast.__file__).parent\n"
        "for path in sorted(root.rglob('*.py')):\n"
        "    name = '.'.join(('pipes_fast',) + path.relative_to(root).with_suffix('').parts).removesuffix('.__init__')\n"
        "    if not name.startswith(('pipes_fast.testing', 'pipes_fast.dagster')) and not name.endswith('__main__'):\n"
        "        importlib.import_module(name)\n"
        "print('hypothesis' in sys.modules)\n"
        "import pipes_fast.testing\n"
        "print('hypothesis' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]


@settings(max_examples=60)
@given(case=message_streams(), data=st.data())
def test_every_valid_stream_is_delivered_whole_and_in_order_under_any_split(
    case: StreamCase, data: st.DataObject
) -> None:
    delivered = feed(data.draw(split_writes(case.data)))
    assert delivered == deliver(case.messages)
    assert (delivered.bad_line_count, delivered.skipped_lines, delivered.warnings) == (0, [], [])
    # and what was delivered is what the messages said, checked without the handler
    assert delivered.custom_messages == [params["payload"] for params in _only("report_custom_message", case)]
    assert delivered.logs == [(logging.getLevelName(p["level"]), p["message"]) for p in _only("log", case)]
    assert delivered.stdout == "".join(p["text"] for p in _only("log_external_stream", case) if p["stream"] == "stdout")
    reports = _only("report_asset_materialization", case) + _only("report_asset_check", case)
    assert sorted(r.asset_key.path for r in delivered.results) == sorted(
        AssetKey.from_escaped_user_string(p["asset_key"]).path for p in reports
    )
    assert delivered.opened == case.messages[0]["params"] and delivered.closed
    assert delivered.exception == case.messages[-1]["params"].get("exception")


def _check_adversarial(case: StreamCase, writes: list[bytes]) -> None:
    delivered = feed(writes)
    expected = deliver(case.messages)
    assert expected.warnings == []
    assert delivered == expected
    assert delivered.bad_lines == list(case.bad_lines)
    assert delivered.bad_line_count == len(case.bad_lines)
    assert delivered.skipped_lines == list(case.skipped_lines)


@settings(max_examples=60)
@given(case=adversarial_streams(), data=st.data())
def test_every_adversarial_stream_delivers_its_messages_and_reports_its_bad_lines(
    case: StreamCase, data: st.DataObject
) -> None:
    _check_adversarial(case, data.draw(split_writes(case.data)))


@pytest.mark.parametrize("kind", ADVERSARIAL_KINDS)
@settings(max_examples=8)
@given(data=st.data())
def test_each_kind_of_adversarial_line_alone(kind: str, data: st.DataObject) -> None:
    case = data.draw(adversarial_streams(kinds=[kind], max_lines=4))
    assert kind in case.kinds
    _check_adversarial(case, data.draw(split_writes(case.data)))


@settings(max_examples=40)
@given(sent=st.lists(messages(), max_size=10))
def test_messages_are_framed_as_the_dagster_pipes_writer_writes_them_and_read_back(sent: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "messages")
        channel = dagster_pipes.PipesFileMessageWriterChannel(path)
        for message in sent:
            channel.write_message(message)
        with open(path, "ab") as file:  # a stream with no messages has no file yet
            pass
        with open(path, "rb") as file:
            written = file.read()
    assert written == b"".join(encode_message(message, "dagster-pipes") + b"\n" for message in sent)
    assert feed(written) == deliver(sent)


@pytest.mark.filterwarnings("ignore::dagster.PreviewWarning")
@settings(max_examples=60)
@given(reports=st.lists(messages(["report_asset_materialization", "report_asset_check"]), min_size=1, max_size=4))
def test_reports_with_every_metadata_type_are_resolved_by_dagster_as_by_pipes_fast(reports: list[Any]) -> None:
    assert pipes_fast_results(reports) == dagster_results(reports)


@settings(max_examples=40)
@given(
    context=context_data(st.none() | st.lists(asset_keys(), min_size=1, max_size=3, unique=True)),
    reported=metadata(),
    payload=json_values(),
)
def test_context_data_is_read_by_dagster_pipes_and_its_reports_come_back(
    context: Any, reported: Any, payload: Any
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "messages")
        params = {
            dagster_pipes.DAGSTER_PIPES_CONTEXT_ENV_VAR: dagster_pipes.encode_param({"data": context}),
            dagster_pipes.DAGSTER_PIPES_MESSAGES_ENV_VAR: dagster_pipes.encode_param({"path": path}),
        }
        loader = dagster_pipes.PipesMappingParamsLoader(params)
        # PipesContext itself: open_dagster_pipes hands out the first context of the process again
        with dagster_pipes.PipesContext(
            loader, dagster_pipes.PipesDefaultContextLoader(), dagster_pipes.PipesDefaultMessageWriter()
        ) as pipes:
            for field, value in context.items():
                if value is not None and (
                    field not in ("code_version_by_asset_key", "provenance_by_asset_key") or pipes.is_asset_step
                ):
                    assert getattr(pipes, field) == value, field
            keys = context["asset_keys"]
            if keys:
                pipes.report_asset_materialization(metadata=reported, asset_key=keys[0])
            pipes.report_custom_message(payload)
        with open(path, "rb") as file:
            delivered = feed(file.read(), asset_keys=keys)
    assert delivered.closed and delivered.warnings == []
    assert delivered.custom_messages == [payload]
    if keys:
        sent = make_message(
            "report_asset_materialization", {"asset_key": keys[0], "metadata": reported, "data_version": None}
        )
        (expected,) = deliver([sent], asset_keys=keys).results
        assert delivered.results == [expected]
        assert type(expected) is type(MaterializeResult()) and expected.metadata.keys() == reported.keys()


@pytest.mark.parametrize(
    "boundary",
    [
        pytest.param(lambda data, cut: data[cut - 1 : cut] == b"\n", id="after a newline"),
        pytest.param(
            lambda data, cut: data[cut : cut + 1] == b"\n" and data[cut - 1 : cut] != b"\r", id="before a newline"
        ),
        pytest.param(lambda data, cut: data[cut - 1 : cut + 1] == b"\r\n", id="between CR and LF"),
        pytest.param(lambda data, cut: 0x80 <= data[cut] < 0xC0, id="inside a multi-byte character"),
    ],
)
def test_split_writes_cuts_at_every_kind_of_boundary(boundary: Any) -> None:
    data = '{"a": "h\u00e9llo"}\r\n{"b": "w\u00f6rld \U0001f389"}\n'.encode()

    def cuts(pieces: list[bytes]) -> list[int]:
        assert b"".join(pieces) == data
        return [sum(map(len, pieces[:i])) for i in range(1, len(pieces))]

    found = find(
        split_writes(data), lambda pieces: any(0 < cut < len(data) and boundary(data, cut) for cut in cuts(pieces))
    )
    assert b"".join(found) == data


@pytest.mark.parametrize("framing", FRAMINGS)
def test_each_framing_is_one_json_line_holding_the_message(framing: str) -> None:
    message = make_message("report_custom_message", {"payload": "h\u00e9llo \U0001f389\n"})
    line = encode_message(message, framing)
    assert b"\n" not in line and json.loads(line) == message
    assert (b"\xc3\xa9" in line) == (framing != "dagster-pipes")


def test_strategies_refuse_what_the_protocol_does_not_have() -> None:
    with pytest.raises(ValueError, match="teleport"):
        messages(["teleport"])
    with pytest.raises(ValueError, match="weird"):
        metadata_values(["weird"])
    with pytest.raises(ValueError, match="reports on assets need asset_keys"):
        messages(["report_asset_check"], asset_keys=())
    with pytest.raises(ValueError, match="kinds must be some of"):
        adversarial_streams(kinds=["nonsense"])
