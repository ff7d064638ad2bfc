"""The wire protocol's names and message construction, with no imports: what an external process
needs at run time.

:mod:`pipes_fast.protocol` re-exports all of it beside the protocol's shapes (TypedDicts,
Literals, an enum), which need ``typing`` and ``enum``: a Pipes process that imports only this
starts without them.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see above)
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, Optional

    from pipes_fast.protocol import Method, PipesMessage

PIPES_PROTOCOL_VERSION = "0.1"
PIPES_PROTOCOL_VERSION_FIELD = "__dagster_pipes_version"

DAGSTER_PIPES_CONTEXT_ENV_VAR = "DAGSTER_PIPES_CONTEXT"
DAGSTER_PIPES_MESSAGES_ENV_VAR = "DAGSTER_PIPES_MESSAGES"
DAGSTER_PIPES_CONTEXT_CLI_ARG = "--dagster-pipes-context"
DAGSTER_PIPES_MESSAGES_CLI_ARG = "--dagster-pipes-messages"

PIPES_METADATA_TYPE_INFER = "__infer__"
METADATA_TYPES: frozenset[str] = frozenset(
    (
        PIPES_METADATA_TYPE_INFER,
        "text",
        "url",
        "path",
        "notebook",
        "json",
        "md",
        "float",
        "int",
        "bool",
        "dagster_run",
        "asset",
        "null",
        "table",
        "table_schema",
        "table_column_lineage",
        "timestamp",
    )
)
"""Every metadata type: the values of :data:`pipes_fast.protocol.PipesMetadataType`."""

ESCAPE_CHARACTER = "\\"


def make_message(method: Method, params: Optional[Mapping[str, Any]]) -> PipesMessage:
    """Build a message dict as it travels on the wire."""
    message: dict[str, Any] = {
        PIPES_PROTOCOL_VERSION_FIELD: PIPES_PROTOCOL_VERSION,
        "method": method,
        "params": params,
    }
    return message  # type: ignore[return-value]
