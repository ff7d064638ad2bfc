"""The bootstrap codec: ``base64(zlib(json(params)))``, byte for byte as dagster-pipes encodes it.

One source for both hot-path implementations: a param is decoded once per process, and compiling
this gains nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any

from pipes_fast.errors import PipesParamError
from pipes_fast.protocol import DEFAULT_MAX_PARAM_BYTES


def encode_param(value: Any) -> str:
    """``base64(zlib(json(value)))``, byte for byte as dagster-pipes encodes it."""
    try:
        serialized = json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise PipesParamError(f"cannot encode param: value is not JSON-serialisable ({exc})") from None
    return base64.b64encode(zlib.compress(serialized.encode("utf-8"))).decode("ascii")


def decode_param(value: str | bytes, max_bytes: int = DEFAULT_MAX_PARAM_BYTES) -> Any:
    """Decode a bootstrap param; raise ``PipesParamError`` naming the step that failed.

    ``max_bytes`` bounds the inflated JSON so that a small hostile param cannot exhaust memory.
    """
    if not isinstance(value, (str, bytes)):
        raise PipesParamError(f"cannot decode param: expected str, got {type(value).__name__}")
    max_encoded = (max_bytes + max_bytes // 1000 + 64) * 4 // 3 + 4
    if len(value) > max_encoded:
        raise PipesParamError(
            f"cannot decode param: {len(value)} characters is longer than any param that "
            f"inflates to at most {max_bytes} bytes"
        )
    value = value.strip()
    if not value:
        raise PipesParamError("cannot decode param: it is empty")
    try:
        compressed = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PipesParamError(f"cannot decode param: not valid base64 ({exc})") from None
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(compressed, max_bytes + 1)
    except zlib.error as exc:
        raise PipesParamError(f"cannot decode param: not valid zlib data ({exc})") from None
    if len(raw) > max_bytes:
        raise PipesParamError(
            f"cannot decode param: it inflates past the limit of {max_bytes} bytes"
        )
    if not inflater.eof:
        raise PipesParamError("cannot decode param: zlib data is truncated")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PipesParamError(f"cannot decode param: JSON is not valid UTF-8 ({exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PipesParamError(f"cannot decode param: not valid JSON ({exc})") from None
    except ValueError as exc:  # an integer past sys.get_int_max_str_digits()
        raise PipesParamError(f"cannot decode param: its JSON holds a value Python refuses ({exc})") from None
    except RecursionError:
        raise PipesParamError("cannot decode param: JSON is nested too deeply") from None
