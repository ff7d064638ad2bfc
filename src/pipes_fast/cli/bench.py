"""``pipes-fast bench``: pipes_fast's speed on this machine, beside Dagster's where it is installed."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from pipes_fast.benchmarks import report, suite
from pipes_fast.cli import choices
from pipes_fast.cli.live import REDRAW_SECONDS, LiveStatus

EXIT_OK = 0
EXIT_USAGE = 2

DESCRIPTION = """\
Measure pipes_fast on this machine, in one run: reader throughput (the compiled extension, the
pure-Python implementation, and the floor: a bare split + orjson.loads loop), writer throughput (unbuffered,
buffered, and the floor: a bare os.write loop), delivery latency from a write to the handler (p50,
p99) and the idle reader's CPU, the overhead of a session around a trivial process, and a Pipes
child's start-up over a bare interpreter. Where Dagster and dagster-pipes are installed, the same
figures for their implementation. Each figure is the best of its rounds, with the worst beside it
(machines are noisy: compare within one run). A full run takes about a minute, --quick about
fifteen seconds; the steps are shown on stderr as they start."""

EPILOG = f"""\
output:
  stdout       a table per measurement, or with --json one object per line: a "figure" per side
               (section, side, best, worst, unit) and a final "machine"
  --out DIR    also writes DIR/REPORT.md and, with matplotlib (pip install matplotlib), a PNG
               plot per measurement; the project's docs/performance/REPORT.md is made by
               '{report.REGENERATE}'

exit status:
  0     the run completed
  {EXIT_USAGE}     usage error (bad option, --out names a file)
  1     a measurement failed (its error is shown)

examples:
  pipes-fast bench --quick
  pipes-fast bench --out docs/performance
  pipes-fast bench --quick --json | jq 'select(.type == "figure" and .side == "dagster")'
"""


def register(subcommands: Any, summary: str) -> None:
    """Add the ``bench`` subcommand to the top-level parser's subcommands."""
    parser = choices.subcommand(
        subcommands,
        "bench",
        summary,
        DESCRIPTION,
        EPILOG,
        runs_a_command=False,
    )
    parser.add_argument("--quick", action="store_true", help="a short run: fewer messages and rounds")
    parser.add_argument("--out", metavar="DIR", type=Path, help="write REPORT.md and the plots into DIR")
    parser.add_argument("--json", action="store_true", help="write one JSON object per line instead of tables")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the benchmarks, print the report, write it to ``--out``."""
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        print(f"pipes-fast bench: error: --out {args.out} is not a directory", file=sys.stderr)
        return EXIT_USAGE
    with _Progress(sys.stderr) as progress:
        result = suite.run(suite.QUICK if args.quick else suite.FULL, progress=progress.step)
    if args.json:
        for item in report.as_json(result):
            print(json.dumps(item))
    else:
        print(report.as_table(result))
    if args.out is not None:
        for path in report.write(result, args.out):
            print(f"wrote {path}", file=sys.stderr)
    return EXIT_OK


class _Progress:
    """The step running: on a terminal, a line rewritten in place with the time elapsed; elsewhere
    one line per step as it starts."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._status = LiveStatus(stream)
        self._step = ""
        self._started = time.monotonic()
        self._done = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="pipes-fast bench progress", daemon=True)

    def __enter__(self) -> _Progress:
        if self._stream.isatty():
            self._ticker.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        if self._ticker.is_alive():
            self._ticker.join()
        self._status.clear()

    def step(self, name: str) -> None:
        self._step = name
        if not self._stream.isatty():
            self._status.write_line(name)

    def _tick(self) -> None:
        while not self._done.wait(REDRAW_SECONDS):
            self._status.show(f"{self._step}, {time.monotonic() - self._started:.0f} s elapsed")
