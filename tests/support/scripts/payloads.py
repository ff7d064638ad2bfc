"""What the external script reports, shared by the script and the tests.

The script imports this module as a sibling (its own directory is on ``sys.path``); the tests import
it as ``support.scripts.payloads``. Only the standard library may be used here.
"""

from __future__ import annotations

import math
from typing import Any

# The first custom message of every run: {CONTEXT_KEY: what the script saw of its context}.
CONTEXT_KEY = "__interop_context__"

# Log messages and stream text carry these markers so the tests can pick them out.
LOG_MARKER = "interop-log"
STREAM_MARKER = "interop-stream"
STDIO_MARKER = "interop-stdio"
ERROR_MESSAGE = "interop boom: external failure ünïcødé"
CAUSE_MESSAGE = "interop root cause"

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")

STREAM_TEXTS = {
    "stdout": f"{STREAM_MARKER} stdout line one\n{STREAM_MARKER} stdout line two ✓\n",
    "stderr": f"{STREAM_MARKER} stderr line ⚠\n",
}

# What the script prints with plain print() in the include_stdio_in_messages scenario.
STDIO_LINES = {
    "stdout": [f"{STDIO_MARKER} stdout {i}" for i in range(3)],
    "stderr": [f"{STDIO_MARKER} stderr {i}" for i in range(2)],
}

# What external_script.py's print_things writes every way there is (Python, the descriptors, children).
PRINTED_EVERY_WAY = {
    "stdout": "".join(
        f"{STDIO_MARKER} {text}"
        for text in ("python stdout ✓\n", "fd 1 ✓\n", "shell child stdout\n", "python child stdout\n", "last words")
    ),
    "stderr": "".join(
        f"{STDIO_MARKER} {text}\n"
        for text in ("python stderr ✓", "fd 2 ✓", "shell child stderr", "python child stderr")
    ),
}

# Asset keys (paths) of the multi-asset scenario; one part holds a slash, escaped on the wire.
ORDERS = ("db", "orders")
LINES = ("db", "order/lines")
CUSTOMERS = ("db", "customers")  # never reported: materialized implicitly
UPSTREAM = ("db", "raw")
ORDERS_DATA_VERSION = "orders-v1"

# Every table column spelled out in full, so both sides hold the very same raw value.
_COLUMNS: list[dict[str, Any]] = [
    {
        "name": "id",
        "type": "int",
        "description": "primary key",
        "tags": {"pii": "no"},
        "constraints": {"nullable": False, "unique": True, "other": ["pk"]},
    },
    {
        "name": "name",
        "type": "string",
        "description": None,
        "tags": {},
        "constraints": {"nullable": True, "unique": False, "other": []},
    },
    {
        "name": "score",
        "type": "float",
        "description": "a score",
        "tags": {},
        "constraints": {"nullable": True, "unique": False, "other": ["positive"]},
    },
    {
        "name": "active",
        "type": "bool",
        "description": None,
        "tags": {"team": "data"},
        "constraints": {"nullable": False, "unique": False, "other": []},
    },
]

# name -> (value passed to report_*, wire type the orchestrator must resolve it to)
EVERY_TYPE: dict[str, tuple[Any, str]] = {
    "infer_int": (42, "int"),
    "infer_negative_int": (-7, "int"),
    "infer_float": (3.25, "float"),
    "infer_str": ("plain string", "text"),
    "infer_empty_str": ("", "text"),
    "infer_true": (True, "bool"),
    "infer_false": (False, "bool"),
    "infer_none": (None, "null"),
    # a bare dict would be taken for {raw_value, type}: dicts are inferred only when wrapped
    "infer_dict": (
        {"raw_value": {"a": [1, 2.5, None], "b": {"c": True}}, "type": "__infer__"},
        "json",
    ),
    "infer_explicit_int": ({"raw_value": 5, "type": "__infer__"}, "int"),
    "infer_list": ([1, "two", 3.0, False, None], "json"),
    "text": ({"raw_value": "text ünïcødé 🚀", "type": "text"}, "text"),
    "url": ({"raw_value": "https://docs.dagster.io/guides?q=pipes#x", "type": "url"}, "url"),
    "path": ({"raw_value": "/data/orders.parquet", "type": "path"}, "path"),
    "notebook": ({"raw_value": "/notebooks/analysis.ipynb", "type": "notebook"}, "notebook"),
    "json_dict": ({"raw_value": {"rows": 10, "tags": ["x", "y"]}, "type": "json"}, "json"),
    "json_list": ({"raw_value": [{"k": 1}, [2, 3], "s"], "type": "json"}, "json"),
    "md": ({"raw_value": "# Title\n\n* item **bold**\n", "type": "md"}, "md"),
    "float": ({"raw_value": 0.1, "type": "float"}, "float"),
    "int": ({"raw_value": 9007199254740993, "type": "int"}, "int"),
    "bool": ({"raw_value": True, "type": "bool"}, "bool"),
    "dagster_run": (
        {"raw_value": "0f6c2b8e-6b1a-4c59-9d8e-3f1e2a7b9c10", "type": "dagster_run"},
        "dagster_run",
    ),
    "asset": ({"raw_value": "warehouse/dim/customers", "type": "asset"}, "asset"),
    "null": ({"raw_value": None, "type": "null"}, "null"),
    "table": (
        {
            "raw_value": {
                "records": [
                    {"id": 1, "name": "alice", "score": 1.5, "active": True},
                    {"id": 2, "name": None, "score": 2.0, "active": False},
                ],
                "schema": _COLUMNS,
            },
            "type": "table",
        },
        "table",
    ),
    "table_schema": ({"raw_value": {"columns": _COLUMNS}, "type": "table_schema"}, "table_schema"),
    "table_column_lineage": (
        {
            "raw_value": {
                "deps_by_column": {
                    # deps in sorted order: Dagster sorts them, the wire keeps them as sent
                    "total": [
                        {"asset_key": "fx_rates", "column_name": "rate"},
                        {"asset_key": "orders", "column_name": "amount"},
                    ],
                    "id": [{"asset_key": "orders", "column_name": "id"}],
                }
            },
            "type": "table_column_lineage",
        },
        "table_column_lineage",
    ),
    "timestamp": ({"raw_value": 1700000000.25, "type": "timestamp"}, "timestamp"),
}

