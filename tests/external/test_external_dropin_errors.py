"""pipes_fast.external raises what dagster_pipes raises: each bad call below runs on both, and
where dagster-pipes raises a builtin or standard-library error (``TypeError`` from ``json.dumps``,
``KeyError`` for a missing param, ``zlib.error`` for a bad one...), pipes_fast's error is also one
(it is a DagsterPipesError as well, with a message saying what and where). Where dagster-pipes
raises its DagsterPipesError, pipes_fast raises its own; where it raises nothing, neither does
pipes_fast (the few deliberate exceptions are at the end, each with its reason)."""

from __future__ import annotations

import base64
import io
import json
import pickle
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import dagster_pipes
import pytest

import pipes_fast.external

pytestmark = pytest.mark.reliability("one-import-external")

THEIRS, OURS = dagster_pipes, pipes_fast.external


class Calls:
    """What a case needs, made with one module's classes: a context over a messages file, and a
    scratch folder. ``m`` is the module (dagster_pipes or pipes_fast.external)."""

    def __init__(self, m: ModuleType, folder: Path) -> None:
        self.m = m
        self.folder = folder
        folder.mkdir()

    def context(self, **data: Any) -> Any:
        data = {
            "asset_keys": ["a"],
            "code_version_by_asset_key": {"a": None},
            "provenance_by_asset_key": {"a": None},
            "partition_key": None,
            "partition_key_range": None,
            "partition_time_window": None,
            "run_id": "r",
            "job_name": None,
            "retry_number": 0,
            "extras": {"x": 1},
            **data,
        }
        loader = self.m.PipesMappingParamsLoader(
            {
                "DAGSTER_PIPES_CONTEXT": self.m.encode_param({"data": data}),
                "DAGSTER_PIPES_MESSAGES": self.m.encode_param({"path": str(self.folder / "messages")}),
            }
        )
        return self.m.PipesContext(loader, self.m.PipesDefaultContextLoader(), self.m.PipesDefaultMessageWriter())

    def file(self, name: str, text: str) -> str:
        path = self.folder / name
        path.write_text(text)
        return str(path)

    def message(self, payload: Any) -> Any:
        return {"__dagster_pipes_version": "0.1", "method": "report_custom_message", "params": {"payload": payload}}


def looped() -> list[Any]:
    value: list[Any] = []
    value.append(value)
    return value


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def load(loader: Any, params: Any) -> None:
    with loader.load_context(params):
        pass


def open_and_write(writer: Any, params: Any, message: Any = None) -> None:
    with writer.open(params) as channel:
        if message is not None:
            channel.write_message(message)


class S3:
    """A boto3 S3 client that is never reached (the params are refused first)."""

    def put_object(self, **kwargs: Any) -> None:
        raise AssertionError("not reached")

    def get_object(self, **kwargs: Any) -> None:
        raise AssertionError("not reached")


class Widgets(dict):  # type: ignore[type-arg]
    """``dbutils.widgets``: ``get`` gives None for a widget that is not there."""


class FileChunks:
    """A log writer channel of a user's, made with either module's base class."""

    @staticmethod
    def make(m: ModuleType, stream: str) -> Any:
        class Channel(m.PipesStdioLogWriterChannel):  # type: ignore[name-defined,misc]
            def write_chunk(self, chunk: str) -> None:
                pass

        return Channel(stream=stream, interval=0.1, name="mine")


def twice(call: Callable[[], Any]) -> None:
    call()
    call()


def closed(c: Calls) -> Any:
    context = c.context()
    context.close()
    return context


