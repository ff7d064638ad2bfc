"""``pipes-fast run``: run a command as a Pipes external process and show what comes back."""

from __future__ import annotations

import argparse
import functools
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from types import TracebackType
from typing import Any, Optional, TextIO

from pipes_fast._system.signals import sigterm_as_keyboard_interrupt
from pipes_fast.cli import choices
from pipes_fast.cli.live import REDRAW_SECONDS, LiveStatus, live_logger
from pipes_fast.cli.output import CUT, MAX_DEPTH, JsonReport, Report
from pipes_fast.clients.subprocess import PipesSubprocessClient
from pipes_fast.context import StepContext
from pipes_fast.errors import PipesError, PipesExecutionError
from pipes_fast.handler import PipesMessageHandler
from pipes_fast.session import PipesSession, open_pipes_session

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_PROTOCOL = 3
EXIT_CANNOT_START = 127
EXIT_INTERRUPTED = 130

DRAIN_BATCH = 10_000
"""Custom messages taken from the session at a time (memory stays bounded on long streams)."""

DESCRIPTION = """\
Run COMMAND as a Dagster Pipes external process: the context (asset keys, partition, run id,
job, extras) is injected into it and the messages it reports are read back. Its logs are shown
on stderr as they arrive, with a live progress line (messages received, rate, elapsed time) when
stderr is a terminal. Once it exits, what it reported is shown on stdout: a table of
materializations, checks, custom messages and the exception it reported, or with --json one
JSON object per line, written as results arrive."""

EPILOG = f"""\
context injectors (--context-injector):
  env          the context inline in DAGSTER_PIPES_CONTEXT (default)
  file:PATH    the context in the new file PATH (owner-only; removed afterwards)
  tempfile     the context in a new temporary file

message readers (--message-reader):
  tempfile               a new temporary file the process appends to (default)
  file:PATH              the new file PATH (owner-only; kept afterwards)
  dir:DIR                chunk files 1.json, 2.json, ... in a new sub-directory of DIR,
                         DIR/pipes-<random>/ (DIR must exist; the command writes them with
                         PipesUnityCatalogVolumesMessageWriter; kept afterwards)
  s3://BUCKET[/PREFIX]   chunks in BUCKET under PREFIX/<random>/ (the command writes them with
                         PipesS3MessageWriter; needs boto3: pip install boto3;
                         credentials and endpoint as boto3 finds them)
  The directory and S3 readers look for chunks every {choices.BLOB_POLL_SECONDS:g} s.
  file:PATH refuses a PATH that already exists (a usage error, the file left as it was); with
  --overwrite it takes a regular file there: the message file is emptied and made owner-only,
  the context file replaced and then removed. A link at PATH is never followed, even then.

--json output, one object per line, each with a "type":
  materialization   asset_key, data_version, metadata {{name: {{type, value}}}}
  check             asset_key, check_name, passed, severity (ERROR|WARN), metadata
  custom_message    payload
  exception         name, message, stack, cause, context (as the process reported it)
  summary           materializations, checks, custom_messages, messages, opened, closed,
                    returncode (null when interrupted while the command ran), exit_status,
                    outcome ("success", "interrupted", or why it failed)
Only what the process reported is shown (no implicit materializations). With --json, what the
command itself prints on stdout goes to stderr, so that stdout holds only the JSON lines.
Whatever the process sends, the output is valid UTF-8, and with --json strict JSON: NaN and
infinities become the strings "NaN", "Infinity" and "-Infinity"; a lone surrogate (not valid
Unicode) becomes the six characters \\udXXX; arrays and objects nested more than {MAX_DEPTH} deep in
a line are cut there, replaced by the string "{CUT}".
The table shows values the same way.

exit status:
  0     the command exited 0 and opened and closed the pipes
  N     the command's own exit status N when it failed (128+S when killed by signal S)
  {EXIT_USAGE}     usage error (bad option or value, no command, an unusable path)
  {EXIT_PROTOCOL}     protocol failure: the command exited 0 but never opened the pipes, or never closed them
  {EXIT_CANNOT_START}   the command could not be started
  {EXIT_INTERRUPTED}   interrupted (Ctrl-C or SIGTERM; the command got SIGINT first): what came back and
        the summary are still shown

examples:
  pipes-fast run --asset warehouse/orders --partition 2024-06-01 --extras '{{"rows": 600}}' \\
      -- python examples/report_orders.py
  pipes-fast run --json --asset orders -- python job.py | jq 'select(.type == "check")'
  pipes-fast run --context-injector file:/tmp/ctx.json --message-reader dir:/mnt/shared/run-1 \\
      -- ./job.sh
"""


def register(subcommands: Any, summary: str) -> None:
    """Add the ``run`` subcommand to the top-level parser's subcommands."""
    parser = choices.subcommand(
        subcommands,
        "run",
        summary,
        DESCRIPTION,
        EPILOG,
        runs_a_command=True,
    )
    choices.add_step_arguments(parser.add_argument_group("the step the command runs for"))
    transport = parser.add_argument_group("how the context goes in and the messages come back")
    transport.add_argument(
        "--context-injector",
        metavar="KIND",
        type=choices.context_injector,
        default="env",
        help=f"{choices.INJECTORS} (default: env)",
    )
    transport.add_argument(
        "--message-reader",
        metavar="KIND",
        type=choices.message_reader,
        default="tempfile",
        help=f"{choices.READERS} (default: tempfile)",
    )
    transport.add_argument(
        "--overwrite", action="store_true", help="let file:PATH use a regular file that already exists (never a link)"
    )
    parser.add_argument("--json", action="store_true", help="write one JSON object per line instead of a table")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run and its arguments, after '--'")
    parser.set_defaults(handler=functools.partial(run, parser=parser))


