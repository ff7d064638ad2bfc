"""StepContext and the context data it produces, shaped as Dagster builds it."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone

import pytest

from pipes_fast import AssetKey, StepContext
from pipes_fast.context import build_context_data, new_run_id


def test_asset_step():
    context = StepContext(
        ["b/x", AssetKey(["a", "with/slash"])],
        run_id="r1",
        job_name="j",
        retry_number=2,
        code_version_by_asset_key={"b/x": "v7"},
        provenance_by_asset_key={"b/x": {"code_version": "v6", "input_data_versions": {}, "is_user_provided": True}},
    )
    data = build_context_data(context, {"k": [1, 2]})
    assert data["asset_keys"] == ["a/with\\/slash", "b/x"]
    assert data["code_version_by_asset_key"] == {"a/with\\/slash": None, "b/x": "v7"}
    assert data["provenance_by_asset_key"]["b/x"]["code_version"] == "v6"
    assert data["provenance_by_asset_key"]["a/with\\/slash"] is None
    assert (data["run_id"], data["job_name"], data["retry_number"], data["extras"]) == ("r1", "j", 2, {"k": [1, 2]})
    assert (
        data["partition_key"] is None and data["partition_key_range"] is None and data["partition_time_window"] is None
    )


def test_op_step_and_defaults():
    context = StepContext()
    data = build_context_data(context)
    assert (
        data["asset_keys"] is None
        and data["code_version_by_asset_key"] is None
        and data["provenance_by_asset_key"] is None
    )
    assert uuid.UUID(data["run_id"]) and data["retry_number"] == 0 and data["extras"] == {}
    assert isinstance(context.log, logging.Logger)


def test_a_partition_key_brings_its_one_key_range():
    data = build_context_data(StepContext("a", partition_key="2024-01-02"))
    assert data["partition_key"] == "2024-01-02"
    assert data["partition_key_range"] == {"start": "2024-01-02", "end": "2024-01-02"}


def test_explicit_ranges_and_time_windows():
    start = datetime(2024, 1, 2, tzinfo=timezone.utc)
    context = StepContext(
        "a", partition_key_range=("a", "c"), partition_time_window={"start": start, "end": "2024-01-03T00:00:00+00:00"}
    )
    data = build_context_data(context)
    assert data["partition_key_range"] == {"start": "a", "end": "c"}
    assert data["partition_time_window"] == {"start": "2024-01-02T00:00:00+00:00", "end": "2024-01-03T00:00:00+00:00"}


def test_a_bad_range_names_what_is_missing():
    with pytest.raises(ValueError, match="partition_key_range needs 'start' and 'end'"):
        StepContext(partition_key_range={"start": "a"})


def test_selected_asset_keys():
    assert StepContext(["a", "a", "b"]).selected_asset_keys == {AssetKey("a"), AssetKey("b")}
    assert StepContext().selected_asset_keys == frozenset()


def test_run_ids_are_random_version_4_uuids() -> None:
    ids = [new_run_id() for _ in range(1000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122