CASES: dict[str, Callable[[Calls], Any]] = {
    # ----- PipesContext: reports -----
    "custom-object": lambda c: c.context().report_custom_message(object()),
    "custom-bytes": lambda c: c.context().report_custom_message(b"bytes"),
    "custom-set": lambda c: c.context().report_custom_message({1, 2}),
    "custom-tuple-key": lambda c: c.context().report_custom_message({(1, 2): "x"}),
    "custom-contains-itself": lambda c: c.context().report_custom_message(looped()),
    "custom-too-deep": lambda c: c.context().report_custom_message(nested(sys.getrecursionlimit() * 2)),
    "custom-fine": lambda c: c.context().report_custom_message({1: float("nan"), "x": [None, True, 2**70]}),
    "materialization-metadata-object": lambda c: c.context().report_asset_materialization(metadata={"m": object()}),
    "materialization-metadata-list": lambda c: c.context().report_asset_materialization(metadata=[("m", 1)]),
    "materialization-metadata-int-key": lambda c: c.context().report_asset_materialization(metadata={1: 2}),
    "materialization-metadata-shape": lambda c: c.context().report_asset_materialization(
        metadata={"m": {"raw_value": 1}}
    ),
    "materialization-metadata-type": lambda c: c.context().report_asset_materialization(
        metadata={"m": {"raw_value": 1, "type": "nope"}}
    ),
    "materialization-raw-value-object": lambda c: c.context().report_asset_materialization(
        metadata={"m": {"raw_value": object(), "type": "json"}}
    ),
    "materialization-data-version": lambda c: c.context().report_asset_materialization(data_version=1),
    "materialization-asset-key-type": lambda c: c.context().report_asset_materialization(asset_key=1),
    "materialization-unknown-asset": lambda c: c.context().report_asset_materialization(asset_key="zzz"),
    "materialization-of-no-asset": lambda c: c.context(
        asset_keys=None, code_version_by_asset_key=None, provenance_by_asset_key=None
    ).report_asset_materialization(),
    "materialization-which-asset": lambda c: c.context(asset_keys=["a", "b"]).report_asset_materialization(),
    "materialization-twice": lambda c: twice(c.context().report_asset_materialization),
    "check-name-type": lambda c: c.context().report_asset_check(1, True),
    "check-passed-type": lambda c: c.context().report_asset_check("c", "yes"),
    "check-metadata-object": lambda c: c.context().report_asset_check("c", True, metadata={"m": object()}),
    "check-unknown-asset": lambda c: c.context().report_asset_check("c", True, asset_key="zzz"),
    "stream-text-object": lambda c: c.context().log_external_stream("stdout", object()),
    "stream-extras-object": lambda c: c.context().log_external_stream("stdout", "t", extras={"x": object()}),
    "log-an-object": lambda c: c.context().log.info(object()),
    "log-bad-format-args": lambda c: c.context().log.info("%s %s", 1),
    "extra-missing": lambda c: c.context().get_extra("nope"),
    "extra-unhashable": lambda c: c.context().get_extra(["x"]),
    "close-with-unserializable-exception": lambda c: c.context().close(
        {"message": object(), "stack": [], "name": None, "cause": None, "context": None}
    ),
    "close-twice": lambda c: twice(c.context().close),
    "custom-after-close": lambda c: closed(c).report_custom_message(1),
    "log-after-close": lambda c: closed(c).log.info("x"),
    "materialization-after-close": lambda c: closed(c).report_asset_materialization(),
    "stream-after-close": lambda c: closed(c).log_external_stream("stdout", "t"),
    # ----- PipesContext: what the step is -----
    **{
        f"{prop}-of-no-asset": (
            lambda prop: (
                lambda c: getattr(
                    c.context(asset_keys=None, code_version_by_asset_key=None, provenance_by_asset_key=None),
                    prop,  # noqa: B023 - bound by the enclosing lambda's parameter
                )
            )
        )(prop)
        for prop in (
            "asset_key",
            "asset_keys",
            "provenance",
            "provenance_by_asset_key",
            "code_version",
            "code_version_by_asset_key",
        )
    },
    **{
        f"{prop}-of-two-assets": (
            lambda prop: (
                lambda c: getattr(
                    c.context(
                        asset_keys=["a", "b"],
                        code_version_by_asset_key={"a": None, "b": None},
                        provenance_by_asset_key={"a": None, "b": None},
                    ),
                    prop,  # noqa: B023 - bound by the enclosing lambda's parameter
                )
            )
        )(prop)
        for prop in ("asset_key", "provenance", "code_version")
    },
    **{
        f"{prop}-of-no-partition": (lambda prop: lambda c: getattr(c.context(), prop))(prop)  # noqa: B023
        for prop in ("partition_key", "partition_key_range", "partition_time_window")
    },
    # ----- params -----
    "encode-object": lambda c: c.m.encode_param(object()),
    "encode-contains-itself": lambda c: c.m.encode_param(looped()),
    "encode-env-var-object": lambda c: c.m.encode_env_var(object()),
    "decode-none": lambda c: c.m.decode_param(None),
    "decode-int": lambda c: c.m.decode_param(3),
    "decode-empty": lambda c: c.m.decode_param(""),
    "decode-bad-padding": lambda c: c.m.decode_param("abc"),
    "decode-not-zlib": lambda c: c.m.decode_param(b64(b"not zlib at all")),
    "decode-truncated-zlib": lambda c: c.m.decode_param(b64(zlib.compress(b'{"path": "x"}')[:-6])),
    "decode-not-utf8": lambda c: c.m.decode_param(b64(zlib.compress(b"\xff\xfe"))),
    "decode-not-json": lambda c: c.m.decode_param(b64(zlib.compress(b"{"))),
    "decode-too-deep": lambda c: c.m.decode_param(b64(zlib.compress(b"[" * 100_000 + b"]" * 100_000))),
    "decode-env-var-not-json": lambda c: c.m.decode_env_var(b64(zlib.compress(b"nope"))),
    "mapping-no-context": lambda c: c.m.PipesMappingParamsLoader({}).load_context_params(),
    "mapping-no-messages": lambda c: c.m.PipesMappingParamsLoader({}).load_messages_params(),
    "mapping-bad-context": lambda c: c.m.PipesMappingParamsLoader(
        {"DAGSTER_PIPES_CONTEXT": "abc"}
    ).load_context_params(),
    "mapping-bad-messages": lambda c: c.m.PipesMappingParamsLoader(
        {"DAGSTER_PIPES_MESSAGES": b64(b"not zlib")}
    ).load_messages_params(),
    "widgets-no-context": lambda c: c.m.PipesDatabricksNotebookWidgetsParamsLoader(Widgets()).load_context_params(),
    "widgets-no-messages": lambda c: c.m.PipesDatabricksNotebookWidgetsParamsLoader(Widgets()).load_messages_params(),
    "widgets-bad-context": lambda c: c.m.PipesDatabricksNotebookWidgetsParamsLoader(
        Widgets(DAGSTER_PIPES_CONTEXT=b64(zlib.compress(b"{")))
    ).load_context_params(),
    # ----- context loaders -----
    "default-loader-no-key": lambda c: load(c.m.PipesDefaultContextLoader(), {}),
    "default-loader-path-type": lambda c: load(c.m.PipesDefaultContextLoader(), {"path": 1}),
    "default-loader-data-type": lambda c: load(c.m.PipesDefaultContextLoader(), {"data": []}),
    "default-loader-no-file": lambda c: load(c.m.PipesDefaultContextLoader(), {"path": str(c.folder / "nope")}),
    "default-loader-not-json": lambda c: load(c.m.PipesDefaultContextLoader(), {"path": c.file("c.json", "{")}),
    "volumes-loader-no-key": lambda c: load(c.m.PipesUnityCatalogVolumesContextLoader(), {}),
    "volumes-loader-no-file": lambda c: load(
        c.m.PipesUnityCatalogVolumesContextLoader(), {"path": str(c.folder / "x")}
    ),
    "volumes-loader-not-json": lambda c: load(c.m.PipesUnityCatalogVolumesContextLoader(), {"path": c.file("c", "[")}),
    "s3-loader-no-bucket": lambda c: load(c.m.PipesS3ContextLoader(S3()), {"key": "k"}),
    "s3-loader-key-type": lambda c: load(c.m.PipesS3ContextLoader(S3()), {"bucket": "b", "key": 1}),
    # ----- message writers and channels -----
    "default-writer-no-key": lambda c: open_and_write(c.m.PipesDefaultMessageWriter(), {}),
    "default-writer-path-type": lambda c: open_and_write(c.m.PipesDefaultMessageWriter(), {"path": 1}),
    "default-writer-stdin": lambda c: open_and_write(c.m.PipesDefaultMessageWriter(), {"stdio": "stdin"}),
    "default-writer-stdio-type": lambda c: open_and_write(c.m.PipesDefaultMessageWriter(), {"stdio": 1}),
    "default-writer-buffered-stdin": lambda c: open_and_write(
        c.m.PipesDefaultMessageWriter(), {"buffered_stdio": "in"}
    ),
    "default-writer-no-folder": lambda c: open_and_write(
        c.m.PipesDefaultMessageWriter(), {"path": str(c.folder / "no" / "m")}, c.message(1)
    ),
    "file-channel-object": lambda c: c.m.PipesFileMessageWriterChannel(str(c.folder / "m")).write_message(
        c.message(object())
    ),
    "stream-channel-object": lambda c: c.m.PipesStreamMessageWriterChannel(io.StringIO()).write_message(
        c.message(object())
    ),
    "buffered-stream-channel-object": lambda c: [
        channel.write_message(c.message({"x": object()})) or channel.flush()
        for channel in [c.m.PipesBufferedStreamMessageWriterChannel(io.StringIO())]
    ],
    "volumes-writer-no-path": lambda c: open_and_write(c.m.PipesUnityCatalogVolumesMessageWriter(interval=0.1), {}),
    "s3-writer-no-bucket": lambda c: open_and_write(c.m.PipesS3MessageWriter(S3(), interval=0.1), {}),
    "s3-writer-prefix-type": lambda c: open_and_write(
        c.m.PipesS3MessageWriter(S3(), interval=0.1), {"bucket": "b", "key_prefix": 1}
    ),
    "prefect-writer-no-key": lambda c: open_and_write(c.m.PipesPrefectLogsMessageWriter(), {}),
    "prefect-writer-key-type": lambda c: open_and_write(c.m.PipesPrefectLogsMessageWriter(), {"prefect_logs": "yes"}),
    "prefect-writer-limit-type": lambda c: open_and_write(
        c.m.PipesPrefectLogsMessageWriter(), {"prefect_logs": True, "max_message_bytes": "10"}
    ),
    "prefect-channel-object": lambda c: open_and_write(
        c.m.PipesPrefectLogsMessageWriter(), {"prefect_logs": True}, c.message(object())
    ),
    # ----- log writers -----
    "file-log-writer-no-dir": lambda c: open_and_write(c.m.PipesStdioFileLogWriter(), {}),
    "default-log-writer-no-channel": lambda c: c.m.PipesDefaultLogWriter(message_channel=None).message_channel,
    "log-channel-stdin": lambda c: FileChunks.make(c.m, "stdin").stdio,
    # ----- helpers -----
    "asset-key-path-int": lambda c: c.m.to_asset_key_path(1),
    "asset-key-path-none": lambda c: c.m.to_asset_key_path(None),
    "exc-thread-join-unstarted": lambda c: c.m.ExcThread(target=print).join(),
    "context-get-uninitialized": lambda c: c.m.PipesContext.get(),
}


