"""The Dagster Pipes wire protocol: names, shapes and message construction.

Pure data, no I/O: both sides of the package and both hot-path implementations build on it. The
names and ``make_message`` live in :mod:`pipes_fast._logic.wire` (re-exported here), which an external
process imports without the ``typing`` and ``enum`` the shapes below need.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple, Optional, TypedDict

from pipes_fast._logic.wire import (
    DAGSTER_PIPES_CONTEXT_CLI_ARG as DAGSTER_PIPES_CONTEXT_CLI_ARG,
)
from pipes_fast._logic.wire import (
    DAGSTER_PIPES_CONTEXT_ENV_VAR as DAGSTER_PIPES_CONTEXT_ENV_VAR,
)
from pipes_fast._logic.wire import (
    DAGSTER_PIPES_MESSAGES_CLI_ARG as DAGSTER_PIPES_MESSAGES_CLI_ARG,
)
from pipes_fast._logic.wire import (
    DAGSTER_PIPES_MESSAGES_ENV_VAR as DAGSTER_PIPES_MESSAGES_ENV_VAR,
)
from pipes_fast._logic.wire import (
    ESCAPE_CHARACTER as ESCAPE_CHARACTER,
)
from pipes_fast._logic.wire import (
    METADATA_TYPES as METADATA_TYPES,
)
from pipes_fast._logic.wire import (
    PIPES_METADATA_TYPE_INFER as PIPES_METADATA_TYPE_INFER,
)
from pipes_fast._logic.wire import (
    PIPES_PROTOCOL_VERSION as PIPES_PROTOCOL_VERSION,
)
from pipes_fast._logic.wire import (
    PIPES_PROTOCOL_VERSION_FIELD as PIPES_PROTOCOL_VERSION_FIELD,
)
from pipes_fast._logic.wire import (
    make_message as make_message,
)
from pipes_fast.errors import MalformedParams

PipesExtras = Mapping[str, Any]
PipesParams = Mapping[str, Any]

PIPES_COMPOSITE_WRITERS_KEY = "dagster_pipes_composite_writers"
"""The messages param of a session with several writers holds their params, one each, under this
key (Dagster's reserved key); ``PipesSession.get_per_writer_bootstrap_env_vars`` unpacks them."""

Method = Literal[
    "opened",
    "closed",
    "log",
    "report_asset_materialization",
    "report_asset_check",
    "report_custom_message",
    "log_external_stream",
]
METHODS: frozenset[str] = frozenset(Method.__args__)  # type: ignore[attr-defined]

PipesMetadataType = Literal[
    "__infer__",
    "text",
    "url",
    "path",
    "notebook",
    "json",
    "md",
    "float",
    "int",
    "bool",
    "dagster_run",
    "asset",
    "null",
    "table",
    "table_schema",
    "table_column_lineage",
    "timestamp",
]
"""The metadata types, for type checkers; ``METADATA_TYPES`` holds the same names at run time."""
RESOLVED_METADATA_TYPES: frozenset[str] = METADATA_TYPES - {PIPES_METADATA_TYPE_INFER}
INFERRED_METADATA_TYPE: dict[type, str] = {
    str: "text",
    float: "float",
    bool: "bool",
    int: "int",
    list: "json",
    dict: "json",
    type(None): "null",
}
"""The type ``__infer__`` resolves to, by the raw value's Python type (Dagster's rules)."""

PipesAssetCheckSeverity = Literal["WARN", "ERROR"]


class AssetCheckSeverity(str, enum.Enum):
    """How bad a failed asset check is."""

    WARN = "WARN"
    ERROR = "ERROR"


class PipesMessage(TypedDict):
    """One message from the external process (the version field is spelled out in the dict)."""

    __dagster_pipes_version: str
    method: str
    params: Optional[Mapping[str, Any]]


class PipesPartitionKeyRange(TypedDict):
    start: str
    end: str


class PipesTimeWindow(TypedDict):
    start: str
    end: str


class PipesDataProvenance(TypedDict):
    code_version: str
    input_data_versions: Mapping[str, str]
    is_user_provided: bool


class PipesContextData(TypedDict):
    """What the orchestration side tells the external process about the step."""

    asset_keys: Optional[Sequence[str]]
    code_version_by_asset_key: Optional[Mapping[str, Optional[str]]]
    provenance_by_asset_key: Optional[Mapping[str, Optional[PipesDataProvenance]]]
    partition_key: Optional[str]
    partition_key_range: Optional[PipesPartitionKeyRange]
    partition_time_window: Optional[PipesTimeWindow]
    run_id: str
    job_name: Optional[str]
    retry_number: int
    extras: Mapping[str, Any]


class PipesMetadataValue(TypedDict):
    type: PipesMetadataType
    raw_value: Any


class PipesException(TypedDict):
    message: str
    stack: Sequence[str]
    name: Optional[str]
    cause: Optional["PipesException"]
    context: Optional["PipesException"]


class PipesOpenedData(TypedDict):
    extras: Mapping[str, Any]


class BadLine(NamedTuple):
    """A line of the message stream that is not a Pipes message, reported instead of raised."""

    line: int
    """1-based number of the line among the stream's non-blank lines."""
    reason: str
    excerpt: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}: {self.excerpt!r}"


