"""pipes_fast.external is a drop-in for dagster_pipes 1.13: every public name (its GCS, Azure Blob
and DBFS classes aside, and what it re-exports from typing and the standard library) is here, with
a signature that accepts every call dagster-pipes' accepts, and the same constants, type variables
and helpers. dagster-pipes is the oracle: each check asks it what the answer should be."""

from __future__ import annotations

import inspect
import io
import subprocess
import sys
import threading
import types
import typing
from pathlib import Path
from typing import Any

import dagster_pipes
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pipes_fast.external

pytestmark = pytest.mark.reliability("one-import-external")

THEIRS, OURS = dagster_pipes, pipes_fast.external

LATER = {  # come with their readers, in the cloud-stores issue
    "PipesAzureBlobStorageContextLoader",
    "PipesAzureBlobStorageMessageWriter",
    "PipesAzureBlobStorageMessageWriterChannel",
    "PipesDbfsContextLoader",
    "PipesDbfsMessageWriter",
    "PipesGCSContextLoader",
    "PipesGCSMessageWriter",
    "PipesGCSMessageWriterChannel",
}
REEXPORTED_FROM = {"abc", "collections.abc", "contextlib", "io", "_io", "queue", "threading", "traceback", "typing"}

DELIBERATELY_NOT_HERE = {
    # (the dagster-pipes class that defines it, member): why
    ("PipesStdioLogWriterChannel", "handler"): "the loop that polls tee's temporary file: capture here reads a pipe",
}


def public_names() -> list[str]:
    """dagster-pipes' own public names (not its imports), but the cloud stores'."""
    names = []
    for name, value in vars(THEIRS).items():
        if name.startswith("_") or name in LATER or isinstance(value, types.ModuleType):
            continue
        if name == "TYPE_CHECKING" or getattr(value, "__module__", THEIRS.__name__) in REEXPORTED_FROM:
            continue
        names.append(name)
    return sorted(names)


NAMES = public_names()


def test_the_reference_has_the_names_this_file_expects() -> None:
    """A guard on the oracle: the names the issue lists are among dagster-pipes' public names."""
    listed = {
        "encode_env_var",
        "decode_env_var",
        "to_asset_key_path",
        "DAGSTER_PIPES_CLI_PARSER",
        "DAGSTER_PIPES_CONTEXT_WIDGET_KEY",
        "DAGSTER_PIPES_MESSAGES_WIDGET_KEY",
        "ExcThread",
        "PipesMetadataRawValue",
        "T_MessageChannel",
        "T_LogChannel",
        "T_BlobStoreMessageWriterChannel",
        "PipesLogWriter",
        "PipesLogWriterChannel",
        "PipesLogWriterOpenedData",
        "PipesDefaultLogWriter",
        "PipesDefaultLogWriterChannel",
        "PipesStdioLogWriter",
        "PipesStdioLogWriterChannel",
        "PipesStdioFileLogWriter",
        "PipesStdioFileLogWriterChannel",
        "PipesPrefectLogsMessageWriter",
        "PipesPrefectLogsMessageWriterChannel",
        "PipesUnityCatalogVolumesContextLoader",
        "PipesDatabricksNotebookWidgetsParamsLoader",
    }
    assert listed <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_public_name_is_here_and_exported(name: str) -> None:
    assert hasattr(OURS, name)
    assert name in OURS.__all__


def signature_problems(ours: Any, theirs: Any) -> list[str]:
    """Why a call that ``theirs`` accepts could fail on ``ours`` (nothing: ours accepts it too).

    Every parameter of theirs is in ours, of the same kind, in the same position and with the same
    default; ours may add parameters after them, each with a default.
    """
    try:
        mine, reference = inspect.signature(ours), inspect.signature(theirs)
    except (TypeError, ValueError):  # no signature to read on either side (a builtin)
        return []
    problems = []
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    their_positional = [p.name for p in reference.parameters.values() if p.kind in positional]
    my_positional = [p.name for p in mine.parameters.values() if p.kind in positional]
    if my_positional[: len(their_positional)] != their_positional:
        problems.append(f"positional parameters {my_positional} where dagster-pipes has {their_positional}")
    for name, theirs_parameter in reference.parameters.items():
        if theirs_parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            if not any(p.kind == theirs_parameter.kind for p in mine.parameters.values()):
                problems.append(f"no {theirs_parameter}")
            continue
        my_parameter = mine.parameters.get(name)
        if my_parameter is None:
            problems.append(f"no parameter {name!r}")
        elif my_parameter.kind != theirs_parameter.kind:
            problems.append(f"{name!r} is {my_parameter.kind}, not {theirs_parameter.kind}")
        elif my_parameter.default != theirs_parameter.default:
            problems.append(f"{name!r} defaults to {my_parameter.default!r}, not {theirs_parameter.default!r}")
    for name, my_parameter in mine.parameters.items():
        if (
            name not in reference.parameters
            and my_parameter.default is inspect.Parameter.empty
            and my_parameter.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        ):
            problems.append(f"a required parameter {name!r} dagster-pipes does not have")
    return problems