def outcome(m: ModuleType, case: Callable[[Calls], Any], folder: Path) -> BaseException | None:
    try:
        case(Calls(m, folder))
    except Exception as error:  # noqa: BLE001 - what the case raised is the point
        return error
    return None


@pytest.fixture(autouse=True)
def no_context_singleton() -> Any:
    """Cases never open the pipes; ``PipesContext.get()`` finds none on either side."""
    saved = THEIRS.PipesContext._instance, OURS.PipesContext._instance
    THEIRS.PipesContext._instance = OURS.PipesContext._instance = None
    yield
    THEIRS.PipesContext._instance, OURS.PipesContext._instance = saved


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_bad_call_raises_what_dagster_pipes_raises(tmp_path: Path, case: Callable[[Calls], Any]) -> None:
    theirs = outcome(THEIRS, case, tmp_path / "theirs")
    ours = outcome(OURS, case, tmp_path / "ours")
    if theirs is None:
        assert ours is None, f"pipes_fast raised {ours!r} where dagster-pipes raised nothing"
        return
    assert ours is not None, f"pipes_fast raised nothing where dagster-pipes raised {theirs!r}"
    expected = OURS.DagsterPipesError if type(theirs) is THEIRS.DagsterPipesError else type(theirs)
    assert isinstance(ours, expected), f"pipes_fast raised {ours!r} where dagster-pipes raised {theirs!r}"


