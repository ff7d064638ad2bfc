"""A real Dagster execution context stands in for a StepContext."""

from __future__ import annotations

import json
import sys

import dagster as dg
import pytest

from helpers import closed, materialization, opened, script
from pipes_fast import AssetKey, MaterializeResult, PipesEnvContextInjector, PipesSubprocessClient
from pipes_fast.context import build_context_data
from pipes_fast.dagster._context import step_context as step_context_from_dagster


@pytest.mark.filterwarnings("ignore")
def test_a_dagster_asset_context_drives_a_pipes_fast_client(tmp_path):
    seen: dict = {}
    context_file = tmp_path / "context.json"
    steps = [{"context_to": str(context_file)}, {"write": opened() + materialization("db/orders", data_version="7") + closed()}]

    @dg.asset(key=["db", "orders"], partitions_def=dg.StaticPartitionsDefinition(["p1", "p2"]), code_version="v3")
    def orders(context):  # noqa: ANN001 - Dagster reads the annotation, which would be a string here
        from dagster._core.pipes.context import build_external_execution_context_data

        seen["dagster"] = build_external_execution_context_data(context, {"x": 1})
        seen["ours"] = build_context_data(step_context_from_dagster(context), {"x": 1})
        client = PipesSubprocessClient(context_injector=PipesEnvContextInjector())
        seen["results"] = client.run(context=context, command=script(tmp_path, steps), extras={"x": 1}).get_results()

    assert dg.materialize([orders], partition_key="p2").success
    assert seen["ours"] == json.loads(json.dumps(seen["dagster"]))
    assert json.loads(context_file.read_text()) == json.loads(json.dumps(seen["dagster"]))
    assert seen["ours"]["partition_key"] == "p2" and seen["ours"]["code_version_by_asset_key"] == {"db/orders": "v3"}
    assert seen["results"] == [MaterializeResult(AssetKey(["db", "orders"]), {}, "7")]


def test_anything_else_is_refused():
    with pytest.raises(TypeError, match="expected a StepContext or a Dagster execution context, got dict"):
        PipesSubprocessClient().run(context={}, command=[sys.executable, "-c", "pass"])