def class_problems(name: str, ours: type, theirs: type) -> list[str]:
    """Members of dagster-pipes' class that ours lacks or has otherwise (constants, methods, properties)."""
    problems = [f"{name}(): {p}" for p in signature_problems(ours, theirs)]
    inherited = set(dir(threading.Thread)) if issubclass(theirs, threading.Thread) else set()
    for member in sorted(set(dir(theirs)) - inherited):
        owner = next(c.__name__ for c in theirs.__mro__ if member in vars(c))
        if member.startswith("_") or (owner, member) in DELIBERATELY_NOT_HERE:
            continue
        if not hasattr(ours, member):
            problems.append(f"{name}.{member} is missing")
            continue
        their_value = inspect.getattr_static(theirs, member)
        my_value = inspect.getattr_static(ours, member)
        if isinstance(their_value, (str, int, float, bool)):
            if my_value != their_value:
                problems.append(f"{name}.{member} is {my_value!r}, not {their_value!r}")
        elif isinstance(their_value, property):
            if not isinstance(my_value, property):
                problems.append(f"{name}.{member} is not a property")
        elif callable(their_value):
            problems += [
                f"{name}.{member}(): {p}" for p in signature_problems(getattr(ours, member), getattr(theirs, member))
            ]
    return problems


@pytest.mark.parametrize(
    "name", [n for n in NAMES if callable(getattr(THEIRS, n)) and not isinstance(getattr(THEIRS, n), typing.TypeVar)]
)
def test_every_function_and_class_takes_what_dagster_pipes_takes(name: str) -> None:
    theirs, ours = getattr(THEIRS, name), getattr(OURS, name)
    if isinstance(theirs, type):
        assert isinstance(ours, type)
        if typing.is_typeddict(theirs):
            assert typing.is_typeddict(ours)
            assert (set(ours.__required_keys__), set(ours.__optional_keys__)) == (
                set(theirs.__required_keys__),
                set(theirs.__optional_keys__),
            )
            return
        assert class_problems(name, ours, theirs) == []
        for base in theirs.__mro__[1:]:  # the same family tree, among dagster-pipes' names
            if base.__module__ == THEIRS.__name__ and base.__name__ in NAMES:
                assert issubclass(ours, getattr(OURS, base.__name__)), f"{name} is not a {base.__name__}"
    else:
        assert signature_problems(ours, theirs) == []


@pytest.mark.parametrize("name", [n for n in NAMES if isinstance(getattr(THEIRS, n), typing.TypeVar)])
def test_the_type_variables_are_dagster_pipes_ones(name: str) -> None:
    theirs, ours = getattr(THEIRS, name), getattr(OURS, name)
    assert isinstance(ours, typing.TypeVar)
    assert ours.__name__ == theirs.__name__
    assert (ours.__covariant__, ours.__contravariant__) == (theirs.__covariant__, theirs.__contravariant__)
    bound = theirs.__bound__
    their_bound = bound.__forward_arg__ if isinstance(bound, typing.ForwardRef) else bound.__name__
    assert ours.__bound__.__forward_arg__ == their_bound


@pytest.mark.parametrize("name", [n for n in NAMES if isinstance(getattr(THEIRS, n), (str, int))])
def test_the_constants_have_dagster_pipes_values(name: str) -> None:
    assert getattr(OURS, name) == getattr(THEIRS, name)


def test_the_raw_metadata_value_is_the_same_union() -> None:
    assert typing.get_args(OURS.PipesMetadataRawValue) == typing.get_args(THEIRS.PipesMetadataRawValue)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--dagster-pipes-context", "abc", "--dagster-pipes-messages", "def"],
        ["--dagster-pipes-messages=x", "--other", "1", "positional"],
        ["--dagster-pipes-context", "a", "--dagster-pipes-context", "b"],
    ],
)
def test_the_cli_parser_parses_as_dagster_pipes_does(argv: list[str]) -> None:
    theirs, their_rest = THEIRS.DAGSTER_PIPES_CLI_PARSER.parse_known_args(argv)
    ours, our_rest = OURS.DAGSTER_PIPES_CLI_PARSER.parse_known_args(argv)
    assert (vars(ours), our_rest) == (vars(theirs), their_rest)
    assert OURS.DAGSTER_PIPES_CLI_PARSER.description == THEIRS.DAGSTER_PIPES_CLI_PARSER.description


ESCAPED_KEYS = ["", "a", "a/b", "a/", "/", "//a//", "a\\/b", "a\\", "a/\\", "\\\\", "a\\\\/b", "é/ü\\/x"]


@pytest.mark.parametrize("key", ESCAPED_KEYS)
def test_asset_key_paths_are_dagster_pipes_ones(key: str) -> None:
    assert OURS.to_asset_key_path(key) == THEIRS.to_asset_key_path(key)


