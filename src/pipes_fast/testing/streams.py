"""Hypothesis strategies for message streams as bytes: valid streams as writers frame them,
adversarial streams with what a reader must make of them, and splits of a stream into writes."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any, Optional

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from pipes_fast.protocol import METHODS, PIPES_PROTOCOL_VERSION_FIELD, PipesMessage, make_message
from pipes_fast.testing.strategies import DEFAULT_ASSET_KEYS, json_values, messages

FRAMINGS = ("dagster-pipes", "compact", "reordered")
"""How writers put a message on a line: ``json.dumps`` as dagster-pipes writes it (ASCII only);
compact separators with UTF-8 text, as orjson and most other languages' writers do; and the
version field last, as a writer with its own key order may."""

ADVERSARIAL_KINDS = (
    "message",
    "blank",
    "crlf",
    "long_message",
    "not_json",
    "not_an_object",
    "no_version",
    "invalid_utf8",
    "torn",
    "unknown_method",
    "malformed_params",
    "long_garbage",
)
"""The kinds of line :func:`adversarial_streams` mixes (``StreamCase.kinds`` says which it used)."""


@dataclasses.dataclass(frozen=True)
class StreamCase:
    """A message stream and what a reader must make of it.

    ``messages`` must be delivered, in order; the lines numbered in ``bad_lines`` are not
    messages and must be reported; those in ``skipped_lines`` are messages a handler must
    refuse with a warning (an unknown method, malformed params). Lines are numbered from 1
    among the stream's non-blank lines, as pipes_fast reports them.
    """

    data: bytes
    messages: tuple[PipesMessage, ...]
    bad_lines: tuple[int, ...] = ()
    skipped_lines: tuple[int, ...] = ()
    kinds: frozenset[str] = frozenset()
    """The kinds of line (see ``ADVERSARIAL_KINDS``) the stream holds."""


def encode_message(message: PipesMessage, framing: str = "dagster-pipes") -> bytes:
    """One message as a writer frames it (one of ``FRAMINGS``), without its newline."""
    if framing == "dagster-pipes":
        return json.dumps(message).encode()
    if framing == "compact":
        return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
    if framing == "reordered":
        return json.dumps(dict(reversed(list(message.items()))), ensure_ascii=False).encode()
    raise ValueError(f"unknown framing {framing!r}; one of {FRAMINGS}")


def message_lines(
    messages_strategy: Optional[SearchStrategy[PipesMessage]] = None, framings: Sequence[str] = FRAMINGS
) -> SearchStrategy[bytes]:
    """One message line, newline included, in one of ``framings`` (by default of every
    :data:`FRAMINGS`), holding a message from ``messages_strategy`` (by default :func:`messages`)."""
    drawn = messages() if messages_strategy is None else messages_strategy
    return st.builds(
        lambda message, framing: encode_message(message, framing) + b"\n", drawn, st.sampled_from(framings)
    )


def message_streams(
    messages_strategy: Optional[SearchStrategy[PipesMessage]] = None,
    max_messages: int = 20,
    framings: Sequence[str] = FRAMINGS,
) -> SearchStrategy[StreamCase]:
    """Valid message streams: up to ``max_messages`` messages (by default from
    ``messages(methods other than opened and closed)``) between an ``opened`` and a ``closed``
    message, one line each as a writer frames it (each line in one of ``framings``), every line
    ending in ``\\n``. All of ``messages`` must be delivered, nothing reported."""
    body = messages(METHODS - {"opened", "closed"}) if messages_strategy is None else messages_strategy

    @st.composite
    def build(draw: st.DrawFn) -> StreamCase:
        drawn = [draw(messages(["opened"])), *draw(st.lists(body, max_size=max_messages)), draw(messages(["closed"]))]
        lines = [encode_message(message, draw(st.sampled_from(framings))) + b"\n" for message in drawn]
        return StreamCase(b"".join(lines), tuple(drawn))

    return build()


def _is_message_line(line: bytes) -> bool:
    """Whether a line (without its newline) holds a Pipes message: a JSON object with a version."""
    try:
        value = json.loads(line.decode("utf-8"))
    except ValueError:
        return False
    return isinstance(value, dict) and PIPES_PROTOCOL_VERSION_FIELD in value


_LINE_TEXT = st.text(st.characters(exclude_characters="\r\n", exclude_categories=["Cs"]), min_size=1)
_INVALID_UTF8 = st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xe2\x82", b"\xf0\x9f\x98", b"\x80abc"])
_MALFORMED: tuple[tuple[str, dict[str, Any]], ...] = (
    ("report_asset_materialization", {"asset_key": "not/a/step/asset", "metadata": None, "data_version": None}),
    ("report_asset_materialization", {"asset_key": ["orders"], "metadata": None, "data_version": None}),
    ("report_asset_materialization", {"asset_key": "orders", "metadata": {"m": 1}, "data_version": None}),
    ("report_asset_materialization", {"asset_key": "orders", "metadata": None, "data_version": 5}),
    ("report_asset_check", {"asset_key": "orders", "check_name": "c", "passed": "yes"}),
    ("report_asset_check", {"asset_key": "orders", "check_name": "c", "passed": True, "severity": "BAD"}),
    ("report_custom_message", {}),
    ("log", {"message": "m", "level": "LOUD"}),
    ("log", {"level": "INFO"}),
    ("log_external_stream", {"stream": "stdnone", "text": "x"}),
)
"""Messages whose params a handler must refuse, for a step of ``DEFAULT_ASSET_KEYS``."""


def _bad(lines: SearchStrategy[bytes]) -> SearchStrategy[bytes]:
    return lines.filter(lambda line: not _is_message_line(line.rstrip(b"\r")))


def _outcome(name: str, lines: SearchStrategy[bytes]) -> SearchStrategy[tuple[str, bytes]]:
    return lines.map(lambda line: (name, line))


def _kinds(messages_strategy: SearchStrategy[PipesMessage]) -> dict[str, SearchStrategy[tuple[str, bytes]]]:
    """Each kind of line, as (its outcome: delivered, blank, bad or skipped; the line without its newline)."""
    framed = st.builds(encode_message, messages_strategy, st.sampled_from(FRAMINGS))
    long_payload = st.builds(
        lambda char, size: make_message("report_custom_message", {"payload": char * size}),
        st.characters(exclude_categories=["Cs"]),
        st.integers(20_000, 70_000),
    )
    unknown = st.from_regex(r"[a-z_]{1,20}", fullmatch=True).filter(lambda method: method not in METHODS)
    custom_prefix = b'{"__dagster_pipes_version": "0.1", "method": "report_custom_message", "params": {"payload": "'
    return {
        "message": _outcome("delivered", framed),
        "blank": _outcome("blank", st.sampled_from([b"", b"\r"])),
        "crlf": _outcome("delivered", framed.map(lambda line: line + b"\r")),
        "long_message": _outcome("delivered", st.builds(encode_message, long_payload, st.sampled_from(FRAMINGS))),
        "not_json": _outcome("bad", _bad(_LINE_TEXT.map(str.encode))),
        "not_an_object": _outcome(
            "bad",
            json_values()
            .filter(lambda value: not isinstance(value, dict))
            .map(lambda value: json.dumps(value).encode()),
        ),
        "no_version": _outcome(
            "bad",
            messages_strategy.map(
                lambda message: json.dumps(
                    {k: v for k, v in message.items() if k != PIPES_PROTOCOL_VERSION_FIELD}
                ).encode()
            ),
        ),
        "invalid_utf8": _outcome(
            "bad",
            _bad(
                st.builds(lambda text, bad: custom_prefix + bad + text.encode() + b'"}}', _LINE_TEXT, _INVALID_UTF8)
                | st.builds(lambda text, bad: text.encode() + bad, _LINE_TEXT, _INVALID_UTF8)
            ),
        ),
        "torn": _outcome(
            "bad", _bad(framed.flatmap(lambda line: st.integers(1, len(line) - 1).map(lambda cut: line[:cut])))
        ),
        "unknown_method": _outcome(
            "skipped",
            st.builds(
                lambda method, params: json.dumps(make_message(method, params)).encode(),
                unknown,
                st.dictionaries(st.text(max_size=8), json_values(), max_size=3),
            ),
        ),
        "malformed_params": _outcome(
            "skipped",
            st.sampled_from(_MALFORMED).map(lambda entry: json.dumps(make_message(entry[0], entry[1])).encode()),
        ),
        "long_garbage": _outcome("bad", st.integers(20_000, 70_000).map(lambda size: b"{" + b"x" * size)),
    }


def adversarial_streams(
    kinds: Iterable[str] = ADVERSARIAL_KINDS, max_lines: int = 16, asset_keys: Sequence[str] = DEFAULT_ASSET_KEYS
) -> SearchStrategy[StreamCase]:
    """Streams mixing valid messages with what a reader must survive, each with its expectation
    (see :class:`StreamCase`): blank lines, CRLF endings, very long messages and lines, lines
    that are not JSON, JSON that is not an object, objects without the version field, invalid
    UTF-8 (alone and inside a message's text), torn lines (a message cut short, then the next
    line), unknown methods and malformed params; an ``opened`` message may come first, a
    ``closed`` message may come last, and the last line may lack its newline. ``kinds`` picks
    among ``ADVERSARIAL_KINDS``. Valid reports name one of ``asset_keys``, the step's; malformed
    params are malformed for any step (that has no asset ``not/a/step/asset``).
    """
    chosen = sorted(set(kinds))
    if not chosen or set(chosen) - set(ADVERSARIAL_KINDS):
        raise ValueError(f"kinds must be some of {ADVERSARIAL_KINDS}, got {chosen}")
    by_kind = _kinds(messages(METHODS - {"opened", "closed"}, asset_keys))
    line_kinds = st.one_of([st.tuples(st.just(kind), by_kind[kind]) for kind in chosen])

    @st.composite
    def build(draw: st.DrawFn) -> StreamCase:
        drawn = draw(st.lists(line_kinds, min_size=1, max_size=max_lines))
        if draw(st.booleans()):
            drawn.insert(0, ("message", ("delivered", encode_message(draw(messages(["opened"]))))))
        if draw(st.booleans()):
            drawn.append(("message", ("delivered", encode_message(draw(messages(["closed"]))))))
        delivered: list[PipesMessage] = []
        bad: list[int] = []
        skipped: list[int] = []
        number = 0
        for _, (outcome, line) in drawn:
            if outcome == "blank":
                continue
            number += 1
            if outcome == "delivered":
                delivered.append(json.loads(line.decode("utf-8")))
            elif outcome == "bad":
                bad.append(number)
            else:
                skipped.append(number)
        data = b"".join(line + b"\n" for _, (_, line) in drawn)
        if draw(st.booleans()) and drawn[-1][1][0] != "blank":
            data = data[:-1]
        return StreamCase(data, tuple(delivered), tuple(bad), tuple(skipped), frozenset(kind for kind, _ in drawn))

    return build()


_CONTINUATION_BYTE = re.compile(rb"[\x80-\xbf]")


def _boundaries(data: bytes) -> list[list[int]]:
    """Cut points of each special kind: at a line's end (before and after its newline), between
    ``\\r`` and ``\\n``, inside a multi-byte UTF-8 character (before a continuation byte)."""
    newlines = [match.start() for match in re.finditer(rb"\n", data)]
    kinds = [
        newlines + [position + 1 for position in newlines],
        [position for position in newlines if data[position - 1 : position] == b"\r"],
        [match.start() for match in _CONTINUATION_BYTE.finditer(data)],
    ]
    return [kind for kind in kinds if kind]


def split_writes(data: bytes, max_writes: int = 16) -> SearchStrategy[list[bytes]]:
    """``data`` cut into at most ``max_writes`` consecutive writes (they join back to ``data``;
    empty writes may occur), cutting anywhere, around newlines, between ``\\r`` and ``\\n`` and
    inside multi-byte UTF-8 characters."""
    cut = st.one_of([st.integers(0, len(data)), *(st.sampled_from(kind) for kind in _boundaries(data))])
    return st.lists(cut, max_size=max_writes - 1).map(
        lambda cuts: [data[a:b] for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), len(data)])]
    )
