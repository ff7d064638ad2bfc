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


def to_asset_key_path(asset_key: str) -> list[str]:
    r"""The parts of an escaped asset key: ``"a/b\/c"`` is ``["a", "b/c"]``.

    As Dagster and dagster-pipes read it: an empty last part is left out (``"a/"`` is ``["a"]``,
    ``""`` is ``[]``) and a ``\`` at the very end is dropped.
    """
    if ESCAPE_CHARACTER not in asset_key:
        parts = asset_key.split("/")
        return parts[:-1] if not parts[-1] else parts
    parts = []
    part: list[str] = []
    characters = iter(asset_key)
    for character in characters:
        if character == ESCAPE_CHARACTER:
            part.append(next(characters, ""))
        elif character == "/":
            parts.append("".join(part))
            part = []
        else:
            part.append(character)
    last = "".join(part)
    return [*parts, last] if last else parts
