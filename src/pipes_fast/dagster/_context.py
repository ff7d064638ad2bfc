"""The step a Dagster op or asset context describes, as Dagster's own builder sees it."""

from __future__ import annotations

from typing import Any, Optional

from dagster._core.pipes.context import build_external_execution_context_data

from pipes_fast.assets import AssetKey
from pipes_fast.context import StepContext
from pipes_fast.protocol import PipesContextData, PipesExtras


def context_data(context: Any, extras: Optional[PipesExtras] = None) -> PipesContextData:
    """The context data Dagster's orchestrator gives the external process for this step."""
    data: PipesContextData = build_external_execution_context_data(context, extras)
    return data


def step_context(context: Any, data: Optional[PipesContextData] = None) -> StepContext:
    """The ``StepContext`` of a Dagster ``OpExecutionContext``/``AssetExecutionContext``, from its
    context data (built here unless given); logs go to ``context.log``."""
    if data is None:
        data = context_data(context)
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
