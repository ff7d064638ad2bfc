"""What pipes_fast needs to know of a Dagster op or asset context."""

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


def step_context(context: Any) -> StepContext:
    """The step as pipes_fast's handler sees it: the selected asset keys (None for an op), the run
    id, and ``context.log`` for logs. (The context data, with provenance looked up in the event
    log, is Dagster's to build: :func:`context_data`.)"""
    keys = [AssetKey(key.path) for key in context.selected_asset_keys] if context.has_assets_def else None
    return StepContext(keys, run_id=context.run.run_id, log=context.log)