class _Collector:
    """Takes results and custom messages from the session into the report and the progress
    count: on a thread, ten times a second, while the block runs; then :meth:`drain_rest`."""

    def __init__(self, session: PipesSession, report: Report, status: LiveStatus) -> None:
        self._session = session
        self._report = report
        self._status = status
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="pipes-fast run collector", daemon=True)

    def __enter__(self) -> _Collector:
        self._thread.start()
        return self

    def __exit__(
        self, kind: Optional[type[BaseException]], value: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(REDRAW_SECONDS):
            while self._drain_custom() == DRAIN_BATCH:
                pass
            self._drain_results()
            self._status.tick()

    def drain_rest(self) -> None:
        """After the session's block: take the rest of the stream (this reads it to its end)."""
        while self._drain_custom():
            self._status.tick()
        self._drain_results()

    def _drain_custom(self) -> int:
        payloads = self._session.drain_custom_messages(max_messages=DRAIN_BATCH)
        self._report.add_custom_messages(payloads)
        self._status.count(len(payloads))
        return len(payloads)

    def _drain_results(self) -> None:
        results = self._session.get_results(implicit_materializations=False)
        self._report.add_results(results)
        self._status.count(len(results))


@contextmanager
def _json_stdout() -> Iterator[TextIO]:
    """For ``--json``: a stream on this process's stdout for the JSON lines, while file descriptor
    1, which the command inherits, points at stderr, so that nothing it prints mixes with them."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with open(saved, "w", encoding="utf-8", closefd=False) as stdout:
            yield stdout
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run the command in a Pipes session, show what it reported, return the exit status."""
    command = choices.command(args, parser)
    if not command:
        return EXIT_USAGE
    with ExitStack() as stack:
        report = JsonReport(stack.enter_context(_json_stdout())) if args.json else Report(sys.stdout)
        status = LiveStatus(sys.stderr)
        try:
            return _run(command, args, report, status, parser.prog)
        except KeyboardInterrupt:  # again, while the summary was being written
            exit_status, problem = EXIT_INTERRUPTED, "interrupted"
        except PipesExecutionError as exc:  # the command could not start
            exit_status, problem = EXIT_CANNOT_START, f"error: {exc}"
        except PipesError as exc:  # an injector's or reader's path that cannot be used
            exit_status, problem = EXIT_USAGE, f"error: {exc}"
        finally:
            status.clear()
    print(f"{parser.prog}: {problem}", file=sys.stderr)
    return exit_status


def _run(command: list[str], args: argparse.Namespace, report: Report, status: LiveStatus, prog: str) -> int:
    """``run`` once its output is set up; a ``PipesError`` is left to the caller. An interrupt
    (the command gets SIGINT first) ends the run early, what came back still shown."""
    log = live_logger(status)
    context = StepContext(
        args.asset or None, run_id=args.run_id, job_name=args.job, partition_key=args.partition, log=log
    )
    injector, reader = args.context_injector(args.overwrite), args.message_reader(args.overwrite)
    client = PipesSubprocessClient()  # its process handling: interrupts forwarded, the child reaped
    handler: Optional[PipesMessageHandler] = None
    returncode: Optional[int] = None
    interrupted = False
    with sigterm_as_keyboard_interrupt():
        try:
            with open_pipes_session(context, injector, reader, args.extras) as session:
                handler = session.message_handler
                env = {**os.environ, **session.get_bootstrap_env_vars()}
                with _Collector(session, report, status) as collector:
                    try:
                        returncode = client._run_process(command, None, env, log)[0].returncode
                    except KeyboardInterrupt:  # the command is gone: the session reads what it sent
                        interrupted = True
            collector.drain_rest()
        except KeyboardInterrupt:  # before the command started, or again while the session closed
            interrupted = True
    status.clear()
    opened = handler is not None and handler.received_opened_message
    closed = handler is not None and handler.received_closed_message
    exit_status, outcome = _outcome(None if interrupted else returncode, opened, closed)
    if exit_status == EXIT_PROTOCOL:
        print(f"{prog}: protocol failure: {outcome}", file=sys.stderr)
    report.finish(
        handler.exception if handler else None,
        {
            "materializations": report.materializations,
            "checks": report.checks,
            "custom_messages": report.custom_messages,
            "messages": status.messages,
            "opened": opened,
            "closed": closed,
            "returncode": returncode,
            "exit_status": exit_status,
            "outcome": outcome,
        },
    )
    if interrupted:
        print(f"{prog}: interrupted", file=sys.stderr)
    return exit_status


def _outcome(returncode: Optional[int], opened: bool, closed: bool) -> tuple[int, str]:
    """The exit status (a killed command's as a shell reports it: 128+N) and a few words saying why;
    ``returncode`` None: the run was interrupted."""
    if returncode is None:
        return EXIT_INTERRUPTED, "interrupted"
    if returncode < 0:
        return 128 - returncode, f"the command was killed by signal {-returncode}"
    if returncode:
        return returncode, f"the command failed with exit status {returncode}"
    if not opened:
        return EXIT_PROTOCOL, "the command exited 0 but never opened the pipes"
    if not closed:
        return EXIT_PROTOCOL, "the command exited 0 but never closed the pipes"
    return EXIT_OK, "success"
