"""``pipes-fast check``: run a Pipes client under several steps and report where it breaks the protocol."""

from __future__ import annotations

import argparse
import functools
import json
import shlex
import sys
from typing import Any

from pipes_fast.cli import choices
from pipes_fast.conformance import RULES, STANDARD_CASES, Case, check_command, format_report, reports_as_json
from pipes_fast.conformance.runner import DEFAULT_TIMEOUT
from pipes_fast.conformance.violations import WARNING_RULES
from pipes_fast.conformance.written_for import cases_written_for, context_error
from pipes_fast.context import StepContext, build_context_data
from pipes_fast.errors import PipesExecutionError

EXIT_PASSED = 0
EXIT_VIOLATIONS = 1
EXIT_USAGE = 2
EXIT_CANNOT_START = 127

WRITTEN_FOR = """\
The command is written for some kinds of step only: in the other cases it stopped because it reads
what their context does not define (a one-asset script asks for asset_key, which an op step and a
step of several assets do not define):"""

DESCRIPTION = """\
Check that COMMAND, a Dagster Pipes client in any language, speaks the protocol right. COMMAND
runs once per step (by default the standard cases below; with step options, the one step they
describe), with the context injected as Dagster injects it and its messages going to a file of
their own. Everything it writes is checked: opened first, closed last, the envelope and version,
every method's params and their types, metadata types and values, asset keys within the step,
each asset and check reported once, check severities, its exit status. A violation is what an
orchestrator (Dagster's or pipes_fast's) would refuse or misread; what both accept (a traceback
on stderr, "opened" without extras, ...) is a warning, shown but failing no case. A report per
case names each violation and warning with its rule and the offending line; the exit status says
whether any violation was found. The command's stderr is read until it exits (and 1 s more);
then what is left of its process group is killed."""

EPILOG = f"""\
standard cases (--case, repeat for several; default: all):
{chr(10).join(f"  {case.name:<16} {case.description}" for case in STANDARD_CASES)}

rules (* a warning: both orchestrators accept it):
{chr(10).join(f"  {rule + '*' * (rule in WARNING_RULES):<26} {what}" for rule, what in RULES.items())}

A command written for one kind of step (one asset, a partition) fails the standard cases whose
context lacks what it reads: the report then says so, and gives the command that checks it under
the cases it passed (--case), or describe its step with the step options (--asset, --partition).

--json output, one object per line: a "case" per case (case, lines, violations [{{rule, line,
text, message}}], exit_status, stderr_tail, warnings [same], passed), then a "summary" (cases,
passed, exit_status; for a command written for some kinds of step only, written_for: the cases
it passed, and check_with: the command checking it under them).

exit status:
  {EXIT_PASSED}     every case passed
  {EXIT_VIOLATIONS}     a violation was found
  {EXIT_USAGE}     usage error (bad option or value, no command)
  {EXIT_CANNOT_START}   the command could not be started

examples:
  pipes-fast check -- python my_client.py
  pipes-fast check --case single-asset --case op -- ./pipes-client-go
  pipes-fast check --asset orders --partition 2024-06-01 -- python examples/report_orders.py
  pipes-fast check --asset orders --partition 2024-06-01 --json -- cargo run --quiet | jq 'select(.passed == false)'
"""


def register(subcommands: Any, summary: str) -> None:
    """Add the ``check`` subcommand to the top-level parser's subcommands."""
    parser = choices.subcommand(
        subcommands,
        "check",
        summary,
        DESCRIPTION,
        EPILOG,
        runs_a_command=True,
    )
    choices.add_step_arguments(
        parser.add_argument_group("one step to run the command for (instead of the standard cases)")
    )
    parser.add_argument(
        "--case",
        metavar="NAME",
        action="append",
        choices=[case.name for case in STANDARD_CASES],
        help="a standard case to run (repeat for several; default: all)",
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=choices.seconds,
        default=DEFAULT_TIMEOUT,
        help=f"how long one run may take before it is killed (default: {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument("--json", action="store_true", help="write one JSON object per line instead of the report")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to check and its arguments, after '--'")
    parser.set_defaults(handler=functools.partial(run, parser=parser))


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Check the command under each case, print the report, return the exit status."""
    command = choices.command(args, parser)
    if not command:
        return EXIT_USAGE
    described = args.asset or args.partition or args.run_id or args.job or args.extras
    if described and args.case:
        parser.print_usage(sys.stderr)
        print(
            f"{parser.prog}: error: --case runs standard cases; step options describe one step instead: not both",
            file=sys.stderr,
        )
        return EXIT_USAGE
    cases = (
        [_described_case(args)] if described else [c for c in STANDARD_CASES if not args.case or c.name in args.case]
    )
    try:
        reports = check_command(command, cases, timeout=args.timeout)
    except PipesExecutionError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    status = EXIT_PASSED if all(report.passed for report in reports) else EXIT_VIOLATIONS
    written_for = None if described else cases_written_for(reports)
    check_with = None if written_for is None else _check_with(args, parser, command, written_for)
    if args.json:
        for case in reports_as_json(reports):
            print(json.dumps({"type": "case", **case}))
        summary: dict[str, Any] = {
            "cases": len(reports),
            "passed": sum(r.passed for r in reports),
            "exit_status": status,
        }
        if written_for is not None:
            summary.update(written_for=written_for, check_with=check_with)
        print(json.dumps({"type": "summary", **summary}))
    else:
        print(format_report(reports))
        if written_for is not None:
            print(WRITTEN_FOR)
            print("\n".join(f"  {r.case}: {context_error(r)}" for r in reports if not r.passed))
            print(f"Check it for the steps it is written for (the cases it passed) with:\n  {check_with}")
    return status


def _check_with(args: argparse.Namespace, parser: argparse.ArgumentParser, command: list[str], cases: list[str]) -> str:
    """The command line checking ``command`` under ``cases`` only, with this one's timeout."""
    timeout = [] if args.timeout == DEFAULT_TIMEOUT else ["--timeout", f"{args.timeout:g}"]
    options = [option for case in cases for option in ("--case", case)] + timeout
    return shlex.join([*parser.prog.split(), *options, "--", *command])


def _described_case(args: argparse.Namespace) -> Case:
    """The one step the step options describe."""
    step = StepContext(args.asset or None, run_id=args.run_id, job_name=args.job, partition_key=args.partition)
    return Case("custom", "the step given on the command line", build_context_data(step, extras=args.extras))
