"""Hypothesis strategies for Pipes messages and byte streams."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import strategies as st

from pipes_fast.protocol import PIPES_PROTOCOL_VERSION, PIPES_PROTOCOL_VERSION_FIELD

# orjson stores integers in 64 bits and rejects NaN/inf; stay inside what it round-trips.
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)

class Text(str):
    pass


class Number(int):
    pass


class Real(float):
    pass


builtin_subclasses = (
    st.builds(Text, st.text(max_size=5)) | st.builds(Number, st.integers()) | st.builds(Real, st.floats(allow_nan=False))
)
"""Instances of subclasses of str, int and float: JSON values that encoders may write differently."""

methods = st.sampled_from(
    ["opened", "closed", "log", "report_asset_materialization", "report_asset_check",
     "report_custom_message", "log_external_stream"]
)


@st.composite
def messages(draw: Any) -> dict:
    params = draw(st.none() | st.dictionaries(st.text(max_size=10), json_values, max_size=4))
    return {PIPES_PROTOCOL_VERSION_FIELD: PIPES_PROTOCOL_VERSION, "method": draw(methods), "params": params}


@st.composite
def split_points(draw: Any, data: bytes) -> list[bytes]:
    """``data`` cut into consecutive pieces at arbitrary points (empty pieces included)."""
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=12)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


def encode_stream(msgs: list[dict], crlf: bool = False) -> bytes:
    end = b"\r\n" if crlf else b"\n"
    return b"".join(orjson.dumps(m) + end for m in msgs)
