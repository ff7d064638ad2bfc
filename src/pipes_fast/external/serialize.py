"""JSON for Pipes messages, meaning what ``json.dumps`` (dagster-pipes' serializer) makes of them.

Two ways to the same values: :func:`json_line` is ``json.dumps`` itself; orjson with
``OPTIONS`` (the hot path's ``JsonLineAppender``), about fifteen times faster, refuses (``TypeError``) what it would
write differently: subclasses of builtins, dataclasses, dates. orjson also refuses integers beyond
64 bits, dict keys that are not ``str``, lone surrogates and nesting deeper than 254, which
``json.dumps`` writes; and it writes NaN and infinities as ``null``, which
:func:`has_non_finite_float` detects (a ``null`` in the line tells when to look). A writer uses orjson and
falls back to :func:`json_line` in those cases.

Both write ``uuid.UUID`` (as its string) and ``enum.Enum`` members (as their value), which plain
``json.dumps`` refuses for enums that are not also ``str`` or ``int``. Values neither can write
raise :class:`DagsterPipesError` saying where in the message they are.
"""

from __future__ import annotations

import enum
import json
import uuid
from typing import Any, Callable

import orjson

from pipes_fast.external.errors import DagsterPipesError

OPTIONS = (
    orjson.OPT_APPEND_NEWLINE
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)

_JSON_TYPES = (dict, list, tuple, str, int, float, bool, type(None), uuid.UUID)
_JSON_KEY_TYPES = (str, int, float, bool, type(None))


def json_line(message: Any) -> str:
    """The message as ``json.dumps`` writes it: one line of ASCII JSON, newline included."""
    try:
        return json.dumps(message, default=_as_orjson_writes) + "\n"
    except (TypeError, ValueError, RecursionError) as exc:
        raise DagsterPipesError(_why_unserializable(message, exc)) from None


def line_appender(fd: int) -> Callable[[Any], None]:
    """The hot path's append of a message to ``fd`` (opened ``O_APPEND``) as one line, one ``write``:
    orjson's line, or :func:`json_line`'s where orjson would refuse the message or differ."""
    from pipes_fast import _hotpath

    append: Callable[[Any], None] = _hotpath.JsonLineAppender(fd, OPTIONS, has_non_finite_float, _ascii_line).append
    return append


def _ascii_line(message: Any) -> bytes:
    return json_line(message).encode("ascii")


def has_non_finite_float(value: Any) -> bool:
    """Whether a NaN or an infinity hides in ``value`` (a structure orjson accepted)."""
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is float:
            if item - item != 0.0:  # NaN - NaN and inf - inf are NaN
                return True
        elif kind is dict:
            pending.extend(item.values())
        elif kind is list or kind is tuple:
            pending.extend(item)
    return False


def _as_orjson_writes(value: Any) -> Any:
    """What orjson writes for a value ``json.dumps`` does not know (called by ``json.dumps``)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _why_unserializable(message: Any, exc: Exception) -> str:
    method = message.get("method") if isinstance(message, dict) else None
    head = f"Cannot send the `{method}` message" if method else "Cannot serialize the message"
    if isinstance(exc, RecursionError):
        return f"{head}: it is nested too deeply to be written as JSON."
    problem = _first_problem(message.get("params") if method else message, "params" if method else "it", set())
    return f"{head}: {problem or exc}."


def _first_problem(value: Any, where: str, ancestors: set[int]) -> str | None:
    """What keeps ``json.dumps`` from writing ``value``, and where, or None if nothing does."""
    if isinstance(value, enum.Enum):
        return _first_problem(value.value, f"{where}.value", ancestors)
    if not isinstance(value, _JSON_TYPES):
        return f"{where} is of type `{_type_name(value)}`, which is not JSON-serializable"
    if not isinstance(value, (dict, list, tuple)):
        return None
    if id(value) in ancestors:
        return f"{where} contains itself, which JSON cannot express"
    ancestors.add(id(value))
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, _JSON_KEY_TYPES):
                return f"{where} has a key of type `{_type_name(key)}`, which JSON cannot write as an object key"
            problem = _first_problem(item, f"{where}[{key!r}]", ancestors)
            if problem:
                return problem
    else:
        for index, item in enumerate(value):
            problem = _first_problem(item, f"{where}[{index}]", ancestors)
            if problem:
                return problem
    ancestors.discard(id(value))
    return None


def _type_name(value: Any) -> str:
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
