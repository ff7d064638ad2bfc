"""The file writer: writer -> file -> reader is lossless and ordered, the values are the ones
dagster-pipes would have written, concurrent writers never interleave, and a killed writer loses
nothing it reported. Files are read back with both hot-path implementations (``hotpath``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest.mock import patch

import dagster_pipes
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from support.files import bootstrap_env, context_data, open_context, payloads, read_messages, run_script
from support.strategies import Text, builtin_subclasses, json_scalars, json_values

from pipes_fast import _hotpath
from pipes_fast._hotpath import MODULES
from pipes_fast.external import (
    DagsterPipesError,
    PipesContext,
    PipesDefaultContextLoader,
    PipesDefaultMessageWriter,
    PipesFileMessageWriterChannel,
    PipesMappingParamsLoader,
    writers,
)
from pipes_fast.protocol import METADATA_TYPES

ASSET_KEYS = ["a", "b/c", "slash\\/inside"]

# ----- what a script may report, as (method name, arguments) -----

large_text = st.builds(lambda piece, times: piece * times, st.text(min_size=1, max_size=3), st.integers(1_000, 400_000))
texts = st.text() | large_text
metadata_values = (
    json_scalars
    | st.lists(json_values, max_size=4)
    | st.builds(
        lambda raw, kind: {"raw_value": raw, "type": kind}, json_values, st.sampled_from(sorted(METADATA_TYPES))
    )
)
metadata = st.none() | st.dictionaries(st.text(max_size=8), metadata_values, max_size=5)
asset_keys = st.sampled_from(ASSET_KEYS)
reports = st.one_of(
    st.tuples(
        st.just("report_asset_materialization"),
        st.fixed_dictionaries(
            {"metadata": metadata, "data_version": st.none() | st.text(max_size=20), "asset_key": asset_keys}
        ),
    ),
    st.tuples(
        st.just("report_asset_check"),
        st.fixed_dictionaries(
            {
                "check_name": st.text(max_size=20),
                "passed": st.booleans(),
                "severity": st.sampled_from(["WARN", "ERROR"]),
                "metadata": metadata,
                "asset_key": asset_keys,
            }
        ),
    ),
    st.tuples(st.just("report_custom_message"), st.fixed_dictionaries({"payload": json_values | texts})),
    st.tuples(
        st.just("log_external_stream"),
        st.fixed_dictionaries(
            {
                "stream": st.sampled_from(["stdout", "stderr"]),
                "text": texts,
                "extras": st.none() | st.dictionaries(st.text(max_size=8), json_values, max_size=3),
            }
        ),
    ),
    st.tuples(
        st.sampled_from(["debug", "info", "warning", "error", "critical"]), st.fixed_dictionaries({"msg": texts})
    ),
)


def dagster_pipes_context(path: Path) -> dagster_pipes.PipesContext:
    loader = dagster_pipes.PipesMappingParamsLoader(
        bootstrap_env(context_data(asset_keys=ASSET_KEYS), {"path": str(path)})
    )
    return dagster_pipes.PipesContext(
        loader, dagster_pipes.PipesDefaultContextLoader(), dagster_pipes.PipesDefaultMessageWriter()
    )


def apply(context: Any, method: str, arguments: dict[str, Any]) -> str | None:
    """Make the report; the name of the error it raised, if any."""
    target = (
        getattr(context.log, method)
        if method in ("debug", "info", "warning", "error", "critical")
        else getattr(context, method)
    )
    try:
        target(**arguments)
    except Exception as exc:  # noqa: BLE001 - the error is the result compared
        return type(exc).__name__
    return None


def json_lines(path: Path) -> list[Any]:
    """The file as Dagster reads it: ``json.loads`` line by line (lines end at ``\n`` only; JSON
    strings may hold U+0085 or U+2028, which ``str.splitlines`` would also split at)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n")[:-1]]


