"""What pipes_fast needs to know of a Dagster op, asset or asset check context."""

from __future__ import annotations

from typing import Any, Optional

import dagster

from pipes_fast.assets import AssetKey
from pipes_fast.context import StepContext
from pipes_fast.dagster._internals import build_external_execution_context_data
from pipes_fast.protocol import PipesContextData, PipesExtras


def execution_context(context: Any) -> Any:
    """The op execution context of ``context``: itself, or the one an ``AssetCheckExecutionContext``
    wraps (Dagster's own Pipes classes need ``context.op_execution_context`` there)."""
    return context.op_execution_context if isinstance(context, dagster.AssetCheckExecutionContext) else context


def context_data(context: Any, extras: Optional[PipesExtras] = None) -> PipesContextData:
    """The context data Dagster's orchestrator gives the external process for this step."""
    data: PipesContextData = build_external_execution_context_data(context, extras)
    return data


class DagsterStep(StepContext):
    """The step as pipes_fast's handler sees it, with what Dagster lets it record.

    Its ``asset_keys`` are the assets the external process may report on: the selected assets
    and the assets of the selected checks (a standalone ``@asset_check`` selects no asset). Of
    those, :attr:`materializable` may be materialized, and :attr:`checks` are the
    ``(asset key, check name)`` pairs it may report; both None for an op step.
    """

    def __init__(self, context: Any) -> None:
        if context.has_assets_def:
            self.materializable: Optional[frozenset[AssetKey]] = frozenset(
                AssetKey(key.path) for key in context.selected_asset_keys
            )
            self.checks: Optional[frozenset[tuple[AssetKey, str]]] = frozenset(
                (AssetKey(check.asset_key.path), check.name) for check in context.selected_asset_check_keys
            )
            keys: Optional[set[AssetKey]] = set(self.materializable) | {key for key, _ in self.checks}
        else:
            self.materializable = self.checks = keys = None
        run_id = getattr(context, "op_execution_context", context).run_id  # directly invoked assets have no run
        super().__init__(keys, run_id=run_id, log=context.log)
