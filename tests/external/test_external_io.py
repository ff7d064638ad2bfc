"""Bootstrap params, context loaders and message writers of pipes_fast.external: the defaults, the
base classes users extend, and the param codec."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import dagster_pipes
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.files import bootstrap_env, context_data, payloads, read_messages

from pipes_fast.errors import PipesParamError
from pipes_fast.external import (
    DagsterPipesError,
    PipesBufferedStreamMessageWriterChannel,
    PipesCliArgsParamsLoader,
    PipesContext,
    PipesContextLoader,
    PipesDefaultContextLoader,
    PipesDefaultMessageWriter,
    PipesEnvVarParamsLoader,
    PipesFileMessageWriterChannel,
    PipesMappingParamsLoader,
    PipesMessageWriter,
    PipesMessageWriterChannel,
    PipesStreamMessageWriterChannel,
    decode_param,
    encode_param,
)

# ----- params -----


def test_the_codec_is_dagster_pipes_byte_for_byte() -> None:
    value = {"path": "/tmp/x", "include_stdio_in_messages": True, "unicode": "é🙂", "n": [1, 2.5, None]}
    assert encode_param(value) == dagster_pipes.encode_param(value)
    assert decode_param(dagster_pipes.encode_param(value)) == value


def test_the_codec_refuses_bad_input_clearly() -> None:
    with pytest.raises(DagsterPipesError, match="not JSON-serialisable"):
        encode_param({"s": {1}})
    with pytest.raises(PipesParamError, match="not valid base64"):
        decode_param("not base64 !")


def test_params_come_from_a_mapping_the_environment_or_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    env = bootstrap_env({"run_id": "r"}, {"path": "/m"})
    mapping = PipesMappingParamsLoader(env)
    assert mapping.is_dagster_pipes_process()
    assert (mapping.load_context_params(), mapping.load_messages_params()) == (
        {"data": {"run_id": "r"}},
        {"path": "/m"},
    )

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert PipesEnvVarParamsLoader().load_messages_params() == {"path": "/m"}

    argv = [
        "script.py",
        "--dagster-pipes-context",
        env["DAGSTER_PIPES_CONTEXT"],
        f"--dagster-pipes-messages={env['DAGSTER_PIPES_MESSAGES']}",
    ]
    cli = PipesCliArgsParamsLoader(argv)
    assert cli.is_dagster_pipes_process()
    assert (cli.load_context_params(), cli.load_messages_params()) == ({"data": {"run_id": "r"}}, {"path": "/m"})
    monkeypatch.setattr("sys.argv", argv)
    assert PipesCliArgsParamsLoader().load_messages_params() == {"path": "/m"}


def test_a_missing_param_is_named() -> None:
    loader = PipesMappingParamsLoader({"DAGSTER_PIPES_CONTEXT": encode_param({"data": {}})})
    with pytest.raises(DagsterPipesError, match="DAGSTER_PIPES_MESSAGES was not passed"):
        loader.load_messages_params()
    with pytest.raises(DagsterPipesError, match="--dagster-pipes-messages was not passed"):
        PipesCliArgsParamsLoader(["--dagster-pipes-context", "x"]).load_messages_params()


# hostile params: arbitrary text, and every JSON value that is not an object, encoded
not_an_object = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=10,
).filter(lambda value: not isinstance(value, dict))
hostile_params = st.text() | not_an_object.map(encode_param)


@pytest.mark.reliability("bootstrap-errors")
@settings(deadline=None, max_examples=200)
@given(value=hostile_params, param=st.sampled_from(["context", "messages"]), cli=st.booleans())
def test_hostile_params_raise_a_dagster_pipes_error_naming_them(value: str, param: str, cli: bool) -> None:
    name = f"--dagster-pipes-{param}" if cli else f"DAGSTER_PIPES_{param.upper()}"
    loader = PipesCliArgsParamsLoader([f"{name}={value}"]) if cli else PipesMappingParamsLoader({name: value})
    try:
        loaded = loader.load_context_params() if param == "context" else loader.load_messages_params()
    except DagsterPipesError as error:
        assert str(error).startswith(f"Invalid {param} params in {name}: ")
    else:
        assert isinstance(loaded, dict)


@pytest.mark.reliability("bootstrap-errors")
def test_a_flag_without_a_value_is_refused_not_taken_for_no_orchestrator() -> None:
    loader = PipesCliArgsParamsLoader(["script.py", "--dagster-pipes-context"])
    assert loader.is_dagster_pipes_process()  # as dagster-pipes decides
    with pytest.raises(DagsterPipesError, match="Invalid context params in --dagster-pipes-context: .*it is empty"):
        loader.load_context_params()


OPEN_PIPES = "from {module} import open_dagster_pipes\nwith open_dagster_pipes():\n    pass\n"


def _last_error_line(module: str, env: Mapping[str, str]) -> str:
    """The last stderr line of a real external process that opens Pipes with ``module``."""
    process = subprocess.run(
        [sys.executable, "-c", OPEN_PIPES.format(module=module)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.returncode != 0
    return process.stderr.strip().splitlines()[-1]


@pytest.mark.reliability("bootstrap-errors")
@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (encode_param([1, 2]), 'expected a JSON object such as {"path": ...}, received [1, 2]'),
        (encode_param("path"), "received 'path'"),
        (encode_param(5), "received 5"),
        (encode_param(None), "received None"),
        ("", "cannot decode param: it is empty"),
        ("%%%", "cannot decode param: not valid base64"),
        (base64.b64encode(zlib.compress(b"9" * 5000)).decode(), "integer string conversion"),
    ],
    ids=["list", "string", "number", "null", "empty", "base64", "big-integer"],
)
@pytest.mark.parametrize("param", ["context", "messages"])
def test_an_external_process_given_hostile_params_fails_naming_them(
    tmp_path: Path, value: str, shown: str, param: str
) -> None:
    env = bootstrap_env({}, {"path": str(tmp_path / "messages")})
    name = f"DAGSTER_PIPES_{param.upper()}"
    env[name] = value
    line = _last_error_line("pipes_fast.external", env)
    assert line.startswith(f"pipes_fast.external.errors.DagsterPipesError: Invalid {param} params in {name}: ")
    assert shown in line


@pytest.mark.reliability("bootstrap-errors")
def test_params_that_are_a_list_are_refused_as_dagster_pipes_refuses_them(tmp_path: Path) -> None:
    env = {**bootstrap_env({}, {"path": str(tmp_path / "messages")}), "DAGSTER_PIPES_CONTEXT": encode_param([1, 2])}
    theirs = _last_error_line("dagster_pipes", env)
    ours = _last_error_line("pipes_fast.external", env)
    assert theirs.startswith("dagster_pipes.DagsterPipesError: ") and theirs.endswith("received [1, 2]")
    assert ours.startswith("pipes_fast.external.errors.DagsterPipesError: ") and "received [1, 2]" in ours


# ----- context loaders -----


def test_the_context_comes_from_a_file_or_from_the_params(tmp_path: Path) -> None:
    data = context_data(extras={"big": 2**70, "nan": float("nan")})
    file = tmp_path / "context.json"
    file.write_text(json.dumps(data))  # as Dagster writes it: json.dump, NaN and all
    with PipesDefaultContextLoader().load_context({"path": str(file)}) as loaded:
        assert loaded["extras"]["big"] == 2**70 and loaded["extras"]["nan"] != loaded["extras"]["nan"]
    with PipesDefaultContextLoader().load_context({"data": {"run_id": "r"}}) as loaded:
        assert loaded == {"run_id": "r"}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "Invalid params for PipesDefaultContextLoader, expected key 'path' or 'data', received {}"),
        (
            {"path": 1},
            "Invalid type for parameter `path` passed from orchestration side to `PipesDefaultContextLoader`",
        ),
        (
            {"data": []},
            "Invalid type for parameter `data` passed from orchestration side to `PipesDefaultContextLoader`",
        ),
    ],
)
def test_bad_context_params_are_named(params: dict[str, Any], message: str) -> None:
    with pytest.raises(DagsterPipesError, match=message.replace("{", r"\{").replace("}", r"\}")):
        PipesDefaultContextLoader().load_context(params)


# ----- message writers -----


def test_stdio_writers_write_json_lines_to_the_stream(capsys: pytest.CaptureFixture[str]) -> None:
    message: Any = {"__dagster_pipes_version": "0.1", "method": "log", "params": {"message": "é", "level": "INFO"}}
    with PipesDefaultMessageWriter().open({"stdio": "stderr"}) as channel:
        channel.write_message(message)
        assert capsys.readouterr().err == json.dumps(message) + "\n"
    with PipesDefaultMessageWriter().open({"buffered_stdio": "stdout"}) as channel:
        channel.write_message(message)
        channel.write_message(message)
        assert capsys.readouterr().out == ""
    assert capsys.readouterr().out == 2 * (json.dumps(message) + "\n")


def test_a_buffered_channel_refuses_a_bad_message_when_it_is_written() -> None:
    stream = io.StringIO()
    channel = PipesBufferedStreamMessageWriterChannel(stream)
    with pytest.raises(DagsterPipesError, match="params is of type `bytes`"):
        channel.write_message({"method": "report_custom_message", "params": b"bytes"})  # type: ignore[typeddict-item]
    channel.flush()
    assert stream.getvalue() == ""


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"stdio": "stdin"}, "Invalid value for key 'stdio', expected 'stderr' or 'stdout' but received 'stdin'"),
        (
            {"path": 3},
            "Invalid type for parameter `path` passed from orchestration side to `PipesDefaultMessageWriter`",
        ),
        (
            {"bucket": "b"},
            "expected key 'path', 'stdio' or 'buffered_stdio', received {'bucket': 'b'}. The orchestration"
            " side's message reader may expect a different message writer",
        ),
    ],
)
def test_bad_message_params_are_named(params: dict[str, Any], message: str) -> None:
    with pytest.raises(DagsterPipesError) as raised:
        PipesDefaultMessageWriter().open(params)
    assert message in str(raised.value)


def test_the_file_channel_appends_to_what_is_there(tmp_path: Path, hotpath: ModuleType) -> None:
    path = tmp_path / "messages.jsonl"
    path.write_text('{"__dagster_pipes_version": "0.1", "method": "opened", "params": {"extras": {}}}\n')
    with PipesFileMessageWriterChannel(str(path)) as channel:
        channel.write_message({"__dagster_pipes_version": "0.1", "method": "closed", "params": {}})
    assert [m["method"] for m in read_messages(hotpath, path)] == ["opened", "closed"]


# ----- the base classes, extended as users do -----


class ListChannel(PipesMessageWriterChannel):
    def __init__(self) -> None:
        self.messages: list[Any] = []

    def write_message(self, message: Any) -> None:
        self.messages.append(message)


class ListWriter(PipesMessageWriter[ListChannel]):
    """A writer written the dagster-pipes way: a generator context manager, opened extras."""

    def __init__(self) -> None:
        self.channel = ListChannel()

    @contextmanager
    def open(self, params: Mapping[str, Any]) -> Iterator[ListChannel]:
        yield self.channel

    def get_opened_extras(self) -> Mapping[str, Any]:
        return {"writer": "list"}


class DictLoader(PipesContextLoader):
    @contextmanager
    def load_context(self, params: Mapping[str, Any]) -> Iterator[Any]:
        yield context_data(extras=params["extras"])


def test_custom_loaders_and_writers_plug_in() -> None:
    writer = ListWriter()
    params = PipesMappingParamsLoader(
        {"DAGSTER_PIPES_CONTEXT": encode_param({"extras": {"k": "v"}}), "DAGSTER_PIPES_MESSAGES": encode_param({})}
    )
    with PipesContext(params, DictLoader(), writer) as context:
        context.report_custom_message(context.get_extra("k"))
    assert [m["method"] for m in writer.channel.messages] == ["opened", "report_custom_message", "closed"]
    assert payloads(writer.channel.messages, "opened") == [{"extras": {"writer": "list"}}]
    assert payloads(writer.channel.messages, "report_custom_message", "payload") == ["v"]


def test_a_failing_writer_releases_the_loaded_context() -> None:
    released: list[bool] = []

    class TrackedLoader(PipesContextLoader):
        @contextmanager
        def load_context(self, params: Mapping[str, Any]) -> Iterator[Any]:
            yield context_data()
            released.append(True)

    class BrokenWriter(ListWriter):
        @contextmanager
        def open(self, params: Mapping[str, Any]) -> Iterator[ListChannel]:
            raise OSError("no channel")
            yield self.channel

    params = PipesMappingParamsLoader(bootstrap_env({}, {}))
    with pytest.raises(OSError, match="no channel"):
        PipesContext(params, TrackedLoader(), BrokenWriter())
    assert released == [True]


def test_stream_channels_are_dagster_pipes_channels_in_behaviour() -> None:
    ours, theirs = io.StringIO(), io.StringIO()
    message: Any = {
        "__dagster_pipes_version": "0.1",
        "method": "report_custom_message",
        "params": {"payload": [2**70, float("inf")]},
    }
    PipesStreamMessageWriterChannel(ours).write_message(message)
    dagster_pipes.PipesStreamMessageWriterChannel(theirs).write_message(message)  # type: ignore[arg-type]
    assert ours.getvalue() == theirs.getvalue()
