"""``PipesContext.log``: a logger whose records go to the orchestration side as ``log`` messages."""

from __future__ import annotations

import logging
from collections.abc import Mapping

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    SendMessage = Callable[[str, Mapping[str, Any]], None]


class PipesLogger(logging.Logger):
    """Sends every record, at every level, as a ``log`` message (message text and level name).

    A record's exception and stack, if any, are appended to its text as ``logging`` formats them.
    The logger stands alone: it is not registered with ``logging.getLogger`` and has no parent.

    While nothing could see a ``LogRecord`` (no exception, stack or ``extra``, no filter, handler,
    formatter or record factory of the user's), a call sends the text ``logging`` would have
    formatted without building a record: a few times cheaper, for processes that log a lot.
    """

    def __init__(self, send: SendMessage) -> None:
        super().__init__("dagster-pipes")
        self._handler = _PipesLogHandler(send)
        self.addHandler(self._handler)

    def _log(
        self,
        level: int,
        msg: object,
        args: Any,
        exc_info: Any = None,
        extra: Any = None,
        stack_info: bool = False,
        stacklevel: int = 1,
    ) -> None:
        handler = self._handler
        if (
            exc_info
            or extra is not None
            or stack_info
            or self.disabled
            or self.filters
            or self.parent is not None
            or len(self.handlers) != 1
            or self.handlers[0] is not handler
            or handler.filters
            or handler.formatter is not None
            or level < handler.level
            or logging.getLogRecordFactory() is not logging.LogRecord
        ):
            super()._log(level, msg, args, exc_info, extra, stack_info, stacklevel + 1)
            return
        text = str(msg)
        if args:  # as LogRecord.getMessage formats it
            if len(args) == 1 and isinstance(args[0], Mapping) and args[0]:
                args = args[0]
            text = text % args
        with handler.lock:  # type: ignore[union-attr]  # created with the handler
            handler.send("log", {"message": text, "level": logging.getLevelName(level)})


class _PipesLogHandler(logging.Handler):
    def __init__(self, send: SendMessage) -> None:
        super().__init__()
        self.send = send

    def emit(self, record: logging.LogRecord) -> None:
        self.send("log", {"message": self.format(record), "level": record.levelname})
