"""Metadata resolution from the wire, on both implementations."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.strategies import json_values

from pipes_fast import AssetKey, MetadataValue
from pipes_fast.errors import MalformedParams
from pipes_fast.protocol import METADATA_TYPES
from pipes_fast.results import normalize_metadata


def entry(value, kind="__infer__"):
    return {"raw_value": value, "type": kind}


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (3, "int"),
        (2.5, "float"),
        ("s", "text"),
        (True, "bool"),
        (False, "bool"),
        (None, "null"),
        ({"a": 1}, "json"),
        ([1, 2], "json"),
    ],
)
def test_infer_resolves_from_the_raw_value(hotpath, value, kind):
    assert hotpath.resolve_metadata({"m": entry(value)}, pytest.fail) == {"m": hotpath.MetadataValue(kind, value)}


def test_explicit_types_are_kept_and_assets_become_keys(hotpath):
    raw = {
        "u": entry("http://x", "url"),
        "n": entry(1, "float"),
        "a": entry("db/orders", "asset"),
        "t": entry({"records": [], "schema": []}, "table"),
        "ts": entry(1.7e9, "timestamp"),
    }
    resolved = hotpath.resolve_metadata(raw, pytest.fail)
    assert resolved["u"] == hotpath.MetadataValue("url", "http://x")
    assert resolved["n"] == hotpath.MetadataValue("float", 1)
    assert resolved["a"] == hotpath.MetadataValue("asset", AssetKey(["db", "orders"]))
    assert resolved["t"].type == "table" and resolved["ts"].type == "timestamp"


def test_an_unknown_type_is_a_warning_and_inferred(hotpath):
    warnings = []
    resolved = hotpath.resolve_metadata({"m": entry(5, "fancy")}, warnings.append)
    assert resolved == {"m": hotpath.MetadataValue("int", 5)}
    assert warnings == ["metadata entry 'm' has unknown type 'fancy'; inferring its type from the value"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([1], "metadata must be an object, got list"),
        ({"m": 5}, "metadata entry 'm' must be an object with 'raw_value' and 'type'"),
        ({"m": {"type": "int"}}, "metadata entry 'm' must be an object"),
        ({"m": entry(5, "asset")}, "of type 'asset' must be a string"),
    ],
)
def test_malformed_metadata_raises(hotpath, raw, message):
    with pytest.raises(MalformedParams, match=message):
        hotpath.resolve_metadata(raw, pytest.fail)


def test_none_and_empty(hotpath):
    assert hotpath.resolve_metadata(None, pytest.fail) == {}
    assert hotpath.resolve_metadata({}, pytest.fail) == {}


@settings(max_examples=200)
@given(
    raw=st.dictionaries(
        st.text(max_size=5),
        st.fixed_dictionaries(
            {"raw_value": json_values, "type": st.sampled_from(sorted(METADATA_TYPES - {"asset"}) + ["weird"])}
        ),
        max_size=5,
    )
)
def test_implementations_agree(both, raw):
    compiled, pure = both
    warned: list[list[str]] = [[], []]
    assert repr(compiled.resolve_metadata(raw, warned[0].append)) == repr(pure.resolve_metadata(raw, warned[1].append))
    assert warned[0] == warned[1]


def test_metadata_value_checks_its_type_and_infers_user_values():
    with pytest.raises(ValueError, match="unknown metadata type '__infer__'"):
        MetadataValue("__infer__", 1)
    assert normalize_metadata({"a": 1, "b": MetadataValue("url", "u"), "k": AssetKey("x")}) == {
        "a": MetadataValue("int", 1),
        "b": MetadataValue("url", "u"),
        "k": MetadataValue("asset", AssetKey("x")),
    }
    with pytest.raises(TypeError, match="cannot infer a metadata type for object"):
        MetadataValue.infer(object())
