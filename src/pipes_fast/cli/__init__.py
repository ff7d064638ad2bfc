"""The ``pipes-fast`` command line (also ``python -m pipes_fast``): one subcommand per module.

Only the subcommand being run is imported (``bench`` and ``check`` bring in much that ``run``
does not need), so that ``pipes-fast run`` starts fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Optional

PROG = "pipes-fast"

SUBCOMMANDS = {
    "run": "run a command as a Pipes external process and show what it reports",
    "check": "check that a Pipes client in any language speaks the protocol right",
    "bench": "measure pipes_fast (and Dagster's implementation, where installed) on this machine",
}
"""Each subcommand, its module ``pipes_fast.cli.<name>``, and the line ``--help`` shows for it."""


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The top-level parser, with a subparser per subcommand; only the one ``argv`` names (if any)
    has its options, the others are listed by name and summary."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run and inspect Dagster Pipes external processes with pipes_fast.",
        epilog=f"Run '{PROG} COMMAND --help' for a subcommand's options, output and exit statuses.",
    )
    parser.add_argument("--version", action="store_true", help="show the version and the implementation in use")
    parser.add_argument("--json", dest="version_json", action="store_true", help="with --version: as a JSON object")
    subcommands = parser.add_subparsers(title="commands", metavar="COMMAND", dest="subcommand")
    chosen = next((arg for arg in argv if not arg.startswith("-")), None)
    for name, summary in SUBCOMMANDS.items():
        if name == chosen:
            module = f"pipes_fast.cli.{name}"
            __import__(module)
            sys.modules[module].register(subcommands, summary)
        else:
            subcommands.add_parser(name, help=summary)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the subcommand and return the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help (0) or a usage error (2)
        return done.code if isinstance(done.code, int) else 2
    if args.version:
        from pipes_fast.cli.version import show

        return show(as_json=args.version_json)
    if args.subcommand is None:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: a command is required (try '{PROG} --help')", file=sys.stderr)
        return 2
    status: int = args.handler(args)
    return status