@contextmanager
def switching_after(count: int, hotpath: ModuleType) -> Iterator[None]:
    """File channels made in the block switch to ``hotpath``'s orjson appender after ``count`` messages."""
    with (
        patch.object(writers, "ORJSON_AFTER", count),
        patch.object(_hotpath, "JsonLineAppender", hotpath.JsonLineAppender),
    ):
        yield


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(sequence=st.lists(reports, max_size=12))
def test_any_sequence_of_reports_comes_back_whole_in_order_as_dagster_pipes_writes_it(
    hotpath: ModuleType, sequence: list[tuple[str, dict[str, Any]]]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        ours_path, theirs_path = Path(folder, "ours.jsonl"), Path(folder, "theirs.jsonl")
        ours, theirs = open_context(ours_path, asset_keys=ASSET_KEYS), dagster_pipes_context(theirs_path)
        for method, arguments in sequence:
            assert apply(ours, method, arguments) == apply(theirs, method, arguments)
        ours.close()
        theirs.close()
        assert read_messages(hotpath, ours_path) == json_lines(theirs_path)


# ----- values orjson would refuse or change: json.dumps takes over, so they mean the same -----


awkward_scalars = (
    st.integers()  # beyond 64 bits too
    | st.floats()  # NaN and infinities too
    | st.text(st.characters(codec=None, categories=["Cs", "Ll", "Nd"]))  # lone surrogates
    | builtin_subclasses
    | json_scalars
)
awkward_values = st.recursive(
    awkward_scalars,
    lambda children: (
        st.lists(children, max_size=3).map(tuple)
        | st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=4) | st.integers() | st.booleans() | st.none(), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(payload=awkward_values)
@example(payload=float("nan"))
@example(payload={"inf": [float("inf"), None], "minus": float("-inf")})
@example(payload=[2**64, -(2**63) - 1])
@example(payload={1: "int key", None: "none key", 2.5: "float key"})
@example(payload=Text("str subclass"))
@example(payload="lone \ud800 surrogate")
@example(payload=(1, (2, 3)))
@example(payload="line separators: \x85 \u2028 \u2029")
def test_values_orjson_cannot_write_mean_what_dagster_pipes_writes(payload: Any) -> None:
    with tempfile.TemporaryDirectory() as folder:
        ours_path, theirs_path = Path(folder, "ours.jsonl"), Path(folder, "theirs.jsonl")
        with open_context(ours_path) as ours:
            ours.report_custom_message(payload)
        with dagster_pipes_context(theirs_path) as theirs:
            theirs.report_custom_message(payload)
        # compared as JSON text, so that NaN equals NaN
        assert json.dumps(json_lines(ours_path)) == json.dumps(json_lines(theirs_path))


def test_nesting_deeper_than_orjson_goes_is_written_too(tmp_path: Path) -> None:
    deep: Any = "bottom"
    for _ in range(400):
        deep = [deep]
    with open_context(tmp_path / "m.jsonl") as context:
        context.report_custom_message(deep)
    assert payloads(json_lines(tmp_path / "m.jsonl"), "report_custom_message", "payload") == [deep]


# ----- concurrent writers; one write per message (unbuffered) -----


@pytest.mark.reliability("concurrent-writers")
@pytest.mark.parametrize("buffered", ["0", "1"])
def test_threads_and_forked_processes_never_interleave_messages(
    tmp_path: Path, hotpath: ModuleType, buffered: str
) -> None:
    """Unbuffered, switching to orjson while they write; buffered (64 KiB, some lines longer), the
    forked children writing through."""
    path = tmp_path / "m.jsonl"
    per_writer = 200

    def write(context: Any, writer: str) -> None:
        for index in range(per_writer):
            context.report_custom_message({"writer": writer, "index": index, "pad": "x" * (index * 97 % 70_000)})

    with (
        switching_after(1_000, hotpath),
        patch.dict(os.environ, {writers.BUFFERED_ENV_VAR: buffered}),
        open_context(path) as context,
    ):
        children = []
        for name in [f"child-{n}" for n in range(8)]:
            pid = os.fork()
            if pid == 0:  # the forked process inherits the channel's descriptor
                write(context, name)
                os._exit(0)
            children.append(pid)
        threads = [threading.Thread(target=write, args=(context, f"thread-{n}")) for n in range(8)]
        for thread in threads:
            thread.start()
        write(context, "main")
        for thread in threads:
            thread.join()
        for pid in children:
            assert os.waitpid(pid, 0)[1] == 0
    sent = payloads(read_messages(hotpath, path), "report_custom_message", "payload")
    names = {"main", *(f"child-{n}" for n in range(8)), *(f"thread-{n}" for n in range(8))}
    for name in names:
        assert [p["index"] for p in sent if p["writer"] == name] == list(range(per_writer))
    assert len(sent) == len(names) * per_writer


def test_a_message_is_in_the_file_when_the_call_returns(tmp_path: Path, hotpath: ModuleType) -> None:
    path = tmp_path / "m.jsonl"
    with switching_after(2, hotpath):  # the opened message, one report, then orjson
        context = open_context(path)
        for index in range(3):
            context.report_custom_message({"index": index, "large": "é" * 300_000})
            assert payloads(read_messages(hotpath, path), "report_custom_message", "payload")[-1]["index"] == index
        context.close()


def test_reports_after_the_switch_go_through_the_appender_until_close(tmp_path: Path, hotpath: ModuleType) -> None:
    """Once the appender takes over, ``report_custom_message`` is its own (no Python frame between);
    close restores the method that refuses, and every report is in the file, in order."""
    path = tmp_path / "m.jsonl"
    with switching_after(2, hotpath):  # the opened message, one report, then the appender
        context = open_context(path)
        for index in range(5):
            context.report_custom_message({"index": index})
        assert context.report_custom_message.__self__ is context._message_channel._appender
        context.close()
    assert context.report_custom_message.__func__ is PipesContext.report_custom_message
    with pytest.raises(DagsterPipesError, match="Cannot send message after pipes context is closed."):
        context.report_custom_message({"index": 5})
    messages = read_messages(hotpath, path)
    assert [m["method"] for m in messages] == ["opened", *["report_custom_message"] * 5, "closed"]
    assert payloads(messages, "report_custom_message", "payload") == [{"index": index} for index in range(5)]


def test_a_subclass_s_report_custom_message_is_called_after_the_switch_too(tmp_path: Path, hotpath: ModuleType) -> None:
    seen = []

    class Counting(PipesContext):
        def report_custom_message(self, payload: Any) -> None:
            seen.append(payload)
            super().report_custom_message(payload)

    path = tmp_path / "m.jsonl"
    loader = PipesMappingParamsLoader(bootstrap_env(context_data(), {"path": str(path)}))
    with (
        switching_after(2, hotpath),
        Counting(loader, PipesDefaultContextLoader(), PipesDefaultMessageWriter()) as context,
    ):
        for index in range(5):
            context.report_custom_message(index)
    assert seen == list(range(5))
    assert payloads(read_messages(hotpath, path), "report_custom_message", "payload") == list(range(5))


@settings(max_examples=100, deadline=None)
@given(sequence=st.lists(awkward_values, min_size=1, max_size=6), switch=st.integers(0, 6))
def test_values_are_the_same_before_and_after_the_switch_to_orjson(
    hotpath: ModuleType, sequence: list[Any], switch: int
) -> None:
    with tempfile.TemporaryDirectory() as folder, switching_after(switch, hotpath):
        ours_path, theirs_path = Path(folder, "ours.jsonl"), Path(folder, "theirs.jsonl")
        with PipesFileMessageWriterChannel(str(ours_path)) as ours:
            for value in sequence:
                ours.write_message(value)
        theirs = dagster_pipes.PipesFileMessageWriterChannel(str(theirs_path))
        for value in sequence:
            theirs.write_message(value)
        # compared as JSON text, so that NaN equals NaN
        assert json.dumps(json_lines(ours_path)) == json.dumps(json_lines(theirs_path))


def test_a_short_stream_loads_neither_orjson_nor_the_hot_path(tmp_path: Path, hotpath: ModuleType) -> None:
    """Until the switch the channel loads only its serializer, ``_json`` and ``_fdio``; then the hot
    path (and orjson for the pure one's appender), and the lines read back are all there."""
    code = f"""if True:
        import sys
        from pipes_fast.external import PipesFileMessageWriterChannel
        from pipes_fast.external.writers import ORJSON_AFTER
        before = set(sys.modules)
        channel = PipesFileMessageWriterChannel(sys.argv[1])
        for index in range(ORJSON_AFTER):
            channel.write_message({{"index": index, "nan": float("nan"), "big": 2**80}})
        assert sorted(set(sys.modules) - before) == ["_json", "pipes_fast._system.fdio", "pipes_fast.external.serialize"], \
            sorted(set(sys.modules) - before)
        channel.write_message({{"index": ORJSON_AFTER, "nan": float("nan"), "big": 2**80}})
        assert {{"pipes_fast._hotpath", "{hotpath.__name__}"}} <= set(sys.modules)
        # the compiled appender has its own encoder; the pure one writes with orjson
        assert ("orjson" in sys.modules) == {hotpath.__name__ == MODULES["pure"]}
        channel.close()
        print(ORJSON_AFTER)
    """
    env = {**os.environ, "PIPES_FAST_NO_EXTENSIONS": "1" if hotpath.__name__ == MODULES["pure"] else "0"}
    path = tmp_path / "m.jsonl"
    process = subprocess.run(
        [sys.executable, "-c", code, str(path)], env=env, capture_output=True, text=True, check=False
    )
    assert process.returncode == 0, process.stderr
    lines = json_lines(path)
    assert [line["index"] for line in lines] == list(range(int(process.stdout) + 1))
    assert json.dumps(lines[-2:]) == json.dumps(
        [{"index": i, "nan": float("nan"), "big": 2**80} for i in range(len(lines) - 2, len(lines))]
    )


@pytest.mark.reliability("sigkill-writer")
def test_a_killed_writer_loses_nothing_it_reported(tmp_path: Path, hotpath: ModuleType) -> None:
    process, path = run_script(tmp_path, "report_then_die", count=500)
    assert process.returncode == -9  # SIGKILL, right after the last report
    messages = read_messages(hotpath, path)
    assert messages[0]["method"] == "opened"
    assert payloads(messages, "report_custom_message", "payload") == [
        {"index": index, "text": "x" * (index % 200)} for index in range(500)
    ]
    assert "closed" not in [m["method"] for m in messages]
