"""The ``pipes-fast`` command line (also ``python -m pipes_fast``): one subcommand per module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Optional

from pipes_fast._version import __version__
from pipes_fast.cli import bench, check, run

PROG = "pipes-fast"


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser, with a subparser per subcommand."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run and inspect Dagster Pipes external processes with pipes_fast.",
        epilog=f"Run '{PROG} COMMAND --help' for a subcommand's options, output and exit statuses.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subcommands = parser.add_subparsers(title="commands", metavar="COMMAND", dest="subcommand")
    run.register(subcommands)
    check.register(subcommands)
    bench.register(subcommands)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the subcommand and return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version (0) or a usage error (2)
        return done.code if isinstance(done.code, int) else 2
    if args.subcommand is None:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: a command is required (try '{PROG} --help')", file=sys.stderr)
        return run.EXIT_USAGE
    status: int = args.handler(args)
    return status
