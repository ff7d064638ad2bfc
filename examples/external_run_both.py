"""Run ``external_orders.py`` under Dagster's orchestrator and under pipes_fast's, with its stdout
and stderr captured into Pipes messages, and print what each received.

    python examples/external_run_both.py        (Dagster is needed: pip install 'pipes_fast[dagster]')
"""

import sys
from pathlib import Path

import dagster as dg

import pipes_fast

SCRIPT = [sys.executable, str(Path(__file__).with_name("external_orders.py"))]
EXTRAS = {"rows": 1200}
PARTITIONS = dg.StaticPartitionsDefinition(["2024-06-01", "2024-06-02"])


@dg.asset(
    key=["warehouse", "orders"],
    partitions_def=PARTITIONS,
    check_specs=[
        dg.AssetCheckSpec(name, asset=["warehouse", "orders"]) for name in ("row_count_positive", "small_enough")
    ],
)
def orders(context: dg.AssetExecutionContext):
    reader = dg.PipesTempFileMessageReader(include_stdio_in_messages=True)
    return (
        dg.PipesSubprocessClient(message_reader=reader)
        .run(context=context, command=SCRIPT, extras=EXTRAS)
        .get_results()
    )


print("== under Dagster")
result = dg.materialize([orders], partition_key="2024-06-01")
for event in result.get_asset_materialization_events():
    materialization = event.materialization
    print(f"materialized {materialization.asset_key.to_user_string()}: {dict(materialization.metadata)}")
for evaluation in result.get_asset_check_evaluations():
    print(f"check {evaluation.check_name}: passed={evaluation.passed} ({evaluation.severity.value})")

print("== under pipes_fast")
invocation = pipes_fast.PipesSubprocessClient(
    message_reader=pipes_fast.PipesTempFileMessageReader(include_stdio_in_messages=True)
).run(context=pipes_fast.StepContext(["warehouse/orders"], partition_key="2024-06-01"), command=SCRIPT, extras=EXTRAS)
for reported in invocation.get_results():
    if isinstance(reported, pipes_fast.MaterializeResult):
        metadata = {name: (value.type, value.value) for name, value in reported.metadata.items()}
        print(f"materialized {reported.asset_key.to_user_string()}: {metadata}")
    else:
        print(f"check {reported.check_name}: passed={reported.passed} ({reported.severity.value})")
