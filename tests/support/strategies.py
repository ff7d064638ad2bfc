"""Hypothesis strategies for Pipes messages and byte streams: pipes_fast.testing's, under the names
the tests import, and a few only the tests need."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import strategies as st

from pipes_fast import testing

json_scalars = testing.json_scalars()
json_values = testing.json_values()
messages = testing.messages
split_points = testing.split_writes


class Text(str):
    pass


class Number(int):
    pass


class Real(float):
    pass


builtin_subclasses = (
    st.builds(Text, st.text(max_size=5))
    | st.builds(Number, st.integers())
    | st.builds(Real, st.floats(allow_nan=False))
)
"""Instances of subclasses of str, int and float: JSON values that encoders may write differently."""


def encode_stream(msgs: list[Any], crlf: bool = False) -> bytes:
    """The messages as orjson frames them, one line each."""
    end = b"\r\n" if crlf else b"\n"
    return b"".join(orjson.dumps(m) + end for m in msgs)
