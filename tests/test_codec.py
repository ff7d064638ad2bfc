"""The bootstrap codec: byte-compatible with dagster-pipes, and hostile input gets a clear error."""

from __future__ import annotations

import base64
import json
import zlib

import dagster_pipes
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pipes_fast
from pipes_fast.errors import PipesError

# every JSON value, big integers included (the codec uses the standard json module)
any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=200)
@given(value=any_json)
def test_round_trips_with_dagster_pipes_both_ways(hotpath, value):
    assert hotpath.decode_param(dagster_pipes.encode_param(value)) == value
    assert dagster_pipes.decode_param(hotpath.encode_param(value)) == value
    assert hotpath.encode_param(value) == dagster_pipes.encode_param(value)


def test_public_names(hotpath):
    assert pipes_fast.decode_param(pipes_fast.encode_param({"path": "/tmp/x"})) == {"path": "/tmp/x"}


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    ("param", "step"),
    [
        ("not base64 at all!", "not valid base64"),
        ("YWJ", "not valid base64"),
        (_b64(b"plain bytes, not zlib"), "not valid zlib data"),
        (_b64(zlib.compress(b'{"a": 1}')[:-6]), "zlib data is truncated"),
        (_b64(zlib.compress(b"{not json")), "not valid JSON"),
        (_b64(zlib.compress(b'"\xff\xfe"')), "not valid UTF-8"),
        (_b64(zlib.compress(b"[" * 100_000 + b"]" * 100_000)), "nested too deeply"),
        (12345, "expected str, got int"),
    ],
)
def test_hostile_params_raise_a_pipes_error_naming_the_step(hotpath, param, step):
    with pytest.raises(PipesError, match=step) as info:
        hotpath.decode_param(param)
    assert "cannot decode param" in str(info.value)


def test_a_decompression_bomb_stops_at_the_limit(hotpath):
    bomb = _b64(zlib.compress(b'"' + b"a" * (80 * 1024 * 1024) + b'"', 9))
    assert len(bomb) < 200_000
    with pytest.raises(PipesError, match="inflates past the limit of 67108864 bytes"):
        hotpath.decode_param(bomb)


def test_the_limit_is_configurable(hotpath):
    encoded = hotpath.encode_param({"k": "v" * 1000})
    assert hotpath.decode_param(encoded, max_bytes=2000) == {"k": "v" * 1000}
    with pytest.raises(PipesError, match="limit of 500 bytes"):
        hotpath.decode_param(encoded, max_bytes=500)


def test_an_oversized_param_is_refused_before_decoding(hotpath):
    with pytest.raises(PipesError, match="longer than any param"):
        hotpath.decode_param("A" * 10_000, max_bytes=1000)


def test_surrounding_whitespace_is_tolerated(hotpath):
    assert hotpath.decode_param("  " + hotpath.encode_param([1, 2]) + "\n") == [1, 2]


def test_unserialisable_values_raise_a_pipes_error(hotpath):
    with pytest.raises(PipesError, match="not JSON-serialisable"):
        hotpath.encode_param({"when": object()})


def test_errors_are_also_value_errors(hotpath):
    with pytest.raises(ValueError):
        hotpath.decode_param("%%%")


def test_matches_the_wire_format_description(hotpath):
    value = {"path": "/tmp/ctx.json"}
    raw = zlib.decompress(base64.b64decode(hotpath.encode_param(value)))
    assert json.loads(raw) == value
