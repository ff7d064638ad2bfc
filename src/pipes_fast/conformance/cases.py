"""The steps a Pipes client is checked under: one context each, built as pipes_fast builds it."""

from __future__ import annotations

import dataclasses

from pipes_fast.assets import AssetKey
from pipes_fast.context import StepContext, build_context_data
from pipes_fast.protocol import PipesContextData

JOB = "pipes_fast_check"


@dataclasses.dataclass(frozen=True)
class Case:
    """A step to run the client under: its context, and whether the context travels inline in the
    bootstrap param (``{"data": ...}``) rather than in a file (``{"path": ...}``)."""

    name: str
    description: str
    context: PipesContextData
    inline_context: bool = False


SINGLE_ASSET = Case(
    "single-asset",
    "one asset, with a code version",
    build_context_data(StepContext(["orders"], job_name=JOB, code_version_by_asset_key={"orders": "v1"})),
)
SEVERAL_ASSETS = Case(
    "several-assets",
    "three assets, one with a slash inside a part (asset_key is required)",
    build_context_data(StepContext(["db/orders", "db/customers", AssetKey(["raw", "a/b"])], job_name=JOB)),
)
PARTITIONED = Case(
    "partitioned",
    "one asset, one daily partition",
    build_context_data(
        StepContext(
            ["daily_events"],
            job_name=JOB,
            partition_key="2024-01-02",
            partition_time_window=("2024-01-02T00:00:00+00:00", "2024-01-03T00:00:00+00:00"),
        )
    ),
)
OP = Case("op", "an op without assets (nothing to materialize)", build_context_data(StepContext(None, job_name=JOB)))
EXTRAS = Case(
    "extras",
    "one asset, extras with unicode, escapes and nesting, context inline in the bootstrap",
    build_context_data(
        StepContext(["orders"], job_name=JOB, retry_number=1),
        extras={
            "unicode": "héllo wörld ✓ 日本語 🚀",
            "escapes": 'quote " backslash \\ newline \n tab \t',
            "nested": {"list": [1, 2.5, None, True, {"deep": ["x", {"deeper": []}]}], "empty": {}},
            "number": -12345678901234,
        },
    ),
    inline_context=True,
)

STANDARD_CASES: tuple[Case, ...] = (SINGLE_ASSET, SEVERAL_ASSETS, PARTITIONED, OP, EXTRAS)
"""The contexts ``pipes-fast check`` runs a client under, by default."""
