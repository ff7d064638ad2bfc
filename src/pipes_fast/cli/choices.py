"""The options ``run`` and ``check`` share, and their values: the step (``--asset``,
``--partition``, ``--run-id``, ``--job``, ``--extras``), ``--context-injector`` and
``--message-reader`` (each parsed into a :data:`Maker` of what it names), durations
(:func:`seconds`); a value that cannot be parsed is an ``argparse.ArgumentTypeError`` (a usage
error) saying what was wrong. And the command after ``--``."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from pipes_fast._system.files import open_private_file, removed_on_exit
from pipes_fast.errors import PipesError
from pipes_fast.injectors import (
    PipesContextInjector,
    PipesEnvContextInjector,
    PipesFileContextInjector,
    PipesTempFileContextInjector,
    context_json,
)
from pipes_fast.protocol import PipesContextData, PipesExtras, PipesParams
from pipes_fast.readers.base import PipesMessageReader
from pipes_fast.readers.file import PipesFileMessageReader, PipesTempFileMessageReader

if TYPE_CHECKING:
    from pipes_fast.handler import PipesMessageHandler

BLOB_POLL_SECONDS = 1.0
"""How often the directory and S3 readers look for a new chunk (they also read the rest at once
when the command exits)."""

INJECTORS = "env | file:PATH | tempfile"
READERS = "tempfile | file:PATH | dir:DIR | s3://BUCKET[/PREFIX]"


_T = TypeVar("_T")
Maker = Callable[[bool], _T]
"""What ``--context-injector`` and ``--message-reader`` parse into: given whether ``--overwrite``
was passed, it makes the injector or reader (a ``PipesError`` if its path cannot be used)."""


class _NewFileContextInjector(PipesFileContextInjector):
    """The file injector creating its file, never taking one already there (so what it removes
    afterwards is its own)."""

    @contextmanager
    def inject_context(self, context_data: PipesContextData) -> Iterator[PipesParams]:
        fd = open_private_file(self.path, context_json(context_data), what="context file", exclusive=True)
        with removed_on_exit(self.path, fd):
            yield {"path": self.path}


class _NewFileMessageReader(PipesFileMessageReader):
    """The file reader creating its file, never truncating one already there."""

    def read_messages(self, handler: PipesMessageHandler) -> AbstractContextManager[PipesParams]:
        return self._read_messages(handler, exclusive=True)


def _file(path: str, what: str, existing: Callable[[str], _T], new: Callable[[str], _T]) -> Maker[_T]:
    """The maker for ``file:PATH``: ``existing(path)`` with ``--overwrite``; else ``new(path)``,
    which creates the file, and a ``PipesError`` naming the path if anything is there already."""

    def make(overwrite: bool) -> _T:
        if overwrite:
            return existing(path)
        if os.path.lexists(path):
            raise PipesError(
                f"refusing to use {path} as the {what}: it already exists (pass --overwrite to replace a regular file)"
            )
        return new(path)

    return make


def context_injector(value: str) -> Maker[PipesContextInjector]:
    """``env``, ``file:PATH`` or ``tempfile``."""
    if value == "env":
        return lambda overwrite: PipesEnvContextInjector()
    if value == "tempfile":
        return lambda overwrite: PipesTempFileContextInjector()
    if value.startswith("file:") and value[5:]:
        return _file(value[5:], "context file", PipesFileContextInjector, _NewFileContextInjector)
    raise argparse.ArgumentTypeError(f"unknown context injector {value!r}: expected {INJECTORS}")


def message_reader(value: str) -> Maker[PipesMessageReader]:
    """``tempfile``, ``file:PATH``, ``dir:DIR`` or ``s3://BUCKET[/PREFIX]``."""
    if value == "tempfile":
        return lambda overwrite: PipesTempFileMessageReader()
    if value.startswith("file:") and value[5:]:
        return _file(
            value[5:],
            "message file",
            lambda path: PipesFileMessageReader(path, cleanup_file=False),
            lambda path: _NewFileMessageReader(path, cleanup_file=False),
        )
    if value.startswith("dir:") and value[4:]:
        if not os.path.isdir(value[4:]):
            raise argparse.ArgumentTypeError(f"message directory {value[4:]!r} does not exist or is not a directory")
        from pipes_fast.readers.directory import PipesDirectoryMessageReader  # only here: it costs start-up

        return lambda overwrite: PipesDirectoryMessageReader(value[4:], interval=BLOB_POLL_SECONDS)
    if value.startswith("s3://"):
        from pipes_fast.cli.s3 import s3_reader  # only here: it costs start-up

        reader = s3_reader(value, BLOB_POLL_SECONDS)
        return lambda overwrite: reader
    raise argparse.ArgumentTypeError(f"unknown message reader {value!r}: expected {READERS}")


def seconds(value: str) -> float:
    """A duration in seconds: a finite number above 0."""
    try:
        parsed = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r:.200}") from None
    if not (math.isfinite(parsed) and parsed > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds above 0, got {value!r:.200}")
    return parsed


def extras(value: str) -> PipesExtras:
    """A JSON object."""
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc}): {value!r:.200}") from None
    if not isinstance(parsed, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object, got {type(parsed).__name__}: {value!r:.200}")
    return parsed


def add_step_arguments(group: Any) -> None:
    """Add the options that describe the step to ``group`` (a parser or an argument group)."""
    group.add_argument(
        "--asset",
        metavar="KEY",
        action="append",
        default=[],
        help="an asset key, parts separated by '/' (repeat for several; none: an op step)",
    )
    group.add_argument("--partition", metavar="KEY", help="the partition key")
    group.add_argument("--run-id", metavar="ID", help="the run id (default: a new UUID)")
    group.add_argument("--job", metavar="NAME", help="the job name")
    group.add_argument(
        "--extras", metavar="JSON", type=extras, default={}, help="extras for the process, a JSON object"
    )


def command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[str]:
    """The command after ``--``; empty after saying so on stderr (a usage error) if there is none."""
    given: list[str] = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not given:
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: no command to run: add '-- COMMAND [ARG...]'", file=sys.stderr)
    return given


def subcommand(
    subcommands: Any, name: str, summary: str, description: str, epilog: str, *, runs_a_command: bool
) -> argparse.ArgumentParser:
    """A subcommand's parser, its ``--help`` showing ``description`` and ``epilog`` as written; one
    that ``runs_a_command`` says it takes it after ``--`` (see :func:`command`)."""
    usage = {"usage": "%(prog)s [OPTIONS] -- COMMAND [ARG...]"} if runs_a_command else {}
    parser: argparse.ArgumentParser = subcommands.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        **usage,
    )
    return parser
