"""pipes_fast.external: what an external process imports to read its context and report back.

A drop-in for ``dagster_pipes`` 1.13: change ``from dagster_pipes import ...`` to
``from pipes_fast.external import ...`` and nothing else. Every public name of dagster-pipes is
here (but its GCS, Azure Blob and DBFS classes), with the same signature, and a call that
dagster-pipes refuses with a builtin error (``TypeError``...) raises a ``DagsterPipesError`` that
is also that error. The file message writer keeps its file
open and writes each message with a single ``write``. The blob-store writers (a directory, S3)
upload promptly, atomically where the store allows, and zstd-compressed when the reader accepts it.

Importing this is cheap: orjson, json, logging, threading and the hot-path codec load when first
needed, and the protocol's constants and TypedDicts (``PipesContextData``, ``PipesMessage``, ...)
load from :mod:`pipes_fast.protocol` on first access. The modules of this package keep ``typing``
out of their imports for the same reason (``TYPE_CHECKING = False`` stands in for
``typing.TYPE_CHECKING``; type checkers treat both alike).
"""

from __future__ import annotations

from pipes_fast._logic.wire import make_message as _make_message  # noqa: F401 - dagster-pipes' own tests import it
from pipes_fast.external.context import PipesContext, open_dagster_pipes, open_pipes
from pipes_fast.external.errors import DagsterPipesError, DagsterPipesWarning
from pipes_fast.external.loaders import PipesContextLoader, PipesDefaultContextLoader
from pipes_fast.external.params import (
    PipesCliArgsParamsLoader,
    PipesEnvVarParamsLoader,
    PipesMappingParamsLoader,
    PipesParamsLoader,
    decode_env_var,
    decode_param,
    encode_env_var,
    encode_param,
)
from pipes_fast.external.writers import (
    PipesBufferedStreamMessageWriterChannel,
    PipesDefaultMessageWriter,
    PipesFileMessageWriterChannel,
    PipesMessageWriter,
    PipesMessageWriterChannel,
    PipesStreamMessageWriterChannel,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pipes_fast._logic.wire import to_asset_key_path as to_asset_key_path
    from pipes_fast.external.blob import (
        PipesBlobStoreMessageWriter as PipesBlobStoreMessageWriter,
    )
    from pipes_fast.external.blob import (
        PipesBlobStoreMessageWriterChannel as PipesBlobStoreMessageWriterChannel,
    )
    from pipes_fast.external.blob import (
        PipesBufferedFilesystemMessageWriterChannel as PipesBufferedFilesystemMessageWriterChannel,
    )
    from pipes_fast.external.blob import (
        PipesUnityCatalogVolumesMessageWriter as PipesUnityCatalogVolumesMessageWriter,
    )
    from pipes_fast.external.cli import DAGSTER_PIPES_CLI_PARSER as DAGSTER_PIPES_CLI_PARSER
    from pipes_fast.external.databricks import (
        DAGSTER_PIPES_CONTEXT_WIDGET_KEY as DAGSTER_PIPES_CONTEXT_WIDGET_KEY,
    )
    from pipes_fast.external.databricks import (
        DAGSTER_PIPES_MESSAGES_WIDGET_KEY as DAGSTER_PIPES_MESSAGES_WIDGET_KEY,
    )
    from pipes_fast.external.databricks import (
        PipesDatabricksNotebookWidgetsParamsLoader as PipesDatabricksNotebookWidgetsParamsLoader,
    )
    from pipes_fast.external.databricks import (
        PipesUnityCatalogVolumesContextLoader as PipesUnityCatalogVolumesContextLoader,
    )
    from pipes_fast.external.log_writers import (
        PipesDefaultLogWriter as PipesDefaultLogWriter,
    )
    from pipes_fast.external.log_writers import (
        PipesDefaultLogWriterChannel as PipesDefaultLogWriterChannel,
    )
    from pipes_fast.external.log_writers import (
        PipesLogWriter as PipesLogWriter,
    )
    from pipes_fast.external.log_writers import (
        PipesLogWriterChannel as PipesLogWriterChannel,
    )
    from pipes_fast.external.log_writers import (
        PipesStdioFileLogWriter as PipesStdioFileLogWriter,
    )
    from pipes_fast.external.log_writers import (
        PipesStdioFileLogWriterChannel as PipesStdioFileLogWriterChannel,
    )
    from pipes_fast.external.log_writers import (
        PipesStdioLogWriter as PipesStdioLogWriter,
    )
    from pipes_fast.external.log_writers import (
        PipesStdioLogWriterChannel as PipesStdioLogWriterChannel,
    )
    from pipes_fast.external.prefect import (
        PipesPrefectLogsMessageWriter as PipesPrefectLogsMessageWriter,
    )
    from pipes_fast.external.prefect import (
        PipesPrefectLogsMessageWriterChannel as PipesPrefectLogsMessageWriterChannel,
    )
    from pipes_fast.external.s3 import (
        PipesS3ContextLoader as PipesS3ContextLoader,
    )
    from pipes_fast.external.s3 import (
        PipesS3MessageWriter as PipesS3MessageWriter,
    )
    from pipes_fast.external.s3 import (
        PipesS3MessageWriterChannel as PipesS3MessageWriterChannel,
    )
    from pipes_fast.external.stdio import (
        PipesStdioCapture as PipesStdioCapture,
    )
    from pipes_fast.external.stdio import (
        PipesStdioCapturingChannel as PipesStdioCapturingChannel,
    )
    from pipes_fast.external.threads import ExcThread as ExcThread
    from pipes_fast.external.typed import (
        PipesLogWriterOpenedData as PipesLogWriterOpenedData,
    )
    from pipes_fast.external.typed import (
        PipesMetadataRawValue as PipesMetadataRawValue,
    )
    from pipes_fast.external.typed import (
        T_BlobStoreMessageWriterChannel as T_BlobStoreMessageWriterChannel,
    )
    from pipes_fast.external.typed import (
        T_LogChannel as T_LogChannel,
    )
    from pipes_fast.external.typed import (
        T_MessageChannel as T_MessageChannel,
    )
    from pipes_fast.protocol import (
        DAGSTER_PIPES_CONTEXT_CLI_ARG,
        DAGSTER_PIPES_MESSAGES_CLI_ARG,
    )
    from pipes_fast.protocol import (
        DAGSTER_PIPES_CONTEXT_ENV_VAR as DAGSTER_PIPES_CONTEXT_ENV_VAR,
    )
    from pipes_fast.protocol import (
        DAGSTER_PIPES_MESSAGES_ENV_VAR as DAGSTER_PIPES_MESSAGES_ENV_VAR,
    )
    from pipes_fast.protocol import (
        ESCAPE_CHARACTER as ESCAPE_CHARACTER,
    )
    from pipes_fast.protocol import (
        PIPES_METADATA_TYPE_INFER as PIPES_METADATA_TYPE_INFER,
    )
    from pipes_fast.protocol import (
        PIPES_PROTOCOL_VERSION as PIPES_PROTOCOL_VERSION,
    )
    from pipes_fast.protocol import (
        PIPES_PROTOCOL_VERSION_FIELD as PIPES_PROTOCOL_VERSION_FIELD,
    )
    from pipes_fast.protocol import (
        Method as Method,
    )
    from pipes_fast.protocol import (
        PipesAssetCheckSeverity as PipesAssetCheckSeverity,
    )
    from pipes_fast.protocol import (
        PipesContextData as PipesContextData,
    )
    from pipes_fast.protocol import (
        PipesDataProvenance as PipesDataProvenance,
    )
    from pipes_fast.protocol import (
        PipesException as PipesException,
    )
    from pipes_fast.protocol import (
        PipesExtras as PipesExtras,
    )
    from pipes_fast.protocol import (
        PipesMessage as PipesMessage,
    )
    from pipes_fast.protocol import (
        PipesMetadataType as PipesMetadataType,
    )
    from pipes_fast.protocol import (
        PipesMetadataValue as PipesMetadataValue,
    )
    from pipes_fast.protocol import (
        PipesOpenedData as PipesOpenedData,
    )
    from pipes_fast.protocol import (
        PipesParams as PipesParams,
    )
    from pipes_fast.protocol import (
        PipesPartitionKeyRange as PipesPartitionKeyRange,
    )
    from pipes_fast.protocol import (
        PipesTimeWindow as PipesTimeWindow,
    )

    DAGSTER_PIPES_CONTEXT_CLI_ARGUMENT = DAGSTER_PIPES_CONTEXT_CLI_ARG  # dagster-pipes' names
    DAGSTER_PIPES_MESSAGES_CLI_ARGUMENT = DAGSTER_PIPES_MESSAGES_CLI_ARG

# public name -> (module, name there), loaded on first access
_LAZY: dict[str, tuple[str, str]] = {
    **{
        name: ("pipes_fast.external.blob", name)
        for name in (
            "PipesBlobStoreMessageWriter",
            "PipesBlobStoreMessageWriterChannel",
            "PipesBufferedFilesystemMessageWriterChannel",
            "PipesUnityCatalogVolumesMessageWriter",
        )
    },
    **{
        name: ("pipes_fast.external.s3", name)
        for name in ("PipesS3ContextLoader", "PipesS3MessageWriter", "PipesS3MessageWriterChannel")
    },
    **{
        name: (f"pipes_fast.external.{module}", name)
        for module, names in (
            ("cli", ["DAGSTER_PIPES_CLI_PARSER"]),
            ("threads", ["ExcThread"]),
            (
                "databricks",
                [
                    "DAGSTER_PIPES_CONTEXT_WIDGET_KEY",
                    "DAGSTER_PIPES_MESSAGES_WIDGET_KEY",
                    "PipesDatabricksNotebookWidgetsParamsLoader",
                    "PipesUnityCatalogVolumesContextLoader",
                ],
            ),
            (
                "log_writers",
                [
                    "PipesDefaultLogWriter",
                    "PipesDefaultLogWriterChannel",
                    "PipesLogWriter",
                    "PipesLogWriterChannel",
                    "PipesStdioFileLogWriter",
                    "PipesStdioFileLogWriterChannel",
                    "PipesStdioLogWriter",
                    "PipesStdioLogWriterChannel",
                ],
            ),
            ("prefect", ["PipesPrefectLogsMessageWriter", "PipesPrefectLogsMessageWriterChannel"]),
            (
                "typed",
                [
                    "PipesLogWriterOpenedData",
                    "PipesMetadataRawValue",
                    "T_BlobStoreMessageWriterChannel",
                    "T_LogChannel",
                    "T_MessageChannel",
                ],
            ),
        )
        for name in names
    },
    "PipesStdioCapture": ("pipes_fast.external.stdio", "PipesStdioCapture"),
    "to_asset_key_path": ("pipes_fast._logic.wire", "to_asset_key_path"),
    "PipesStdioCapturingChannel": ("pipes_fast.external.stdio", "PipesStdioCapturingChannel"),
    "DAGSTER_PIPES_CONTEXT_CLI_ARGUMENT": ("pipes_fast.protocol", "DAGSTER_PIPES_CONTEXT_CLI_ARG"),
    "DAGSTER_PIPES_MESSAGES_CLI_ARGUMENT": ("pipes_fast.protocol", "DAGSTER_PIPES_MESSAGES_CLI_ARG"),
    **{
        name: ("pipes_fast.protocol", name)
        for name in (
            "DAGSTER_PIPES_CONTEXT_ENV_VAR",
            "DAGSTER_PIPES_MESSAGES_ENV_VAR",
            "ESCAPE_CHARACTER",
            "PIPES_METADATA_TYPE_INFER",
            "PIPES_PROTOCOL_VERSION",
            "PIPES_PROTOCOL_VERSION_FIELD",
            "Method",
            "PipesAssetCheckSeverity",
            "PipesContextData",
            "PipesDataProvenance",
            "PipesException",
            "PipesExtras",
            "PipesMessage",
            "PipesMetadataType",
            "PipesMetadataValue",
            "PipesOpenedData",
            "PipesParams",
            "PipesPartitionKeyRange",
            "PipesTimeWindow",
        )
    },
}


def __getattr__(name: str) -> object:
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'pipes_fast.external' has no attribute {name!r}") from None
    from importlib import import_module

    value = getattr(import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "DagsterPipesError",
    "DagsterPipesWarning",
    "PipesBufferedStreamMessageWriterChannel",
    "PipesCliArgsParamsLoader",
    "PipesContext",
    "PipesContextLoader",
    "PipesDefaultContextLoader",
    "PipesDefaultMessageWriter",
    "PipesEnvVarParamsLoader",
    "PipesFileMessageWriterChannel",
    "PipesMappingParamsLoader",
    "PipesMessageWriter",
    "PipesMessageWriterChannel",
    "PipesParamsLoader",
    "PipesStreamMessageWriterChannel",
    "decode_env_var",
    "decode_param",
    "encode_env_var",
    "encode_param",
    "open_dagster_pipes",
    "open_pipes",
    *_LAZY,
]
