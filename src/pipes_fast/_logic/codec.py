"""The bootstrap codec: ``base64(zlib(json(params)))``, byte for byte as dagster-pipes encodes it.

One source for both hot-path implementations: a param is decoded once per process, and compiling
this gains nothing. Decoding is on every Pipes process's start-up path, so it imports only C
modules (``binascii``, ``zlib``, ``_json``): not ``json``, ``base64`` nor the ``re`` both load,
except to say why an input is not valid JSON. Encoding is the orchestration side's and uses them.
"""

from __future__ import annotations

import binascii
import sys
import zlib

from pipes_fast.errors import PipesParamError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see above)
if TYPE_CHECKING:
    from typing import Any, Callable

DEFAULT_MAX_PARAM_BYTES = 64 * 1024 * 1024
"""Largest size a bootstrap param may inflate to before ``decode_param`` refuses it."""

_JSON_WHITESPACE = " \t\n\r"


def encode_param(value: Any) -> str:
    """``base64(zlib(json(value)))``, byte for byte as dagster-pipes encodes it."""
    return _base64(zlib.compress(_serialize(value)))


def encode_bootstrap_param(value: Any) -> str:
    """``encode_param``'s value, deflated with a window and a hash no larger than the document
    needs: any zlib reader inflates it, and a small param takes a tenth of the time (setting up
    zlib's default 256 KiB state takes about 40 µs here, twice per session)."""
    data = _serialize(value)
    window_bits = min(max(len(data).bit_length(), 9), 15)
    deflater = zlib.compressobj(6, zlib.DEFLATED, window_bits, window_bits - 7)
    return _base64(deflater.compress(data) + deflater.flush())


def _serialize(value: Any) -> bytes:
    import json

    try:
        return json.dumps(value).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise PipesParamError(f"cannot encode param: value is not JSON-serialisable ({exc})") from None


def _base64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


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
        compressed = _b64decode(value)
    except ValueError as exc:  # binascii.Error is one
        raise PipesParamError(f"cannot decode param: not valid base64 ({exc})") from None
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(compressed, max_bytes + 1)
    except zlib.error as exc:
        raise PipesParamError(f"cannot decode param: not valid zlib data ({exc})") from None
    if len(raw) > max_bytes:
        raise PipesParamError(f"cannot decode param: it inflates past the limit of {max_bytes} bytes")
    if not inflater.eof:
        raise PipesParamError("cannot decode param: zlib data is truncated")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PipesParamError(f"cannot decode param: JSON is not valid UTF-8 ({exc})") from None
    try:
        return decode_json(text)
    except RecursionError:
        raise PipesParamError("cannot decode param: JSON is nested too deeply") from None
    except ValueError as exc:
        from json import JSONDecodeError

        if isinstance(exc, JSONDecodeError):
            raise PipesParamError(f"cannot decode param: not valid JSON ({exc})") from None
        # an integer past sys.get_int_max_str_digits()
        raise PipesParamError(f"cannot decode param: its JSON holds a value Python refuses ({exc})") from None


def _b64decode(value: str | bytes) -> bytes:
    """``base64.b64decode(value, validate=True)``: the standard alphabet only, padding checked."""
    if sys.version_info < (3, 11):  # strict_mode is new in 3.11
        import base64

        return base64.b64decode(value, validate=True)
    if isinstance(value, str):
        try:
            value = value.encode("ascii")
        except UnicodeEncodeError:
            raise ValueError("string argument should contain only ASCII characters") from None
    return binascii.a2b_base64(value, strict_mode=True)


def decode_json(text: str) -> Any:
    """``json.loads(text)``: the same value, by the same C scanner, or the same error.

    A valid document is read by ``_json``'s scanner alone, without importing ``json`` (nor its
    ``re``); anything else is handed to ``json.loads``, which raises its own precise error.
    """
    if _scan is not None:
        start = len(text) - len(text.lstrip(_JSON_WHITESPACE))
        try:
            value, end = _scan(text, start)
        except StopIteration:  # no value where one should start
            pass
        else:
            if len(text.rstrip(_JSON_WHITESPACE)) == end:  # nothing but whitespace after it
                return value
    import json

    return json.loads(text)


class _DecoderDefaults:
    """The attributes ``_json.make_scanner`` reads from a decoder: a default ``json.JSONDecoder``'s."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    array_hook = None  # read from Python 3.15 on
    parse_float = float
    parse_int = int
    parse_constant = float  # given "NaN", "Infinity" or "-Infinity"


def _c_scanner() -> Callable[[str, int], tuple[Any, int]] | None:
    """The C scanner ``json.loads`` uses, or None where ``_json`` is missing or wants attributes
    ``_DecoderDefaults`` lacks (``json`` then parses)."""
    try:
        from _json import make_scanner
    except ImportError:
        return None
    try:
        # typeshed asks for a scanner: any object with the attributes will do
        scan: Callable[[str, int], tuple[Any, int]] = make_scanner(_DecoderDefaults())  # type: ignore[arg-type]
    except AttributeError:  # a Python whose scanner reads more of them
        return None
    return scan


_scan = _c_scanner()
