"""Optional bridge to Dagster: run a pipes_fast session from inside a Dagster op or asset.

Imported only when a Dagster execution context is passed where a ``StepContext`` is expected.
"""

from __future__ import annotations

from typing import Any

from pipes_fast.assets import AssetKey
from pipes_fast.context import StepContext


def step_context_from_dagster(context: Any) -> StepContext:
    """The ``StepContext`` of a Dagster ``OpExecutionContext``/``AssetExecutionContext``.

    The context data comes from Dagster's own builder, so the external process sees exactly what
    Dagster's orchestrator would give it; logs go to ``context.log``.
    """
    from dagster._core.pipes.context import build_external_execution_context_data

    data = build_external_execution_context_data(context, None)
    keys = data["asset_keys"]
    return StepContext(
        None if keys is None else [AssetKey.from_escaped_user_string(k) for k in keys],
        run_id=data["run_id"],
        job_name=data["job_name"],
        retry_number=data["retry_number"],
        partition_key=data["partition_key"],
        partition_key_range=data["partition_key_range"],
        partition_time_window=data["partition_time_window"],
        code_version_by_asset_key={
            AssetKey.from_escaped_user_string(k): v for k, v in (data["code_version_by_asset_key"] or {}).items()
        },
        provenance_by_asset_key={
            AssetKey.from_escaped_user_string(k): v for k, v in (data["provenance_by_asset_key"] or {}).items()
        },
        log=context.log,
    )