# Values a dagster-pipes script can send (json.dumps writes them; Python's json reads them back)
# that strict JSON parsers reject or read as something else. One asset per family.
EDGE_NON_FINITE_ASSET = ("edge", "non_finite")
EDGE_NON_FINITE: dict[str, tuple[Any, str]] = {
    "nan": (math.nan, "float"),
    "inf": (math.inf, "float"),
    "minus_inf": ({"raw_value": -math.inf, "type": "float"}, "float"),
    "json_with_nan": ({"raw_value": {"x": math.nan, "y": [math.inf]}, "type": "json"}, "json"),
}
EDGE_BIG_INT_ASSET = ("edge", "big_int")
EDGE_BIG_INTS: dict[str, tuple[Any, str]] = {
    "two_pow_70": (2**70, "int"),
    "two_pow_64": ({"raw_value": 2**64, "type": "int"}, "int"),
    "below_int64_min": (-(2**63) - 1, "int"),
    "json_with_big_int": ({"raw_value": {"n": 2**70}, "type": "json"}, "json"),
}
EDGE_VALUES: dict[tuple[str, ...], dict[str, tuple[Any, str]]] = {
    EDGE_NON_FINITE_ASSET: EDGE_NON_FINITE,
    EDGE_BIG_INT_ASSET: EDGE_BIG_INTS,
}


def edge_custom_messages() -> list[Any]:
    """One custom message per edge value, so each one's fate shows on its own."""
    return [
        {"edge": name, "value": value["raw_value"] if isinstance(value, dict) else value}
        for spec in EDGE_VALUES.values()
        for name, (value, _) in spec.items()
    ]


def metadata_arg(spec: dict[str, tuple[Any, str]]) -> dict[str, Any]:
    """The metadata mapping to pass to ``report_asset_materialization``/``report_asset_check``."""
    return {name: value for name, (value, _) in spec.items()}


def expected_types(spec: dict[str, tuple[Any, str]]) -> dict[str, str]:
    """Wire type each entry of ``spec`` must resolve to on the orchestration side."""
    return {name: wire_type for name, (_, wire_type) in spec.items()}


# Each check: (asset path, check name, passed, severity, metadata)
CHECKS: list[tuple[tuple[str, ...], str, bool, str, dict[str, Any]]] = [
    (ORDERS, "orders_not_empty", True, "ERROR", {"rows": 10, "ratio": 0.5}),
    (ORDERS, "orders_fresh", False, "WARN", {"lag": {"raw_value": "3 hours", "type": "md"}}),
    (CUSTOMERS, "customers_unique", False, "ERROR", {"duplicates": [3, 7]}),
    (CUSTOMERS, "customers_valid", True, "WARN", {}),
]

CUSTOM_PAYLOADS: list[Any] = [
    {"kind": "summary", "rows": 10, "ok": True, "nested": {"list": [1, 2.5, None, "ü"]}},
    [1, "two", 3.0, None, False],
    "a plain string 🚀",
    12345,
    None,
]

EXTRAS: dict[str, Any] = {
    "greeting": "hello",
    "n": 3,
    "ratio": 0.75,
    "flag": False,
    "nothing": None,
    "nested": {"list": [1, {"x": "y"}], "unicode": "ünï 🚀"},
}


def a_lot_of_text(size: int) -> str:
    """``size`` bytes of UTF-8 text, mostly 3-byte characters."""
    return ("€€€ab" * (size // 11 + 1)).encode()[:size].decode(errors="ignore")
