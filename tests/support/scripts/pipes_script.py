"""An external Pipes process written against the real ``dagster-pipes`` package only.

Run as ``python pipes_script.py --scenario NAME [--cli-bootstrap]``. The first custom message it
sends describes the context it received; the scenario then exercises PipesContext features.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import payloads
from dagster_pipes import (
    DagsterPipesError,
    PipesCliArgsParamsLoader,
    PipesContext,
    PipesParamsLoader,
    open_dagster_pipes,
    to_asset_key_path,
)


def _optional(read: Callable[[], Any]) -> Any:
    """A context property, or None where dagster-pipes says it is not defined."""
    try:
        return read()
    except DagsterPipesError:
        return None


def context_report(pipes: PipesContext) -> dict[str, Any]:
    """Everything the script can read of its injected context, as plain JSON."""
    report: dict[str, Any] = {
        "is_asset_step": pipes.is_asset_step,
        "is_partition_step": pipes.is_partition_step,
        "run_id": pipes.run_id,
        "job_name": pipes.job_name,
        "retry_number": pipes.retry_number,
        "extras": dict(pipes.extras),
    }
    if pipes.is_asset_step:
        report["asset_keys"] = list(pipes.asset_keys)
        report["code_version_by_asset_key"] = dict(pipes.code_version_by_asset_key)
        report["provenance_by_asset_key"] = dict(pipes.provenance_by_asset_key)
        if len(pipes.asset_keys) == 1:
            report["code_version"] = pipes.code_version
            report["provenance"] = pipes.provenance
    if pipes.is_partition_step:
        report["partition_key"] = _optional(lambda: pipes.partition_key)
        report["partition_key_range"] = dict(pipes.partition_key_range)
        window = pipes.partition_time_window
        report["partition_time_window"] = None if window is None else dict(window)
    return report


def key_for(pipes: PipesContext, path: tuple[str, ...]) -> str:
    """The escaped asset key string, as injected, whose path is ``path``."""
    for key in pipes.asset_keys:
        if tuple(to_asset_key_path(key)) == path:
            return key
    raise DagsterPipesError(f"asset {path} not in scope: {pipes.asset_keys}")


def log_at_every_level(pipes: PipesContext) -> None:
    """One log message per level through ``pipes.log``."""
    for level in payloads.LOG_LEVELS:
        getattr(pipes.log, level)(f"{payloads.LOG_MARKER} {level} message ✓")


def log_streams(pipes: PipesContext) -> None:
    """Forward text to the orchestrator's stdout and stderr."""
    for stream, text in payloads.STREAM_TEXTS.items():
        pipes.log_external_stream(stream, text, extras={"source": "interop"})


def scenario_assets(pipes: PipesContext) -> None:
    """Multi-asset step: metadata of every type, data versions, checks, custom messages, logs."""
    pipes.report_asset_materialization(
        metadata=payloads.metadata_arg(payloads.EVERY_TYPE),
        data_version=payloads.ORDERS_DATA_VERSION,
        asset_key=key_for(pipes, payloads.ORDERS),
    )
    pipes.report_asset_materialization(
        metadata={"rows": 3, "source": {"raw_value": "s3://bucket/lines", "type": "url"}},
        asset_key=key_for(pipes, payloads.LINES),
    )
    for path, name, passed, severity, metadata in payloads.CHECKS:
        pipes.report_asset_check(
            check_name=name,
            passed=passed,
            severity=severity,  # type: ignore[arg-type]
            metadata=metadata,
            asset_key=key_for(pipes, path),
        )
    for payload in payloads.CUSTOM_PAYLOADS:
        pipes.report_custom_message(payload)
    log_at_every_level(pipes)
    log_streams(pipes)


def scenario_partitioned(pipes: PipesContext) -> None:
    """Single partitioned asset: reports its partition back as metadata."""
    pipes.report_asset_materialization(
        metadata={
            "partition_key": _optional(lambda: pipes.partition_key),
            "partition_key_range": {"raw_value": dict(pipes.partition_key_range), "type": "json"},
        },
        data_version="partition-v1",
    )
    pipes.log.info(f"{payloads.LOG_MARKER} partitioned")


def scenario_op(pipes: PipesContext) -> None:
    """Op step (no assets): custom messages, logs and streams only."""
    for payload in payloads.CUSTOM_PAYLOADS:
        pipes.report_custom_message(payload)
    log_at_every_level(pipes)
    log_streams(pipes)


def scenario_fail(pipes: PipesContext) -> None:
    """Report a little, then raise inside the ``with`` block (with an explicit cause)."""
    pipes.log.warning(f"{payloads.LOG_MARKER} about to fail")
    pipes.report_custom_message({"before": "failure"})
    pipes.report_asset_materialization(metadata={"partial": True})
    try:
        raise KeyError(payloads.CAUSE_MESSAGE)
    except KeyError as cause:
        raise ValueError(payloads.ERROR_MESSAGE) from cause


def scenario_stdio(pipes: PipesContext) -> None:
    """Plain prints, captured into messages when the reader asks for include_stdio_in_messages."""
    for line in payloads.STDIO_LINES["stdout"]:
        print(line, flush=True)
    for line in payloads.STDIO_LINES["stderr"]:
        print(line, file=sys.stderr, flush=True)
    pipes.report_asset_materialization(metadata={"printed": len(payloads.STDIO_LINES["stdout"])})


def scenario_edge_values(pipes: PipesContext) -> None:
    """Metadata and payloads that Python's json module writes but strict JSON does not allow."""
    for path, spec in payloads.EDGE_VALUES.items():
        pipes.report_asset_materialization(metadata=payloads.metadata_arg(spec), asset_key=key_for(pipes, path))
    for payload in payloads.edge_custom_messages():
        pipes.report_custom_message(payload)


SCENARIOS: dict[str, Callable[[PipesContext], None]] = {
    "assets": scenario_assets,
    "partitioned": scenario_partitioned,
    "op": scenario_op,
    "fail": scenario_fail,
    "stdio": scenario_stdio,
    "edge_values": scenario_edge_values,
}


def run_scenario(pipes: PipesContext, name: str) -> None:
    """Report the context, then run scenario ``name``."""
    pipes.report_custom_message({payloads.CONTEXT_KEY: context_report(pipes)})
    SCENARIOS[name](pipes)


def main() -> None:
    """Open Pipes (from env vars, or CLI arguments), report the context, run the scenario."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    parser.add_argument("--cli-bootstrap", action="store_true")
    args, _ = parser.parse_known_args()
    loader: PipesParamsLoader | None = PipesCliArgsParamsLoader() if args.cli_bootstrap else None
    with open_dagster_pipes(params_loader=loader) as pipes:
        run_scenario(pipes, args.scenario)


if __name__ == "__main__":
    main()
