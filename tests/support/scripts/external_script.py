"""An external process written with pipes_fast.external: runs the scenario the "scenario" extra names.

Run under Dagster's orchestrator or pipes_fast's (``support/orchestrators.py``), or directly with
bootstrap params built by a test (``support/files.py``). Its first custom message describes the
context it received, as ``pipes_script.py``'s does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any, Callable

import payloads

from pipes_fast.external import PipesContext, open_dagster_pipes


def describe(context: PipesContext) -> dict[str, Any]:
    """Everything the context says about the step that does not change between runs."""
    described: dict[str, Any] = {
        "is_asset_step": context.is_asset_step,
        "is_partition_step": context.is_partition_step,
        "extras": dict(context.extras),
        "retry_number": context.retry_number,
        "run_id": context.run_id,
        "job_name": context.job_name,
    }
    if context.is_asset_step:
        described.update(
            asset_keys=sorted(context.asset_keys),
            code_version_by_asset_key=dict(context.code_version_by_asset_key),
            provenance_by_asset_key=dict(context.provenance_by_asset_key),
        )
    if context.is_partition_step:
        described.update(
            partition_key=context.partition_key,
            partition_key_range=dict(context.partition_key_range),
            partition_time_window=context.partition_time_window,
        )
    return described


def report_everything(context: PipesContext) -> None:
    """Every report method: description, logs at each level, materializations, checks, custom payload."""
    context.report_custom_message({payloads.CONTEXT_KEY: describe(context)})
    for level in payloads.LOG_LEVELS:
        getattr(context.log, level)(f"{payloads.LOG_MARKER} {level} ünïcode")
    if context.is_asset_step:
        main = context.get_extra("main_asset")
        metadata = payloads.metadata_arg(payloads.EVERY_TYPE)
        context.report_asset_materialization(metadata=metadata, data_version="v1", asset_key=main)
        for key in context.asset_keys:
            if key != main:
                context.report_asset_materialization(asset_key=key)
        checks = context.get_extra("checks")
        if checks:
            context.report_asset_check(checks[0], passed=True, asset_key=main)
            context.report_asset_check(checks[1], passed=False, severity="WARN", metadata={"rows": 0}, asset_key=main)
    for payload in payloads.CUSTOM_PAYLOADS:
        context.report_custom_message(payload)


AWKWARD_METADATA: dict[str, Any] = {
    "nan": float("nan"),
    "minus_infinity": float("-inf"),
    "huge": 2**70,
    "int_keys": {"raw_value": {1: "one", 2: "two"}, "type": "json"},
}
"""Values orjson would refuse or write differently: they go out as ``json.dumps`` writes them."""
AWKWARD_PAYLOAD: dict[Any, Any] = {"nan": float("nan"), 10**30: "a huge key", "tuple": (1, (2,))}


def report_awkward_values(context: PipesContext) -> None:
    context.report_asset_materialization(metadata=AWKWARD_METADATA)
    context.report_custom_message(AWKWARD_PAYLOAD)


def fail(context: PipesContext) -> None:
    """Raise an exception with a cause: the ``closed`` message carries both."""
    empty: dict[str, str] = {}
    try:
        empty["missing"]
    except KeyError as exc:
        raise ValueError("the step failed on purpose") from exc


def print_things(context: PipesContext) -> None:
    """Write to stdout and stderr every way there is: Python, the file descriptors, child processes."""
    marker = payloads.STDIO_MARKER
    print(f"{marker} python stdout ✓")
    print(f"{marker} python stderr ✓", file=sys.stderr)
    sys.stdout.flush()
    os.write(1, f"{marker} fd 1 ✓\n".encode())
    os.write(2, f"{marker} fd 2 ✓\n".encode())
    shell = f"echo '{marker} shell child stdout'; echo '{marker} shell child stderr' >&2"
    subprocess.run(["sh", "-c", shell], check=True)
    python = (
        f"import sys; print('{marker} python child stdout'); print('{marker} python child stderr', file=sys.stderr)"
    )
    subprocess.run([sys.executable, "-c", python], check=True)
    print(f"{marker} last words", end="")


def print_a_lot(context: PipesContext) -> None:
    """Write the "bytes" extra's worth of text to stdout in odd-sized pieces (which cut characters
    apart), then as many ``x`` from a child process."""
    size = context.get_extra("bytes")
    data = payloads.a_lot_of_text(size).encode()
    piece = 4093
    for start in range(0, len(data), piece):
        os.write(1, data[start : start + piece])
    subprocess.run(["sh", "-c", f"head -c {size} /dev/zero | tr '\\0' x"], check=True)


ORPHAN = "import os, sys, time; print('orphan says hi', flush=True); os.write(int(sys.argv[1]), b'!'); time.sleep(120)"


def leave_a_child(context: PipesContext) -> None:
    """Start a process that outlives this one and holds on to its stdout; report its pid."""
    ready_read, ready_write = os.pipe()
    child = subprocess.Popen([sys.executable, "-c", ORPHAN, str(ready_write)], pass_fds=(ready_write,))
    os.close(ready_write)
    os.read(ready_read, 1)  # the orphan has written its line
    context.report_custom_message({"orphan_pid": child.pid})


def report_then_die(context: PipesContext) -> None:
    """Report ``count`` messages, then SIGKILL this process right after the last one."""
    for index in range(context.get_extra("count")):
        context.report_custom_message({"index": index, "text": "x" * (index % 200)})
    os.kill(os.getpid(), signal.SIGKILL)


SCENARIOS: dict[str, Callable[[PipesContext], None]] = {
    "report_everything": report_everything,
    "report_awkward_values": report_awkward_values,
    "fail": fail,
    "print_things": print_things,
    "print_a_lot": print_a_lot,
    "leave_a_child": leave_a_child,
    "report_then_die": report_then_die,
}


def main() -> None:
    with open_dagster_pipes() as context:
        SCENARIOS[context.get_extra("scenario")](context)
    if context.extras.get("after_close"):
        print(context.extras["after_close"], flush=True)


if __name__ == "__main__":
    main()
