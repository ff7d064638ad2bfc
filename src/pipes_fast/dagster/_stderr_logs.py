"""The external process's log lines below a chosen level, written to the step's stderr.

Dagster records each ``context.log`` call as an event: one write to the run's event log storage
(a sqlite transaction on a local instance), a few milliseconds each. A process that logs
thousands of lines spends most of its step there. With ``log_to_stderr_below``, pipes_fast.dagster
writes the lines below that level to ``sys.stderr`` instead, formatted as Dagster's console
formats records; Dagster captures the step's stderr (the compute logs: the run's "stderr" view in
its UI), so every line stays visible, and the lines of one batch cost one write.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Optional, Union

from pipes_fast.handler import log_level_number, write_text


def stderr_level(below: Union[str, int, None]) -> Optional[int]:
    """The ``logging`` level of a ``log_to_stderr_below`` argument: a level name (any case) or
    number, or None (every line is an event, as in Dagster); raises ``ValueError`` otherwise."""
    if below is None or (type(below) is int and below >= 0):
        return below
    number = log_level_number(below)
    if number is None:
        raise ValueError(
            f"log_to_stderr_below must be a log level (DEBUG, INFO, WARNING, ERROR, CRITICAL or a"
            f" number), got {below!r:.50}"
        )
    return number


class StderrLogLines:
    """Takes the log messages below ``level`` and writes them to ``sys.stderr`` at each
    :meth:`flush`, one line each (``<time> - pipes - <LEVEL> - <message>``, the time of the flush)."""

    def __init__(self, level: int) -> None:
        self._level = level
        self._pending: list[tuple[str, str]] = []

    def take(self, params: Any) -> bool:
        """Keep the line of a ``log`` message's params if it is below the level; False (the
        message is left to Dagster) if it is not, or if the params are not a log line's."""
        if type(params) is not dict:
            return False
        message, level = params.get("message"), params.get("level") or "INFO"
        number = log_level_number(level)
        if number is None or number >= self._level or type(message) is not str:
            return False
        self._pending.append((logging.getLevelName(number), message))
        return True

    def flush(self) -> None:
        """Write the lines taken since the last flush, in one write."""
        if self._pending:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S %z")
            text = "".join([f"{stamp} - pipes - {level} - {message}\n" for level, message in self._pending])
            self._pending.clear()
            write_text(sys.stderr, text)