# ----- limits and diagnostics shared by both hot-path implementations -----

DEFAULT_MAX_LINE_BYTES = 128 * 1024 * 1024
"""Longest message line kept whole; a longer one is cut there and reported as a bad line."""

EXCERPT_CHARS = 80

LONG_INTEGER_PATTERN = rb"-[0-9]{19}|[0-9]{20}"
"""Where a line may hold an integer beyond orjson's 64 bits (which it would turn into a float):
such lines are parsed by Python's json module instead, as Dagster does."""

CANONICAL_ENVELOPES = (
    (b'{"__dagster_pipes_version": "0.1", "method": "', b'", "params": '),  # json.dumps (dagster-pipes)
    (b'{"__dagster_pipes_version":"0.1","method":"', b'","params":'),  # compact (orjson, other languages)
)
"""How writers frame a message: ``prefix + method + middle + params + "}"``. A line of exactly this
shape is decoded by parsing only its params: equivalent whenever the params parse on their own."""


def bad_line(number: int, line: bytes, reason: str) -> BadLine:
    """Describe a line that is not a message, with a short printable excerpt."""
    text = bytes(line[: EXCERPT_CHARS * 4]).decode("utf-8", "backslashreplace")
    if len(text) > EXCERPT_CHARS or len(line) > EXCERPT_CHARS * 4:
        text = text[:EXCERPT_CHARS] + "..."
    return BadLine(number, reason, text)


def not_a_message_reason(value: Any) -> str:
    """Why a decoded JSON value is not a Pipes message."""
    if not isinstance(value, dict):
        return f"not a JSON object (got {type(value).__name__})"
    return f"JSON object without a {PIPES_PROTOCOL_VERSION_FIELD!r} field"


class SkippedMessage(str):
    """A warning about one skipped message (the text), with what it is about as attributes."""

    method: Optional[str]
    """The message's method, if it had a readable one."""
    line: int
    """Its line in the stream, 0 if unknown."""
    handled: bool
    """True for a message that arrived after ``closed`` and was handled all the same."""


def skipped_message(line: int, message: Any, problem: Any, *, handled: bool = False) -> SkippedMessage:
    """The warning for a message that could not be handled (``problem``: why, or the exception
    raised), or with ``handled``, one that arrived after ``closed``; ``line`` 0 if unknown."""
    where = f" at line {line}" if line else ""
    excerpt = f"{message!r:.300}"
    method = message.get("method") if isinstance(message, dict) else None
    method = method[:50] if isinstance(method, str) else None
    if handled:
        text = f"[pipes] unexpected message{where} received after closed: {excerpt}"
    else:
        if isinstance(problem, BaseException) and not isinstance(problem, MalformedParams):
            problem = f"{type(problem).__name__}: {problem}"
        what = "a message" if method is None else f"a {method} message"
        text = f"[pipes] skipped {what}{where}: {problem}: {excerpt}"
    warning = SkippedMessage(text)
    warning.method, warning.line, warning.handled = method, line, handled
    return warning