def test_a_report_that_json_refuses_is_a_type_error_saying_what_and_where(tmp_path: Path) -> None:
    """dagster-pipes lets ``json.dumps``' TypeError through; pipes_fast's is one too, and a
    DagsterPipesError, and its message starts with json.dumps' words, then says where."""
    context = Calls(OURS, tmp_path / "ours").context()
    with pytest.raises(TypeError) as raised:
        context.report_custom_message({"rows": [1, object()]})
    assert isinstance(raised.value, OURS.DagsterPipesError)
    assert str(raised.value).startswith("Object of type object is not JSON serializable. ")
    assert "params['payload']['rows'][1] is of type `object`" in str(raised.value)
    assert type(raised.value).__name__ == "DagsterPipesError"  # what a traceback shows


def test_a_bad_param_is_the_standard_librarys_error_with_its_details() -> None:
    """A param that is not JSON is a JSONDecodeError (with its position), a ValueError and a
    DagsterPipesError naming the step; it pickles (to cross a process boundary) as what it is."""
    with pytest.raises(json.JSONDecodeError) as raised:
        OURS.decode_param(b64(zlib.compress(b'{"a": }')))
    error = raised.value
    assert isinstance(error, ValueError) and isinstance(error, OURS.DagsterPipesError)
    assert (error.pos, error.lineno, error.colno) == (6, 1, 7)
    assert "not valid JSON" in str(error)
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error) and str(again) == str(error)


