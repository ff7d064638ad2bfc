"""JSON for Pipes messages, meaning what ``json.dumps`` (dagster-pipes' serializer) makes of them.

Three ways to the same values. :func:`ascii_line` is ``json.dumps``' own C encoder, compact (no
spaces after ``:`` and ``,``), loaded without the ``json`` package (nor ``re``), and
:func:`json_line` is ``json.dumps`` itself (text streams). The hot path's ``JsonLineAppender``
(built by :func:`make_appender`), several times faster but some 20 ms to import, writes the
common shapes itself (exact dicts with ``str`` keys, lists, tuples, ``str``, ``int`` within 64
bits, finite ``float``, ``bool``, ``None``: the compiled one with an encoder of its own, the pure
one with orjson) and falls back to :func:`ascii_line` for the rest: subclasses of builtins,
dataclasses, dates, bigger integers, keys that are not ``str``, lone surrogates, NaN and
infinities (which ``json.dumps`` writes as ``NaN`` and ``Infinity``), nesting deeper than 254.

All write ``uuid.UUID`` (as its string) and ``enum.Enum`` members (as their value), which plain
``json.dumps`` refuses for enums that are not also ``str`` or ``int``; a value can only be one of
those if its module was imported, so they are looked up in ``sys.modules``, never imported here.
Values none can write raise what ``json.dumps`` raises for them (``TypeError``, ``ValueError`` for
a value that contains itself, ``RecursionError``), as a :class:`DagsterPipesError` that says where
in the message they are (see :func:`~pipes_fast.external.errors.error_like`).
"""

from __future__ import annotations

import _json
import sys

from pipes_fast._system.fdio import write_all
from pipes_fast.external.errors import error_like

TYPE_CHECKING = False  # typing stays unimported at run time: see pipes_fast.external
if TYPE_CHECKING:
    from typing import Any, Callable

_JSON_TYPES = (dict, list, tuple, str, int, float, bool, type(None))
_JSON_KEY_TYPES = (str, int, float, bool, type(None))


def _loaded_instance(value: Any, module: str, name: str) -> bool:
    """``isinstance(value, module.name)``, false if ``module`` was never imported."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(value, getattr(loaded, name))


def _as_orjson_writes(value: Any) -> Any:
    """What orjson writes for a value ``json.dumps`` does not know (called by ``json.dumps``)."""
    if _loaded_instance(value, "uuid", "UUID"):
        return str(value)
    if _loaded_instance(value, "enum", "Enum"):
        return value.value
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# json.dumps(message, separators=(",", ":"), default=_as_orjson_writes)'s encoder; without the
# circular-reference markers (a structure containing itself ends in RecursionError instead, and
# ascii_line then asks json_line why)
_encode = _json.make_encoder(None, _as_orjson_writes, _json.encode_basestring_ascii, None, ":", ",", False, False, True)


def ascii_line(message: Any) -> bytes:
    """The message as compact ``json.dumps`` writes it: one line of ASCII JSON, newline included."""
    try:
        text = "".join(_encode(message, 0))  # a list or a tuple of chunks, by Python version
    except Exception:  # noqa: BLE001 - json_line raises the same, explained
        return json_line(message).encode("ascii")
    return (text + "\n").encode("ascii")


def write_ascii_line(fd: int, message: Any) -> None:
    """Write the message's :func:`ascii_line` to ``fd``, in one ``write`` unless the kernel takes less."""
    write_all(fd, ascii_line(message))


def json_line(message: Any) -> str:
    """The message as ``json.dumps`` writes it: one line of ASCII JSON, newline included."""
    import json

    try:
        return json.dumps(message, default=_as_orjson_writes) + "\n"
    except (TypeError, ValueError, RecursionError) as exc:
        raise error_like((type(exc),), _why_unserializable(message, exc)) from None


def line_appender(fd: int) -> Callable[[Any], None]:
    """The hot path's unbuffered append of a message to ``fd`` (opened ``O_APPEND``) as one line,
    one ``write`` (see :func:`make_appender`)."""
    append: Callable[[Any], None] = make_appender(fd).append
    return append


def make_appender(fd: int, buffer_bytes: int | None = None, wake: Callable[[], object] | None = None) -> Any:
    """The hot path's ``JsonLineAppender`` of messages to ``fd`` (opened ``O_APPEND``), unbuffered
    or buffered (see its docstring for ``buffer_bytes`` and ``wake``), falling back to
    :func:`ascii_line` for what it does not write itself. Loads the hot path."""
    from pipes_fast import _hotpath

    return _hotpath.JsonLineAppender(fd, ascii_line, buffer_bytes, wake)


def _why_unserializable(message: Any, exc: Exception) -> str:
    method = message.get("method") if isinstance(message, dict) else None
    head = f"Cannot send the `{method}` message" if method else "Cannot serialize the message"
    if isinstance(exc, RecursionError):
        return f"{head}: it is nested too deeply to be written as JSON."
    problem = _first_problem(message.get("params") if method else message, "params" if method else "it", set())
    return f"{exc}. {head}: {problem}." if problem else f"{head}: {exc}."  # json.dumps' words first


def _first_problem(value: Any, where: str, ancestors: set[int]) -> str | None:
    """What keeps ``json.dumps`` from writing ``value``, and where, or None if nothing does."""
    if _loaded_instance(value, "enum", "Enum"):
        return _first_problem(value.value, f"{where}.value", ancestors)
    if not isinstance(value, _JSON_TYPES) and not _loaded_instance(value, "uuid", "UUID"):
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
