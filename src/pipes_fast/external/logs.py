"""``PipesContext.log``: a logger whose records go to the orchestration side as ``log`` messages."""

from __future__ import annotations

import logging

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, Callable

    SendMessage = Callable[[str, Mapping[str, Any]], None]


class PipesLogger(logging.Logger):
    """Sends every record, at every level, as a ``log`` message (message text and level name).

    A record's exception and stack, if any, are appended to its text as ``logging`` formats them.
    The logger stands alone: it is not registered with ``logging.getLogger`` and has no parent.
    """

    def __init__(self, send: SendMessage) -> None:
        super().__init__("dagster-pipes")
        self.addHandler(_PipesLogHandler(send))


class _PipesLogHandler(logging.Handler):
    def __init__(self, send: SendMessage) -> None:
        super().__init__()
        self._send = send

    def emit(self, record: logging.LogRecord) -> None:
        self._send("log", {"message": self.format(record), "level": record.levelname})
