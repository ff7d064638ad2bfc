"""What a step is, and the context data the external process receives about it."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Optional, Union

from pipes_fast.assets import AssetKey
from pipes_fast.protocol import (
    PipesContextData,
    PipesDataProvenance,
    PipesExtras,
    PipesPartitionKeyRange,
    PipesTimeWindow,
)

AssetKeyLike = Union[AssetKey, str, Iterable[str]]
RangeLike = Union[tuple[Any, Any], Mapping[str, Any]]


def _pair(value: RangeLike, what: str) -> tuple[Any, Any]:
    if isinstance(value, Mapping):
        try:
            return value["start"], value["end"]
        except KeyError:
            raise ValueError(f"{what} needs 'start' and 'end', got {dict(value)!r}") from None
    start, end = value
    return start, end


def new_run_id() -> str:
    """A random run id, as ``str(uuid.uuid4())`` writes one (without importing :mod:`uuid`, which
    costs 5 ms of a command's start-up)."""
    value = int.from_bytes(os.urandom(16), "big")
    value = value & ~(0xF000 << 64) | (0x4000 << 64)  # version 4
    value = value & ~(0xC000 << 48) | (0x8000 << 48)  # RFC 4122 variant
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _iso(value: Union[str, datetime]) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


class StepContext:
    """The op or asset step an external process runs for, standing in for Dagster's context.

    ``asset_keys=None`` is an op step (no assets); a ``str`` key is a slash-separated user string.
    ``run_id`` defaults to a fresh UUID and ``log`` to the ``pipes_fast`` logger.
    """

    def __init__(
        self,
        asset_keys: Optional[Iterable[AssetKeyLike]] = None,
        *,
        run_id: Optional[str] = None,
        job_name: Optional[str] = None,
        retry_number: int = 0,
        partition_key: Optional[str] = None,
        partition_key_range: Optional[RangeLike] = None,
        partition_time_window: Optional[RangeLike] = None,
        code_version_by_asset_key: Optional[Mapping[AssetKeyLike, Optional[str]]] = None,
        provenance_by_asset_key: Optional[Mapping[AssetKeyLike, Optional[PipesDataProvenance]]] = None,
        log: Optional[logging.Logger] = None,
    ) -> None:
        if isinstance(asset_keys, (str, AssetKey)):
            asset_keys = [asset_keys]
        self.asset_keys: Optional[tuple[AssetKey, ...]] = (
            None if asset_keys is None else tuple(sorted({AssetKey.coerce(k) for k in asset_keys}))
        )
        self.run_id = run_id or new_run_id()
        self.job_name = job_name
        self.retry_number = retry_number
        self.partition_key = partition_key
        if partition_key_range is None and partition_key is not None:
            partition_key_range = (partition_key, partition_key)
        self.partition_key_range = (
            None if partition_key_range is None else _pair(partition_key_range, "partition_key_range")
        )
        window = None if partition_time_window is None else _pair(partition_time_window, "partition_time_window")
        self.partition_time_window = None if window is None else (_iso(window[0]), _iso(window[1]))
        self.code_version_by_asset_key = {AssetKey.coerce(k): v for k, v in (code_version_by_asset_key or {}).items()}
        self.provenance_by_asset_key = {AssetKey.coerce(k): v for k, v in (provenance_by_asset_key or {}).items()}
        self.log = log or logging.getLogger("pipes_fast")

    @property
    def has_assets(self) -> bool:
        return self.asset_keys is not None

    @property
    def selected_asset_keys(self) -> frozenset[AssetKey]:
        return frozenset(self.asset_keys or ())

    def __repr__(self) -> str:
        keys = None if self.asset_keys is None else [k.to_user_string() for k in self.asset_keys]
        return f"StepContext(asset_keys={keys!r}, run_id={self.run_id!r}, partition_key={self.partition_key!r})"


def build_context_data(context: StepContext, extras: Optional[PipesExtras] = None) -> PipesContextData:
    """The context data Dagster would build for this step: keys escaped and sorted, ranges as dicts."""
    keys = context.asset_keys
    escaped = None if keys is None else [k.to_escaped_user_string() for k in keys]
    key_range = context.partition_key_range
    window = context.partition_time_window
    return {
        "asset_keys": escaped,
        "code_version_by_asset_key": None
        if keys is None
        else {k.to_escaped_user_string(): context.code_version_by_asset_key.get(k) for k in keys},
        "provenance_by_asset_key": None
        if keys is None
        else {k.to_escaped_user_string(): context.provenance_by_asset_key.get(k) for k in keys},
        "partition_key": context.partition_key,
        "partition_key_range": None
        if key_range is None
        else PipesPartitionKeyRange(start=key_range[0], end=key_range[1]),
        "partition_time_window": None if window is None else PipesTimeWindow(start=window[0], end=window[1]),
        "run_id": context.run_id,
        "job_name": context.job_name,
        "retry_number": context.retry_number,
        "extras": dict(extras or {}),
    }
