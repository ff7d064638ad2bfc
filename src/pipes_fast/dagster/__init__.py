"""pipes_fast inside Dagster: Dagster's own Pipes classes, on pipes_fast's hot path.

Change one import and a Dagster asset sees the same events, faster::

    import dagster
    from pipes_fast.dagster import PipesSubprocessClient

    @dagster.asset(check_specs=[dagster.AssetCheckSpec("rows_positive", asset="orders")])
    def orders(context: dagster.AssetExecutionContext, pipes_subprocess_client: PipesSubprocessClient):
        return pipes_subprocess_client.run(context=context, command=["python", "orders.py"]).get_results()

    dagster.materialize([orders], resources={"pipes_subprocess_client": PipesSubprocessClient()})

Results are Dagster's ``MaterializeResult``/``AssetCheckResult``; errors are Dagster's
``DagsterPipesExecutionError`` (and pipes_fast's ``PipesExecutionError``). Ray jobs inside Dagster:
``pipes_fast.dagster.ray.PipesRayJobClient``. Needs the ``dagster`` extra.

This package is the only part of pipes_fast that imports Dagster, and nothing outside it imports
it: the core (``pipes_fast.PipesSubprocessClient``, ``open_pipes_session``,
``pipes_fast.ray.PipesRayJobClient``) refuses a Dagster context with a ``TypeError`` naming its
counterpart here. Dagster's private names come from one module, ``_internals``.
"""

try:
    import dagster as _dagster  # noqa: F401 - only to say clearly what is missing
except ImportError as missing:
    raise ImportError(
        "pipes_fast.dagster needs Dagster 1.13: pip install 'dagster>=1.13,<1.14' "
        "(in a pipes_fast checkout: pip install '.[dagster]')"
    ) from missing

from pipes_fast.dagster._client import PipesClientCompletedInvocation, PipesSubprocessClient
from pipes_fast.dagster._errors import PipesExecutionError
from pipes_fast.dagster._handler import PipesMessageHandler
from pipes_fast.dagster._io import (
    PipesBlobStoreMessageReader,
    PipesChunkedLogReader,
    PipesCompositeMessageReader,
    PipesDirectoryMessageReader,
    PipesEnvContextInjector,
    PipesFileContextInjector,
    PipesFileMessageReader,
    PipesLogReader,
    PipesS3ContextInjector,
    PipesS3LogReader,
    PipesS3MessageReader,
    PipesStdioMessageReader,
    PipesTempFileContextInjector,
    PipesTempFileMessageReader,
)
from pipes_fast.dagster._session import PipesSession, open_pipes_session

__all__ = [
    "PipesBlobStoreMessageReader",
    "PipesChunkedLogReader",
    "PipesClientCompletedInvocation",
    "PipesCompositeMessageReader",
    "PipesDirectoryMessageReader",
    "PipesEnvContextInjector",
    "PipesExecutionError",
    "PipesFileContextInjector",
    "PipesFileMessageReader",
    "PipesLogReader",
    "PipesMessageHandler",
    "PipesS3ContextInjector",
    "PipesS3LogReader",
    "PipesS3MessageReader",
    "PipesSession",
    "PipesStdioMessageReader",
    "PipesSubprocessClient",
    "PipesTempFileContextInjector",
    "PipesTempFileMessageReader",
    "open_pipes_session",
]
