"""The bootstrap codec: byte-compatible with dagster-pipes, and hostile input gets a clear error."""

from __future__ import annotations

import base64
import json
import sys
import zlib
from collections.abc import Callable
from typing import Any

import dagster_pipes
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pipes_fast
from pipes_fast._logic import codec as _codec
from pipes_fast.errors import PipesError, PipesParamError

# every JSON value, big integers included (the codec decodes as the standard json module does)
any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=200)
@given(value=any_json)
def test_round_trips_with_dagster_pipes_both_ways(value):
    assert _codec.decode_param(dagster_pipes.encode_param(value)) == value
    assert dagster_pipes.decode_param(_codec.encode_param(value)) == value
    assert _codec.encode_param(value) == dagster_pipes.encode_param(value)


@settings(max_examples=200)
@given(value=any_json | st.builds(lambda text, times: text * times, st.text(min_size=1), st.integers(1, 50_000)))
def test_a_session_s_bootstrap_params_inflate_to_their_value_in_dagster_pipes(value):
    """The session's own encoding (a window and a hash sized to the document) is still zlib that
    dagster-pipes' decoder inflates, for documents from empty to beyond the largest window."""
    encoded = _codec.encode_bootstrap_param(value)
    assert dagster_pipes.decode_param(encoded) == value
    assert _codec.decode_param(encoded) == value


def test_public_names():
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
        (_b64(zlib.compress(b"[" + b"7" * (sys.get_int_max_str_digits() + 1) + b"]")), "integer string conversion"),
        ("", "it is empty"),
        (" \n", "it is empty"),
        (12345, "expected str, got int"),
    ],
)
@pytest.mark.reliability("bootstrap-errors")
def test_hostile_params_raise_a_pipes_error_naming_the_step(param, step):
    with pytest.raises(PipesError, match=step) as info:
        _codec.decode_param(param)
    assert "cannot decode param" in str(info.value)


def _layered(raw: bytes) -> st.SearchStrategy[str]:
    """``raw`` as it would reach each decoding step: bare, base64 only, base64 of zlib."""
    return st.sampled_from([raw.decode("latin-1"), _b64(raw), _b64(zlib.compress(raw))])


# input that fails at every step: arbitrary text and bytes, base64 of arbitrary bytes, zlib of
# arbitrary bytes and text, JSON-like text with huge numbers and deep nesting
hostile = (
    st.text()
    | st.binary()
    | st.binary().flatmap(_layered)
    | st.text().map(str.encode).flatmap(_layered)
    | st.integers(1, 2 * sys.get_int_max_str_digits()).map(lambda n: ("-" + "9" * n).encode()).flatmap(_layered)
    | st.integers(1, 5000).map(lambda n: b"[" * n).flatmap(_layered)
)


@pytest.mark.reliability("bootstrap-errors")
@settings(deadline=None, max_examples=300)
@given(param=hostile)
def test_only_a_param_error_comes_out_of_hostile_input(param: str | bytes) -> None:
    try:
        _codec.decode_param(param)
    except PipesParamError as error:
        assert str(error).startswith("cannot decode param: ")


@pytest.mark.reliability("param-bombs")
def test_a_decompression_bomb_stops_at_the_limit() -> None:
    bomb = _b64(zlib.compress(b'"' + b"a" * (80 * 1024 * 1024) + b'"', 9))
    assert len(bomb) < 200_000
    with pytest.raises(PipesError, match="inflates past the limit of 67108864 bytes"):
        _codec.decode_param(bomb)


def test_the_limit_is_configurable():
    encoded = _codec.encode_param({"k": "v" * 1000})
    assert _codec.decode_param(encoded, max_bytes=2000) == {"k": "v" * 1000}
    with pytest.raises(PipesError, match="limit of 500 bytes"):
        _codec.decode_param(encoded, max_bytes=500)


def test_an_oversized_param_is_refused_before_decoding():
    with pytest.raises(PipesError, match="longer than any param"):
        _codec.decode_param("A" * 10_000, max_bytes=1000)


def test_surrounding_whitespace_is_tolerated():
    assert _codec.decode_param("  " + _codec.encode_param([1, 2]) + "\n") == [1, 2]


def test_unserialisable_values_raise_a_pipes_error():
    with pytest.raises(PipesError, match="not JSON-serialisable"):
        _codec.encode_param({"when": object()})


def test_errors_are_also_value_errors():
    with pytest.raises(ValueError):
        _codec.decode_param("%%%")


_whitespace = st.text(" \t\n\r", max_size=3)
# documents as json.dumps writes them, padded, sometimes with something after or a BOM before
padded_json = st.builds(
    lambda bom, before, value, after, tail: bom + before + json.dumps(value) + after + tail,
    st.sampled_from(["", "\ufeff"]),
    _whitespace,
    any_json | st.floats(),
    _whitespace,
    st.sampled_from(["", "x", "]", "1", "\x00"]),
)


def _loads(decode: Callable[[str], Any], text: str) -> str:
    """What ``decode(text)`` gives or raises, comparable (NaN included)."""
    try:
        return repr(decode(text))
    except (ValueError, RecursionError) as error:
        return f"{type(error).__name__}: {error}"


@settings(max_examples=400)
@given(text=st.text() | padded_json)
def test_decode_json_is_json_loads(text: str) -> None:
    assert _loads(_codec.decode_json, text) == _loads(json.loads, text)


@pytest.mark.parametrize("text", ['{"a": [1, 2.5, null, true]}', " [1] ", "[1] x", "", "\ufeff[]", '["\n"]', "[NaN]"])
def test_decode_json_without_the_c_scanner_is_json_loads(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(_codec, "_scan", None)  # as where _json is missing
    assert _loads(_codec.decode_json, text) == _loads(json.loads, text)


def test_matches_the_wire_format_description():
    value = {"path": "/tmp/ctx.json"}
    raw = zlib.decompress(base64.b64decode(_codec.encode_param(value)))
    assert json.loads(raw) == value
