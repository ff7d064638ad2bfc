"""Dagster's message handler running on pipes_fast's hot path.

:class:`DagsterBridge` is a pipes_fast handler: its router frames, decodes and handles the bulk
methods (materializations, checks, custom messages) and the results are converted into Dagster's
types as they come; the other methods (``opened``, ``closed``, ``log``, ``log_external_stream``)
go to Dagster's own handling, so logs, hooks and engine events are exactly Dagster's. Any
pipes_fast reader feeds it. :class:`PipesMessageHandler` is the Dagster handler that owns one;
readers written for Dagster feed it message by message.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Callable, Optional, cast

import dagster

from pipes_fast import _hotpath
from pipes_fast import handler as core
from pipes_fast._logic.flow import DrainGate, take_oldest
from pipes_fast.dagster._context import DagsterStep
from pipes_fast.dagster._convert import DagsterResult, ToDagster
from pipes_fast.dagster._internals import ChildMessageHandler
from pipes_fast.dagster._stderr_logs import StderrLogLines
from pipes_fast.errors import MalformedParams
from pipes_fast.protocol import PipesException, PipesParams, SkippedMessage, skipped_message
from pipes_fast.readers import PipesMessageReader as PipesFastReader


class DagsterBridge(core.PipesMessageHandler):
    """A pipes_fast handler whose results are Dagster's and whose other methods Dagster handles.

    ``dagster_handler`` is the Dagster ``PipesMessageHandler`` whose handling of ``opened``,
    ``closed``, ``log`` and ``log_external_stream`` runs. With ``sink``, results and custom
    messages go into its queues as they come, for Dagster's own session to read; without, they
    are kept here for :class:`PipesMessageHandler`, every one for the whole session, as Dagster's
    handler keeps them.

    A result the step cannot record (a key outside the step, a check it does not run, metadata
    Dagster refuses) is skipped with a warning naming its line, and listed in :attr:`refused`.

    With ``stderr_logs``, the log lines it takes go to the step's stderr, a batch at a time,
    instead of to Dagster's handling.
    """

    def __init__(
        self,
        context: Any,
        message_reader: Any,
        dagster_handler: dagster.PipesMessageHandler,
        *,
        sink: bool = False,
        stderr_logs: Optional[StderrLogLines] = None,
    ) -> None:
        step = DagsterStep(context)
        super().__init__(step, message_reader)
        self._step = step
        self._dagster_handler = dagster_handler
        self._sink = dagster_handler if sink else None
        self._stderr_logs = stderr_logs
        self._to_dagster = ToDagster()
        self.results: list[DagsterResult] = []
        """Every result received, converted, oldest first (without ``sink``)."""
        self._drained = 0
        self.refused: list[str] = []
        """Warnings about the results that were skipped (the first ``_MAX_REFUSALS_KEPT``)."""
        self.refused_count = 0
        self.handle_lines = self._route_lines
        # the router knows the step's asset keys; materializations need a look of their own only
        # when some of those keys are just the assets of checks (a standalone @asset_check)
        self._check_every_result = step.materializable is not None and step.materializable != set(step.asset_keys or ())
        self._check_checks = step.checks is not None

    def handle_message(self, message: Mapping[str, Any]) -> None:
        self._router.route((message,))
        self._pass_on(lambda index: (0, message))
        if self._stderr_logs is not None:
            self._stderr_logs.flush()

    def get_reported_results(self) -> tuple[DagsterResult, ...]:  # type: ignore[override]
        """Every result received so far (the whole stream's, once it has been read)."""
        self.flow.finish()
        return tuple(self.results)

    def drain_results(self) -> list[DagsterResult]:  # type: ignore[override]
        """Results received since the last drain, oldest first (they stay in :attr:`results`)."""
        self.flow.finish()
        end = len(self.results)
        drained, self._drained = self.results[self._drained : end], end
        return drained

    def dagster_asset_key(self, key: Any) -> dagster.AssetKey:
        """Dagster's key for a pipes_fast one."""
        return self._to_dagster.asset_key(key)

    def _route_lines(self, lines: list[bytes], first_line: int) -> list[Any]:
        bad: list[Any] = self._router.route_lines(lines, first_line)
        self._pass_on(lambda index: self._source_of_result(lines, first_line, index))
        if self._stderr_logs is not None:
            self._stderr_logs.flush()
        return bad

    def _pass_on(self, source: Callable[[int], tuple[int, Any]]) -> None:
        """Convert what the router produced and keep it, or hand it to the sink; ``source(i)`` is
        the line number and message of the batch's ``i``-th result, to name one that is refused."""
        routed = self._router.results
        if routed:
            convert, refusal, kept = self._to_dagster.result, self._refusal, self.results
            every, checks, materialization = self._check_every_result, self._check_checks, _hotpath.MaterializeResult
            for index, result in enumerate(take_oldest(routed)):
                try:
                    if every or (checks and type(result) is not materialization):
                        refusal(result)
                    kept.append(convert(result))
                except Exception as exc:  # one result Dagster refuses must not stop the stream
                    line, message = source(index)
                    self._warn_skipped(skipped_message(line, message, exc))
        if self._sink is not None:
            if self.results:
                put = self._sink._result_queue.put
                for converted in self.results:
                    put(converted)
                self.results.clear()
            if self._custom_messages:
                put = self._sink._extra_msg_queue.put
                for payload in take_oldest(self._custom_messages):
                    put(payload)

    def _refusal(self, result: Any) -> None:
        """Raise if the step may not record ``result`` (the router knows only the asset keys)."""
        step = self._step
        if isinstance(result, _hotpath.MaterializeResult):
            if result.asset_key not in step.materializable:  # type: ignore[operator]
                raise MalformedParams(
                    f"asset key {result.asset_key.to_user_string()!r} is not materialized by this step"
                    f" (it materializes {sorted(key.to_user_string() for key in step.materializable or ())})"
                )
        elif (result.asset_key, result.check_name) not in step.checks:  # type: ignore[operator]
            runs = sorted(f"{key.to_user_string()}:{name}" for key, name in step.checks or ())
            raise MalformedParams(
                f"check {result.check_name!r} of asset {result.asset_key.to_user_string()!r} is not"
                f" one of the checks this step runs: {runs}"
            )

    def _source_of_result(self, lines: list[bytes], first_line: int, index: int) -> tuple[int, Any]:
        """The line number and message of the ``index``-th result ``lines`` produced: the lines
        are routed again one at a time, without effect, counting results (only for a refusal)."""
        keys = {key.to_escaped_user_string(): key for key in self._step.asset_keys or ()}
        scratch = _hotpath.MessageRouter(None if self._step.asset_keys is None else keys, _ignore, _ignore)
        for offset, line in enumerate(lines):
            scratch.route_lines([line], 1)
            if len(scratch.results) > index:
                try:
                    message = json.loads(line)
                except ValueError:
                    message = line
                return first_line + offset, message
        return 0, None

    def _warn_skipped(self, text: str) -> None:
        super()._warn_skipped(text)
        if isinstance(text, SkippedMessage) and text.method in RESULT_METHODS and not text.handled:
            self.refused_count += 1
            if len(self.refused) < _MAX_REFUSALS_KEPT:
                self.refused.append(text)

    def _handle_other(self, message: Mapping[str, Any]) -> None:
        stderr_logs = self._stderr_logs
        if stderr_logs is not None:
            if message.get("method") == "log" and stderr_logs.take(message.get("params")):
                return
            stderr_logs.flush()  # the lines before this message come before what it does
        try:
            handle_in_dagster(self._dagster_handler, message)
        finally:  # Dagster refusing the message must not leave the stream without its state
            method, params = message.get("method"), message.get("params")
            if method == "opened":
                self._record_opened(params)
            elif method == "closed":
                self._record_closed(params)


RESULT_METHODS = frozenset({"report_asset_materialization", "report_asset_check"})
_MAX_REFUSALS_KEPT = 20


def _ignore(_: Any) -> None:
    pass


def handle_in_dagster(handler: dagster.PipesMessageHandler, message: Mapping[str, Any]) -> None:
    """``handler``'s own handling of a message other than the bulk methods, as Dagster's
    ``handle_message`` dispatches it — without its warning about messages after ``closed``,
    which the router has already given (with the line number, capped)."""
    method, params = message["method"], message["params"]
    if method == "opened":
        handler._handle_opened(params)
    elif method == "closed":
        handler._handle_closed(params)
    elif method == "log":
        handler._handle_log(**params)
    elif method == "log_external_stream":
        handler._handle_log_external_stream(**params)
    else:
        raise MalformedParams(f"unknown method {method!r:.50}")


class PipesMessageHandler(dagster.PipesMessageHandler):
    """Dagster's ``PipesMessageHandler``, handling messages on pipes_fast's hot path.

    pipes_fast's readers feed its :attr:`core` directly; readers written for Dagster call
    :meth:`handle_message`, which goes through the same path. With ``log_to_stderr_below`` (a
    ``logging`` level number), the external process's log lines below it go to the step's stderr
    rather than one Dagster event each (see ``open_pipes_session``).
    """

    def __init__(self, context: Any, message_reader: Any, *, log_to_stderr_below: Optional[int] = None) -> None:
        super().__init__(context, message_reader)
        stderr_logs = None if log_to_stderr_below is None else StderrLogLines(log_to_stderr_below)
        self.core = DagsterBridge(context, message_reader, self, stderr_logs=stderr_logs)

    @contextmanager
    def handle_messages(self) -> Iterator[PipesParams]:
        """Run the reader for the span of the block: a pipes_fast reader feeds :attr:`core`."""
        reader = self._message_reader
        with reader.read_messages(self.core if isinstance(reader, PipesFastReader) else self) as params:
            yield params

    def handle_message(self, message: Any) -> None:
        with self.core.turn():  # readers of several writers (Dagster's composite's) call it from their threads
            self.core.handle_message(message)

    @property
    def received_opened_message(self) -> bool:
        return self.core.received_opened_message

    @property
    def received_closed_message(self) -> bool:
        return self.core.received_closed_message

    @property
    def flow(self) -> DrainGate:
        """Flow control between the reader and the consumer (see ``pipes_fast.handler``)."""
        return self.core.flow

    @property
    def exception(self) -> Optional[PipesException]:
        """The exception the external process reported in its ``closed`` message, if any."""
        return self.core.exception

    def get_reported_results(self) -> tuple[DagsterResult, ...]:
        return self.core.get_reported_results()

    def get_custom_messages(self) -> tuple[Any, ...]:
        return self.core.get_custom_messages()

    def _handle_log_external_stream(self, stream: Any, text: str, extras: Any = None) -> None:
        """Where Dagster writes it; text the stream cannot encode is written escaped."""
        if stream not in ("stdout", "stderr"):
            super()._handle_log_external_stream(stream, text, extras)
        else:
            core.write_text(sys.stdout if stream == "stdout" else sys.stderr, text)


def core_handler(handler: Any, message_reader: Any) -> core.PipesMessageHandler:
    """The pipes_fast handler a pipes_fast reader feeds for ``handler``: itself, the core of ours,
    or a bridge into Dagster's own handler; for one of the readers of Dagster's
    ``PipesCompositeMessageReader``, that handler's for the reader's writer."""
    if isinstance(handler, ChildMessageHandler):
        writer = core_handler(handler._handler, message_reader).for_writer(handler._reader)
        return cast(core.PipesMessageHandler, writer)  # it has all a reader uses
    if isinstance(handler, (core.PipesMessageHandler, core.WriterHandler)):
        return handler  # type: ignore[return-value]  # a WriterHandler has all a reader uses
    if isinstance(handler, PipesMessageHandler):
        return handler.core
    if isinstance(handler, dagster.PipesMessageHandler):
        return DagsterBridge(handler._context, message_reader, handler, sink=True)
    raise TypeError(f"pipes_fast readers feed a Pipes message handler, not {type(handler).__name__}")