@given(st.text(alphabet="ab/\\é"))
def test_any_escaped_key_splits_as_dagster_pipes_splits_it(key: str) -> None:
    assert OURS.to_asset_key_path(key) == THEIRS.to_asset_key_path(key)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
        max_leaves=10,
    )
)
def test_the_old_param_codec_names_read_each_others_params(value: Any) -> None:
    assert OURS.decode_env_var(THEIRS.encode_env_var(value)) == value
    assert THEIRS.decode_env_var(OURS.encode_env_var(value)) == value
    assert (OURS.encode_env_var, OURS.decode_env_var) == (OURS.encode_param, OURS.decode_param)


def test_an_exc_thread_keeps_its_targets_exception_for_join(monkeypatch: pytest.MonkeyPatch) -> None:
    """As dagster-pipes' ExcThread: the exception is caught (not passed to threading.excepthook)
    and kept; on join its traceback goes to stderr (dagster-pipes writes the list of lines, which
    ``write`` refuses: here the text)."""
    hooked: list[Any] = []
    monkeypatch.setattr(threading, "excepthook", hooked.append)
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)

    def fail() -> None:
        raise ValueError("boom in the thread")

    for module in (THEIRS, OURS):
        thread = module.ExcThread(target=fail, name="failing")
        thread.start()
        if module is OURS:
            thread.join()
        else:  # dagster-pipes' join raises TypeError here (stderr.write of a list)
            with pytest.raises(TypeError):
                thread.join()
    assert hooked == []
    assert "ValueError: boom in the thread" in stderr.getvalue()
    assert stderr.getvalue().startswith("Traceback")


def test_an_exc_thread_that_succeeds_joins_quietly(capsys: pytest.CaptureFixture[str]) -> None:
    for module in (THEIRS, OURS):
        results: list[int] = []
        thread = module.ExcThread(target=results.append, args=(1,))
        thread.start()
        thread.join()
        assert results == [1]
    assert capsys.readouterr().err == ""


DROP_IN = """\
import json, sys, warnings
{swap}
import dagster_pipes
from dagster_pipes import *  # every public name, as a user's star import takes them
from dagster_pipes import (
    DAGSTER_PIPES_CLI_PARSER, PipesDefaultLogWriter, PipesLogWriterOpenedData, PipesMetadataRawValue,
    PipesPrefectLogsMessageWriter, PipesStdioFileLogWriter, PipesUnityCatalogVolumesContextLoader,
    PipesDatabricksNotebookWidgetsParamsLoader, T_LogChannel, decode_env_var, encode_env_var, to_asset_key_path,
    _make_message,
)
names = sorted(n for n in {names!r} if hasattr(dagster_pipes, n))
widgets = {{"DAGSTER_PIPES_CONTEXT": encode_env_var({{"data": {{"asset_keys": ["a/b"], "run_id": "r", "extras": {{}},
    "code_version_by_asset_key": None, "provenance_by_asset_key": None, "partition_key": None,
    "partition_key_range": None, "partition_time_window": None, "job_name": None, "retry_number": 0}}}}),
    "DAGSTER_PIPES_MESSAGES": encode_env_var({{"path": sys.argv[1]}})}}
with open_dagster_pipes(params_loader=PipesDatabricksNotebookWidgetsParamsLoader(widgets)) as pipes:
    pipes.report_asset_materialization(metadata={{"path": to_asset_key_path(pipes.asset_key)}})
    try:
        pipes.report_custom_message(object())
    except TypeError:
        refused = True
with open(sys.argv[1]) as file:
    methods = [json.loads(line)["method"] for line in file]
print(json.dumps({{"names": names, "refused": refused, "methods": methods, "module": dagster_pipes.__name__}}))
"""


@pytest.mark.parametrize("swap", [False, True], ids=["dagster_pipes", "pipes_fast.external"])
def test_a_script_written_for_dagster_pipes_runs_with_one_import_changed(tmp_path: Path, swap: bool) -> None:
    """The same script, with ``sys.modules["dagster_pipes"] = pipes_fast.external`` or without,
    imports every name, reads its params from notebook widgets and reports the same messages."""
    import json

    prelude = "import pipes_fast.external\nsys.modules['dagster_pipes'] = pipes_fast.external" if swap else ""
    script = DROP_IN.format(swap=prelude, names=NAMES)
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "messages")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["module"] == ("pipes_fast.external" if swap else "dagster_pipes")
    assert result["names"] == NAMES
    assert result["methods"] == ["opened", "report_asset_materialization", "closed"]
    assert result["refused"] is True


def test_star_import_of_the_reference_names_resolves_here() -> None:
    """``from pipes_fast.external import *`` gives every public name of dagster-pipes."""
    namespace: dict[str, Any] = {}
    exec("from pipes_fast.external import *", namespace)  # noqa: S102 - what a user's star import does
    assert set(NAMES) <= set(namespace)