def test_a_missing_param_is_a_key_error_with_a_plain_message() -> None:
    with pytest.raises(KeyError) as raised:
        OURS.PipesMappingParamsLoader({}).load_context_params()
    assert str(raised.value) == "DAGSTER_PIPES_CONTEXT was not passed: the orchestration side gave no context param."


# ----- the deliberate differences -----


def test_a_bad_check_severity_is_refused_where_it_is_reported(tmp_path: Path) -> None:
    """dagster-pipes sends any severity, and the orchestration side then fails on it
    (``AssetCheckSeverity("BAD")``); pipes_fast refuses it at the call, naming the allowed ones."""
    assert outcome(THEIRS, lambda c: c.context().report_asset_check("c", True, severity="BAD"), tmp_path / "t") is None
    with pytest.raises(OURS.DagsterPipesError, match="Expected one of `\\('WARN', 'ERROR'\\)`, got `'BAD'`"):
        Calls(OURS, tmp_path / "o").context().report_asset_check("c", True, severity="BAD")


def test_a_blob_store_channel_refuses_a_bad_message_at_the_call(tmp_path: Path) -> None:
    """dagster-pipes queues it, and its upload thread dies on it later (every message after is
    lost); pipes_fast raises json.dumps' TypeError at the call and goes on."""
    (tmp_path / "chunks").mkdir()
    with OURS.PipesUnityCatalogVolumesMessageWriter(interval=0.1).open({"path": str(tmp_path / "chunks")}) as channel:
        with pytest.raises(TypeError):
            channel.write_message({"__dagster_pipes_version": "0.1", "method": "log", "params": {"x": object()}})
        channel.write_message({"__dagster_pipes_version": "0.1", "method": "closed", "params": {}})
    assert [json.loads(line)["method"] for line in (tmp_path / "chunks" / "1.json").read_text().splitlines()] == [
        "closed"
    ]
