"""dagster-pipes' names that exist for type hints: the type variables of its generic writers, the
raw metadata value, and what a log writer's ``opened`` payload holds.

Loaded on first access from :mod:`pipes_fast.external` (they need ``typing``, which the rest of the
external side keeps out of its imports).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias, TypedDict, TypeVar

if TYPE_CHECKING:
    from pipes_fast.external.blob import PipesBlobStoreMessageWriterChannel
    from pipes_fast.external.log_writers import PipesLogWriterChannel
    from pipes_fast.external.writers import PipesMessageWriterChannel
    from pipes_fast.protocol import PipesExtras

T_MessageChannel = TypeVar("T_MessageChannel", bound="PipesMessageWriterChannel")
"""The channel a :class:`~pipes_fast.external.PipesMessageWriter` opens."""
T_LogChannel = TypeVar("T_LogChannel", bound="PipesLogWriterChannel")
"""The channel a :class:`~pipes_fast.external.PipesLogWriter` makes."""
T_BlobStoreMessageWriterChannel = TypeVar("T_BlobStoreMessageWriterChannel", bound="PipesBlobStoreMessageWriterChannel")
"""The channel a :class:`~pipes_fast.external.PipesBlobStoreMessageWriter` makes."""

PipesMetadataRawValue: TypeAlias = int | float | str | Mapping[str, Any] | Sequence[Any] | bool | None
"""A metadata value as given, without ``{"raw_value": ..., "type": ...}`` around it."""


class PipesLogWriterOpenedData(TypedDict):
    """What a log writer tells the orchestration side when it opens."""

    extras: PipesExtras
