"""AssetKey: Dagster's escaping rules, equality and coercion."""

from __future__ import annotations

import dagster
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipes_fast import AssetKey

parts = st.lists(st.text(alphabet=st.sampled_from("ab/\\_é"), max_size=4), min_size=1, max_size=4)


@given(path=parts)
def test_escaping_matches_dagster(path):
    ours, theirs = AssetKey(path), dagster.AssetKey(path)
    escaped = theirs.to_escaped_user_string()
    assert ours.to_escaped_user_string() == escaped
    assert AssetKey.from_escaped_user_string(escaped).path == tuple(
        dagster.AssetKey.from_escaped_user_string(escaped).path
    )
    assert ours.to_user_string() == theirs.to_user_string()


@pytest.mark.parametrize("text", ["a", "a/b", "a/", "/a", "a//b", "a\\/b/c", "a\\\\/b", "x\\", "a/\\", ""])
def test_parsing_edge_cases_match_dagster(text):
    assert AssetKey.from_escaped_user_string(text).path == tuple(dagster.AssetKey.from_escaped_user_string(text).path)
    assert AssetKey.from_user_string(text).path == tuple(dagster.AssetKey.from_user_string(text).path)


def test_equality_hash_order_and_coercion():
    assert AssetKey(["a", "b"]) == AssetKey(("a", "b")) == AssetKey.coerce("a/b")
    assert len({AssetKey("a"), AssetKey(["a"]), AssetKey.coerce(["a"])}) == 1
    assert sorted([AssetKey("b"), AssetKey(["a", "z"])]) == [AssetKey(["a", "z"]), AssetKey("b")]
    assert AssetKey("a") != "a"
    assert repr(AssetKey(["a", "b"])) == "AssetKey(['a', 'b'])"


@pytest.mark.parametrize("bad", [[1], None, ["a", 2]])
def test_bad_keys_are_rejected(bad):
    with pytest.raises(TypeError, match="a sequence of strings"):
        AssetKey(bad)
