"""pipes_fast: a fast, wire-compatible implementation of the Dagster Pipes protocol.

The orchestration-side API is loaded lazily on first attribute access, so that
``import pipes_fast.external`` in an external process stays cheap.
"""

from __future__ import annotations

from pipes_fast._system.lazy import exports
from pipes_fast._version import __version__

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (it costs the external side)

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "EXTENSION": "pipes_fast._hotpath",
    "IMPLEMENTATION": "pipes_fast._hotpath",
    "encode_param": "pipes_fast._logic.codec",
    "decode_param": "pipes_fast._logic.codec",
    "PipesError": "pipes_fast.errors",
    "PipesParamError": "pipes_fast.errors",
    "PipesExecutionError": "pipes_fast.errors",
    "PipesInvariantViolationError": "pipes_fast.errors",
    "PipesWarning": "pipes_fast.errors",
    "AssetKey": "pipes_fast.assets",
    "StepContext": "pipes_fast.context",
    "MetadataValue": "pipes_fast.results",
    "MaterializeResult": "pipes_fast.results",
    "AssetCheckResult": "pipes_fast.results",
    "AssetCheckSeverity": "pipes_fast.protocol",
    "PipesExecutionResult": "pipes_fast.results",
    "PipesMessageHandler": "pipes_fast.handler",
    "PipesSession": "pipes_fast.session",
    "open_pipes_session": "pipes_fast.session",
    "PipesContextInjector": "pipes_fast.injectors",
    "PipesEnvContextInjector": "pipes_fast.injectors",
    "PipesFileContextInjector": "pipes_fast.injectors",
    "PipesTempFileContextInjector": "pipes_fast.injectors",
    "PipesMessageReader": "pipes_fast.readers",
    "PipesFileMessageReader": "pipes_fast.readers",
    "PipesTempFileMessageReader": "pipes_fast.readers",
    "PipesBlobStoreMessageReader": "pipes_fast.readers",
    "PipesCompositeMessageReader": "pipes_fast.readers",
    "PipesDirectoryMessageReader": "pipes_fast.readers",
    "PipesLogReader": "pipes_fast.readers",
    "PipesChunkedLogReader": "pipes_fast.readers",
    "PipesS3MessageReader": "pipes_fast.readers",
    "PipesS3LogReader": "pipes_fast.readers",
    "PipesStdioMessageReader": "pipes_fast.readers",
    "PipesS3ContextInjector": "pipes_fast.injectors.s3",
    "PipesClient": "pipes_fast.clients",
    "PipesClientCompletedInvocation": "pipes_fast.clients",
    "PipesSubprocessClient": "pipes_fast.clients",
}

if TYPE_CHECKING:
    from pipes_fast._hotpath import EXTENSION as EXTENSION
    from pipes_fast._hotpath import IMPLEMENTATION as IMPLEMENTATION
    from pipes_fast._logic.codec import decode_param as decode_param
    from pipes_fast._logic.codec import encode_param as encode_param
    from pipes_fast.assets import AssetKey as AssetKey
    from pipes_fast.clients import (
        PipesClient as PipesClient,
    )
    from pipes_fast.clients import (
        PipesClientCompletedInvocation as PipesClientCompletedInvocation,
    )
    from pipes_fast.clients import (
        PipesSubprocessClient as PipesSubprocessClient,
    )
    from pipes_fast.context import StepContext as StepContext
    from pipes_fast.errors import (
        PipesError as PipesError,
    )
    from pipes_fast.errors import (
        PipesExecutionError as PipesExecutionError,
    )
    from pipes_fast.errors import (
        PipesInvariantViolationError as PipesInvariantViolationError,
    )
    from pipes_fast.errors import (
        PipesParamError as PipesParamError,
    )
    from pipes_fast.errors import (
        PipesWarning as PipesWarning,
    )
    from pipes_fast.handler import PipesMessageHandler as PipesMessageHandler
    from pipes_fast.injectors import (
        PipesContextInjector as PipesContextInjector,
    )
    from pipes_fast.injectors import (
        PipesEnvContextInjector as PipesEnvContextInjector,
    )
    from pipes_fast.injectors import (
        PipesFileContextInjector as PipesFileContextInjector,
    )
    from pipes_fast.injectors import (
        PipesTempFileContextInjector as PipesTempFileContextInjector,
    )
    from pipes_fast.injectors.s3 import PipesS3ContextInjector as PipesS3ContextInjector
    from pipes_fast.readers import (
        PipesBlobStoreMessageReader as PipesBlobStoreMessageReader,
    )
    from pipes_fast.readers import (
        PipesChunkedLogReader as PipesChunkedLogReader,
    )
    from pipes_fast.readers import (
        PipesCompositeMessageReader as PipesCompositeMessageReader,
    )
    from pipes_fast.readers import (
        PipesDirectoryMessageReader as PipesDirectoryMessageReader,
    )
    from pipes_fast.readers import (
        PipesFileMessageReader as PipesFileMessageReader,
    )
    from pipes_fast.readers import (
        PipesLogReader as PipesLogReader,
    )
    from pipes_fast.readers import (
        PipesMessageReader as PipesMessageReader,
    )
    from pipes_fast.readers import (
        PipesS3LogReader as PipesS3LogReader,
    )
    from pipes_fast.readers import (
        PipesS3MessageReader as PipesS3MessageReader,
    )
    from pipes_fast.readers import (
        PipesStdioMessageReader as PipesStdioMessageReader,
    )
    from pipes_fast.readers import (
        PipesTempFileMessageReader as PipesTempFileMessageReader,
    )
    from pipes_fast.results import (
        AssetCheckResult as AssetCheckResult,
    )
    from pipes_fast.results import (
        AssetCheckSeverity as AssetCheckSeverity,
    )
    from pipes_fast.results import (
        MaterializeResult as MaterializeResult,
    )
    from pipes_fast.results import (
        MetadataValue as MetadataValue,
    )
    from pipes_fast.results import (
        PipesExecutionResult as PipesExecutionResult,
    )
    from pipes_fast.session import (
        PipesSession as PipesSession,
    )
    from pipes_fast.session import (
        open_pipes_session as open_pipes_session,
    )


__getattr__, __dir__ = exports(__name__, _LAZY)
__all__ = ["__version__", *_LAZY]
