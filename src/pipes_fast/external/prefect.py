"""Messages through the logs of the current Prefect flow or task run, as dagster-pipes sends them.

Each message is one INFO record, its JSON line the record's message, on a child of Prefect's run
logger: Prefect's API log handler takes the run from the active run context, so nothing here
imports Prefect. Prefect cuts logs over 1 MB, which would leave broken JSON: a message longer
than the limit is replaced by a short error (a ``closed`` message stays a ``closed`` one).
"""

from __future__ import annotations

import logging

from pipes_fast._logic.wire import make_message
from pipes_fast.external.serialize import json_line
from pipes_fast.external.validation import param_of_type
from pipes_fast.external.writers import PipesMessageWriter, PipesMessageWriterChannel

TYPE_CHECKING = False  # typing stays unimported at run time: see pipes_fast.external
if TYPE_CHECKING:
    from pipes_fast.protocol import PipesMessage, PipesParams


class PipesPrefectLogsMessageWriter(PipesMessageWriter["PipesPrefectLogsMessageWriterChannel"]):
    """Writes messages to the logs of the current Prefect run; the params must hold
    ``{"prefect_logs": true}`` and may set ``"max_message_bytes"``."""

    PREFECT_LOGS_KEY = "prefect_logs"
    MAX_MESSAGE_BYTES_KEY = "max_message_bytes"
    LOGGER_NAME = "prefect.flow_runs.dagster_pipes"
    """A child of Prefect's run logger: its records reach Prefect's API handler."""
    DEFAULT_MAX_MESSAGE_BYTES = 900_000
    """Prefect's limit is 1 MB per log, its own fields included."""

    def open(self, params: PipesParams) -> PipesPrefectLogsMessageWriterChannel:
        param_of_type(params, self.PREFECT_LOGS_KEY, bool, self)
        if params.get(self.MAX_MESSAGE_BYTES_KEY) is not None:
            param_of_type(params, self.MAX_MESSAGE_BYTES_KEY, int, self)
        return PipesPrefectLogsMessageWriterChannel(
            logger=logging.getLogger(self.LOGGER_NAME),
            max_message_bytes=params.get(self.MAX_MESSAGE_BYTES_KEY) or self.DEFAULT_MAX_MESSAGE_BYTES,
        )


class PipesPrefectLogsMessageWriterChannel(PipesMessageWriterChannel):
    """Logs each message as one INFO record on ``logger``, its JSON line (``json.dumps``') the
    record's message; a line over ``max_message_bytes`` is replaced by an error that says so."""

    def __init__(self, logger: logging.Logger, max_message_bytes: int) -> None:
        self._logger = logger
        self._max_message_bytes = max_message_bytes

    def write_message(self, message: PipesMessage) -> None:
        line = json_line(message)[:-1]  # ASCII: as many bytes as characters
        if len(line) > self._max_message_bytes:
            line = json_line(self._replacement(message, len(line)))[:-1]
        self._logger.info(line)

    def _replacement(self, message: PipesMessage, size: int) -> PipesMessage:
        """An error in place of ``message`` (``size`` bytes, over the limit), of the same kind if it is ``closed``."""
        error = (
            f"Dropped a `{message['method']}` Pipes message of {size} bytes, over the"
            f" {self._max_message_bytes}-byte limit of a Prefect log: send large payloads through"
            " a blob store message writer."
        )
        if message["method"] != "closed":
            return make_message("log", {"message": error, "level": "ERROR"})
        exception = (message["params"] or {}).get("exception") or {}
        return make_message(
            "closed",
            {
                "exception": {
                    "message": error,
                    "stack": [],
                    "name": exception.get("name"),
                    "cause": None,
                    "context": None,
                }
            },
        )
