"""Decoding a huge message line without holding it three times over.

Shared by both hot-path implementations (compiling it gains nothing: the time goes into copying
and building the value). orjson copies its whole input before parsing it, so the line, that copy
and the decoded value would all be alive at once; here the line becomes text, the bytes are let
go, and Python's ``json`` (exact, as Dagster parses) builds the value from the text: at most two
of the three are alive at any time, and a string value of the line (the usual huge message: a
log line or a payload) is copied out of the text once. The router hands a line here once it holds
no reference to it itself.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from pipes_fast.protocol import EXCERPT_CHARS, PIPES_PROTOCOL_VERSION_FIELD, BadLine, bad_line, not_a_message_reason

HUGE_LINE_BYTES = 1 << 20
"""A line this long or longer is decoded here: the copies the fast path makes of it cost more
memory than anything else in the stream, and the speed of decoding it is the same."""

_EXCERPT_BYTES = EXCERPT_CHARS * 4 + 1
"""What ``bad_line`` needs of a line to describe it (one more byte: it says the line goes on)."""


def decode_huge(held: list[Any], number: int, bad: list[BadLine]) -> Optional[dict[str, Any]]:
    """The message in ``held[0]`` (a line of ``number``), which is taken out of ``held`` and let
    go once decoded to text; None after appending a ``BadLine`` to ``bad``."""
    line: bytes = held.pop()
    head = line[:_EXCERPT_BYTES]
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        bad.append(bad_line(number, head, f"invalid JSON ({error})"))
        return None
    del line
    try:
        value = json.loads(text)
    except ValueError as error:
        bad.append(bad_line(number, head, f"invalid JSON ({error})"))
        return None
    except RecursionError:
        bad.append(bad_line(number, head, "invalid JSON (nested too deeply)"))
        return None
    del text
    if type(value) is dict and PIPES_PROTOCOL_VERSION_FIELD in value:
        return value
    bad.append(bad_line(number, head, not_a_message_reason(value)))
    return None
