"""A real Dagster execution context given to pipes_fast.dagster: the step it describes, and Dagster's results."""

from __future__ import annotations

import json
import sys

import dagster as dg
import pytest
from support.helpers import closed, materialization, opened, script

from pipes_fast import PipesEnvContextInjector, PipesSubprocessClient, PipesTempFileMessageReader
from pipes_fast.dagster import PipesSubprocessClient as DagsterClient
from pipes_fast.dagster import open_pipes_session
from pipes_fast.dagster._internals import build_external_execution_context_data


@pytest.mark.filterwarnings("ignore")
def test_a_dagster_asset_context_drives_the_adapters_client(tmp_path):
    seen: dict = {}
    context_file = tmp_path / "context.json"
    steps = [
        {"context_to": str(context_file)},
        {"write": opened() + materialization("db/orders", data_version="7") + closed()},
    ]

    @dg.asset(key=["db", "orders"], partitions_def=dg.StaticPartitionsDefinition(["p1", "p2"]), code_version="v3")
    def orders(context):  # noqa: ANN001 - Dagster reads the annotation, which would be a string here
        seen["dagster"] = build_external_execution_context_data(context, {"x": 1})
        client = DagsterClient(context_injector=PipesEnvContextInjector())
        seen["results"] = client.run(context=context, command=script(tmp_path, steps), extras={"x": 1}).get_results()
        return seen["results"]

    assert dg.materialize([orders], partition_key="p2").success
    assert json.loads(context_file.read_text()) == json.loads(json.dumps(seen["dagster"]))
    assert seen["dagster"]["partition_key"] == "p2" and seen["dagster"]["code_version_by_asset_key"] == {
        "db/orders": "v3"
    }
    assert seen["results"] == (
        dg.MaterializeResult(asset_key=dg.AssetKey(["db", "orders"]), metadata={}, data_version=dg.DataVersion("7")),
    )


def test_anything_else_is_refused():
    with pytest.raises(TypeError, match="expected a pipes_fast.StepContext, got dict"):
        PipesSubprocessClient().run(context={}, command=[sys.executable, "-c", "pass"])


@pytest.mark.filterwarnings("ignore::dagster.PreviewWarning")
def test_the_adapters_session_in_an_asset_yields_dagsters_results(tmp_path):
    import subprocess

    steps = [
        {"write": opened() + materialization("orders", metadata={"rows": {"raw_value": 5, "type": "int"}}) + closed()}
    ]

    @dg.asset
    def orders(context):  # noqa: ANN001 - Dagster reads the annotation, which would be a string here
        with open_pipes_session(context, PipesEnvContextInjector(), PipesTempFileMessageReader()) as session:
            subprocess.run(script(tmp_path, steps), env=session.get_bootstrap_env_vars(), check=True)
            yield from session.drain_results()
        yield from session.drain_results()

    result = dg.materialize([orders])
    (event,) = result.get_asset_materialization_events()
    assert event.materialization.metadata == {"rows": dg.MetadataValue.int(5)}
