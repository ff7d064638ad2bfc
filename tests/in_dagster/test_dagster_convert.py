"""pipes_fast.dagster converts results exactly as Dagster's own handler resolves the same messages.

Each message goes once through Dagster's ``PipesMessageHandler`` and once through pipes_fast's
hot path (the implementation this process runs) and conversion; the Dagster results must be equal.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path
from typing import Any

import dagster
import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.conversions import dagster_results, pipes_fast_results
from support.helpers import closed, line, opened, script

from pipes_fast.dagster import (
    PipesTempFileContextInjector,
    PipesTempFileMessageReader,
    open_pipes_session,
)
from pipes_fast.dagster._convert import _trusted_materialize_result, checked_materialize_result
from pipes_fast.protocol import make_message

pytestmark = pytest.mark.filterwarnings("ignore::dagster.PreviewWarning")

EVERY_TYPE: dict[str, tuple[Any, str]] = {
    "text": ("hello", "text"),
    "url": ("https://example.com/x", "url"),
    "path": ("/data/orders.parquet", "path"),
    "notebook": ("/nb/report.ipynb", "notebook"),
    "json_object": ({"a": [1, 2.5, None, "x"]}, "json"),
    "json_list": ([1, {"b": True}], "json"),
    "md": ("# Title\n*body*", "md"),
    "float": (2.5, "float"),
    "int": (42, "int"),
    "bool": (False, "bool"),
    "dagster_run": ("0f7e8e1c-1234-4bcd-9abc-0123456789ab", "dagster_run"),
    "asset": ("up/stream\\/key", "asset"),
    "null": (None, "null"),
    "table": (
        {
            "records": [{"a": 1, "b": "x"}, {"a": 2, "b": None}],
            "schema": [{"name": "a", "type": "int"}, {"name": "b", "type": "string"}],
        },
        "table",
    ),
    "table_schema": (
        {
            "columns": [
                {"name": "id", "type": "int", "description": "key", "constraints": {"nullable": False, "unique": True}},
                {"name": "note", "type": "string", "tags": {"pii": "no"}},
            ]
        },
        "table_schema",
    ),
    "table_column_lineage": (
        {"deps_by_column": {"id": [{"asset_key": ["up", "stream"], "column_name": "uid"}]}},
        "table_column_lineage",
    ),
    "timestamp": (1700000000.25, "timestamp"),
    "infer_str": ("s", "__infer__"),
    "infer_int": (7, "__infer__"),
    "infer_float": (7.5, "__infer__"),
    "infer_bool": (True, "__infer__"),
    "infer_list": ([1, "a"], "__infer__"),
    "infer_dict": ({"k": "v"}, "__infer__"),
    "infer_none": (None, "__infer__"),
}


def materialization(key: str, metadata: dict[str, Any], data_version: Any = None) -> dict[str, Any]:
    return make_message(
        "report_asset_materialization", {"asset_key": key, "metadata": metadata, "data_version": data_version}
    )


def check(key: str, name: str, passed: bool, severity: str, metadata: dict[str, Any]) -> dict[str, Any]:
    params = {"asset_key": key, "check_name": name, "passed": passed, "severity": severity, "metadata": metadata}
    return make_message("report_asset_check", params)


def wire(spec: dict[str, tuple[Any, str]]) -> dict[str, Any]:
    return {name: {"raw_value": value, "type": kind} for name, (value, kind) in spec.items()}


@pytest.mark.parametrize("name", sorted(EVERY_TYPE))
def test_each_metadata_type_converts_as_dagster_resolves_it(name: str) -> None:
    messages = [materialization("orders", wire({name: EVERY_TYPE[name]}), "v1")]
    ours, theirs = pipes_fast_results(messages), dagster_results(messages)
    assert ours == theirs
    assert type(ours[0].metadata[name]) is type(theirs[0].metadata[name])


def test_materializations_and_checks_convert_as_dagster_resolves_them() -> None:
    messages = [
        materialization("a\\/b/c", wire(EVERY_TYPE), "v7"),
        materialization("plain", {}, None),
        check("a\\/b/c", "rows_positive", True, "WARN", wire({"count": (3, "int")})),
        check("plain", "fresh", False, "ERROR", {}),
    ]
    ours, theirs = pipes_fast_results(messages), dagster_results(messages)
    assert ours == theirs
    assert ours[0].asset_key == dagster.AssetKey(["a/b", "c"])
    assert ours[0].data_version == dagster.DataVersion("v7")
    assert [type(r) for r in ours] == [type(r) for r in theirs]


keys = st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=3).map(dagster.AssetKey)
scalar_metadata = st.dictionaries(
    st.text(max_size=8),
    st.one_of(
        st.text(max_size=20).map(dagster.MetadataValue.text),
        st.integers(-(2**63), 2**63 - 1).map(dagster.MetadataValue.int),
        st.floats(allow_nan=False).map(dagster.MetadataValue.float),
        st.booleans().map(dagster.MetadataValue.bool),
    ),
    max_size=4,
)


@given(key=st.one_of(st.none(), keys), metadata=scalar_metadata, version=st.one_of(st.none(), st.text(max_size=10)))
def test_the_trusted_constructor_builds_what_dagsters_checked_one_does(
    key: Any, metadata: dict[str, Any], version: Any
) -> None:
    trusted, checked = (
        _trusted_materialize_result(key, metadata, version),
        checked_materialize_result(key, metadata, version),
    )
    assert trusted == checked
    assert type(trusted) is type(checked)
    assert trusted._replace(tags={"t": "1"}) == checked._replace(tags={"t": "1"})


@pytest.mark.reliability("handler-exceptions")
def test_a_result_dagster_refuses_is_a_warning_the_stream_goes_on_and_the_step_fails_naming_it(tmp_path: Path) -> None:
    bad_table = {"table": {"raw_value": {"records": "not a list"}, "type": "table"}}
    good = {"rows": {"raw_value": 3, "type": "int"}}
    lines = opened() + line(
        "report_asset_materialization", {"asset_key": "orders", "metadata": bad_table, "data_version": None}
    )
    lines += (
        line("report_asset_materialization", {"asset_key": "orders", "metadata": good, "data_version": "v2"}) + closed()
    )
    seen: dict[str, Any] = {}

    @dagster.asset
    def orders(context):  # noqa: ANN001, ANN202 - Dagster reads the annotation, which would be a string here
        try:
            with open_pipes_session(context, PipesTempFileContextInjector(), PipesTempFileMessageReader()) as session:
                subprocess.run(script(tmp_path, [{"write": lines}]), env=session.get_bootstrap_env_vars(), check=True)
        finally:
            seen["reported"] = session.get_reported_results()
        return session.get_results()

    instance = dagster.DagsterInstance.ephemeral()
    result = dagster.materialize([orders], instance=instance, raise_on_error=False)
    assert not result.success
    (materialization,) = seen["reported"]  # the stream went on past the refused result
    assert materialization.metadata == {"rows": dagster.MetadataValue.int(3)}
    assert materialization.data_version == dagster.DataVersion("v2")
    (failure,) = result.get_step_failure_events()
    error = failure.step_failure_data.error
    assert error.cause.cls_name == "PipesExecutionError"
    assert "1 result(s) this step cannot record" in error.cause.message
    assert (
        "report_asset_materialization message at line 2: Dagster refuses metadata entry 'table'" in error.cause.message
    )
    logged = [entry.user_message for entry in instance.all_logs(result.run_id) if entry.level == logging.WARNING]
    assert any(m.startswith("[pipes] skipped a report_asset_materialization message at line 2") for m in logged), logged
