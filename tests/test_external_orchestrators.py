"""Scripts written with pipes_fast.external, run under Dagster's own orchestrator and under
pipes_fast's: both receive the same results, logs, custom messages, exception and output, and
that is what the script reported.

The pipes_fast side runs on the hot-path implementation in use.
"""

from __future__ import annotations

from typing import Any

import pytest
from external_scripts.orchestrators import Outcome, Step, run_under_dagster, run_under_pipes_fast
from external_scripts.scenarios import CUSTOM_PAYLOAD, LOG_PREFIX, METADATA

STEPS = {
    "multi-asset with checks": Step(assets=("orders", "db/customers"), checks=("row_count", "fresh")),
    "partitioned asset": Step(assets=("daily",), partition="2024-01-02"),
    "op": Step(),
}
INFERRED = {str: "text", int: "int", float: "float", bool: "bool", list: "json", type(None): "null"}


def expected_metadata() -> dict[str, tuple[str, Any]]:
    """``METADATA`` as an orchestrator resolves it: (type, value), asset keys as paths."""
    resolved = {}
    for name, value in METADATA.items():
        kind, raw = (value["type"], value["raw_value"]) if isinstance(value, dict) else (INFERRED[type(value)], value)
        resolved[name] = (kind, raw.split("/") if kind == "asset" else raw)
    return dict(sorted(resolved.items()))


def expected_results(step: Step) -> list[tuple[Any, ...]]:
    if not step.assets:
        return []
    main, *others = step.assets
    results: list[tuple[Any, ...]] = [("materialization", main.split("/"), "v1", expected_metadata())]
    results += [("materialization", key.split("/"), None, {}) for key in others]
    if step.checks:
        results.append(("check", main.split("/"), step.checks[0], True, "ERROR", {}))
        results.append(("check", main.split("/"), step.checks[1], False, "WARN", {"rows": ("int", 0)}))
    return sorted(results, key=repr)


def expected_description(step: Step) -> dict[str, Any]:
    description: dict[str, Any] = {
        "is_asset_step": bool(step.assets),
        "is_partition_step": step.partition is not None,
        "extras": {
            "scenario": "report_everything",
            "checks": list(step.checks),
            "main_asset": step.assets[0] if step.assets else None,
        },
        "retry_number": 0,
    }
    if step.assets:
        keys = sorted(step.assets)
        description.update(
            asset_keys=keys,
            code_version_by_asset_key=dict.fromkeys(keys),
            provenance_by_asset_key=dict.fromkeys(keys),
        )
    if step.partition:
        description.update(
            partition_key=step.partition,
            partition_key_range={"start": step.partition, "end": step.partition},
            partition_time_window=None,
        )
    return description


@pytest.fixture(scope="module")
def under_dagster() -> dict[str, Outcome]:
    """Each step's outcome under Dagster, computed once (it does not depend on the hot path)."""
    return {name: run_under_dagster("report_everything", step) for name, step in STEPS.items()}


@pytest.mark.parametrize("name", STEPS)
def test_every_report_arrives_alike_under_dagster_and_pipes_fast(name: str, under_dagster: dict[str, Outcome]) -> None:
    step = STEPS[name]
    ours = run_under_pipes_fast("report_everything", step)
    theirs = under_dagster[name]
    assert ours == theirs
    assert theirs.results == expected_results(step)
    assert theirs.custom_messages == [expected_description(step), CUSTOM_PAYLOAD]
    assert theirs.logs == [
        (level.upper(), f"{LOG_PREFIX}{level} ünïcode") for level in ("debug", "info", "warning", "error", "critical")
    ]


def test_values_only_json_dumps_writes_arrive_alike_under_both() -> None:
    """NaN, infinities, integers beyond 64 bits, non-string keys and tuples (compared as text,
    so that NaN equals NaN)."""
    step = Step(assets=("orders",))
    theirs = run_under_dagster("report_awkward_values", step)
    ours = run_under_pipes_fast("report_awkward_values", step)
    assert repr(ours) == repr(theirs)
    metadata = {
        "huge": ("int", 2**70),
        "int_keys": ("json", {"1": "one", "2": "two"}),
        "minus_infinity": ("float", float("-inf")),
        "nan": ("float", float("nan")),
    }
    assert repr(theirs.results) == repr([("materialization", ["orders"], None, metadata)])
    assert repr(theirs.custom_messages) == repr([{"nan": float("nan"), str(10**30): "a huge key", "tuple": [1, [2]]}])


def test_an_exception_closes_the_session_with_its_cause_under_both() -> None:
    step = Step(assets=("orders",))
    theirs = run_under_dagster("fail", step)
    ours = run_under_pipes_fast("fail", step)
    assert (
        ours.exception
        == theirs.exception
        == [
            ("ValueError", "ValueError: the step failed on purpose"),
            ("KeyError", "KeyError: 'missing'"),
        ]
    )
    assert ours.results == theirs.results == []


def test_captured_output_reaches_both_orchestrators(capsys: pytest.CaptureFixture[str]) -> None:
    """Output written by Python, straight to the descriptors and by child processes comes back as
    ``log_external_stream`` messages, which both orchestrators write to their own stdout/stderr."""
    expected = (
        "python stdout ✓\nfd 1 ✓\nshell child stdout\npython child stdout\nlast words",
        "python stderr ✓\nfd 2 ✓\nshell child stderr\npython child stderr\n",
    )
    for run in (run_under_dagster, run_under_pipes_fast):
        run("print_things", Step(assets=("orders",)), include_stdio=True)
        assert capsys.readouterr() == expected, run.__name__
