"""PipesContext: what the external process knows about its step, and how it reports back."""

from __future__ import annotations

import sys

from pipes_fast._logic.wire import make_message
from pipes_fast.external import validation as check
from pipes_fast.external.errors import DagsterPipesError, DagsterPipesWarning
from pipes_fast.external.loaders import PipesContextLoader, PipesDefaultContextLoader
from pipes_fast.external.params import PipesEnvVarParamsLoader, PipesParamsLoader
from pipes_fast.external.writers import PipesDefaultMessageWriter, PipesFileMessageWriterChannel, PipesMessageWriter

TYPE_CHECKING = False  # typing stays unimported at run time: see pipes_fast.external
if TYPE_CHECKING:
    import logging
    from collections.abc import Mapping, Sequence
    from traceback import TracebackException
    from types import TracebackType
    from typing import Any, Callable, ClassVar, ContextManager, Literal, Protocol, TypeVar

    from pipes_fast.protocol import (
        PipesAssetCheckSeverity,
        PipesContextData,
        PipesDataProvenance,
        PipesException,
        PipesExtras,
        PipesPartitionKeyRange,
        PipesTimeWindow,
    )

    V = TypeVar("V")

    class _Sender(Protocol):
        def _send(self, method: str, params: Any) -> None: ...


_NOT_LAUNCHED = (
    "This process was not launched by a Dagster orchestration process. All calls to the"
    " `dagster-pipes` context or attempts to initialize `dagster-pipes` abstractions are no-ops."
)


def open_dagster_pipes(
    *,
    context_loader: PipesContextLoader | None = None,
    message_writer: PipesMessageWriter[Any] | None = None,
    params_loader: PipesParamsLoader | None = None,
) -> PipesContext:
    """Load the context the orchestration side injected and open the channel back to it.

    Call it once, near the entry point; later calls return the same context. The defaults read
    the params from environment variables, the context from a file or the params, and write
    messages to a file or a standard stream. A process that was not launched by an orchestrator
    gets a warning and a context on which every call does nothing.
    """
    if PipesContext.is_initialized():
        return PipesContext.get()
    params_loader = params_loader or PipesEnvVarParamsLoader()
    context: PipesContext
    if params_loader.is_dagster_pipes_process():
        context = PipesContext(
            params_loader, context_loader or PipesDefaultContextLoader(), message_writer or PipesDefaultMessageWriter()
        )
    else:
        import warnings

        warnings.warn(_NOT_LAUNCHED, DagsterPipesWarning, stacklevel=2)
        context = _InertContext()  # type: ignore[assignment]
    PipesContext.set(context)
    return context


open_pipes = open_dagster_pipes


class PipesContext:
    """The step the process runs for (assets, partitions, run, extras) and the methods that report
    back to the orchestration side. Get it from :func:`open_dagster_pipes`; use it as a context
    manager, or call :meth:`close` when done.
    """

    _instance: ClassVar[PipesContext | None] = None

    @classmethod
    def is_initialized(cls) -> bool:
        """Whether :func:`open_dagster_pipes` (or :meth:`set`) has made the context."""
        return cls._instance is not None

    @classmethod
    def set(cls, context: PipesContext) -> None:
        """Make ``context`` the one :meth:`get` returns."""
        cls._instance = context

    @classmethod
    def get(cls) -> PipesContext:
        """The context made by :func:`open_dagster_pipes`."""
        if cls._instance is None:
            raise DagsterPipesError("PipesContext has not been initialized. You must call `open_dagster_pipes()`.")
        return cls._instance

    def __init__(
        self,
        params_loader: PipesParamsLoader,
        context_loader: PipesContextLoader,
        message_writer: PipesMessageWriter[Any],
    ) -> None:
        context_params = params_loader.load_context_params()
        messages_params = params_loader.load_messages_params()
        self._exits: list[Callable[..., Any]] = []
        try:
            self._data: PipesContextData = self._enter(context_loader.load_context(context_params))
            self._message_channel = self._enter(message_writer.open(messages_params))
            self._sender: _Sender = _sender_for(self._message_channel)
            self._sender._send("opened", message_writer.get_opened_payload())
        except BaseException:
            self._release()
            raise
        self._materialized_assets: set[str] = set()
        self._logger: logging.Logger | None = None
        self._closed = False
        channel = self._message_channel
        if type(channel) is PipesFileMessageWriterChannel and type(self).report_custom_message is _REPORT:
            channel._on_take_over(self._report_through)

    def _report_through(self, appender: Any) -> None:
        """Make ``report_custom_message`` the one of the hot path's appender, which has taken over the
        file channel: no Python frame between the caller and the write, until :meth:`close`."""
        if not self._closed:
            self.report_custom_message = appender.append_custom_message  # type: ignore[method-assign]

    def _enter(self, manager: ContextManager[Any]) -> Any:
        """Enter ``manager`` until :meth:`_release` (an ExitStack of two, without importing contextlib)."""
        value = manager.__enter__()
        self._exits.append(manager.__exit__)
        return value

    def _release(self) -> None:
        """Exit what ``__init__`` entered, last first; all of them, even if one fails."""
        failure: BaseException | None = None
        while self._exits:
            try:
                self._exits.pop()(None, None, None)
            except BaseException as exc:  # noqa: BLE001 - raised below, once the rest is released
                failure = failure or exc
        if failure is not None:
            raise failure

    def __enter__(self) -> PipesContext:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc_value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if exc_type is not None and exc_value is not None and traceback is not None:
            from traceback import TracebackException

            self.close(_pipes_exception(TracebackException(exc_type, exc_value, traceback)))
        else:
            self.close()

    def close(self, exc: PipesException | None = None) -> None:
        """Send the ``closed`` message (with ``exc``, if given) and release the channel; later calls
        do nothing, and reporting after it raises."""
        if self._closed:
            return
        self._closed = True
        vars(self).pop("report_custom_message", None)  # the appender's (see _report_through)
        sender, self._sender = self._sender, _Closed()
        try:
            sender._send("closed", {"exception": exc} if exc else {})
        finally:
            self._release()

    @property
    def is_closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return self._closed

    def _write_message(self, method: str, params: Mapping[str, Any] | None = None) -> None:
        self._sender._send(method, params)

    # ----- what the step is -----

    @property
    def is_asset_step(self) -> bool:
        """Whether the step targets assets."""
        return self._data.get("asset_keys") is not None

    @property
    def asset_key(self) -> str:
        """The step's asset key; raises unless the step targets exactly one asset."""
        check.single_asset(self._data.get("asset_keys"), "asset_key")
        return self._data["asset_keys"][0]  # type: ignore[index]

    @property
    def asset_keys(self) -> Sequence[str]:
        """The step's asset keys; raises unless the step targets assets."""
        return self._by_asset_key(self._data.get("asset_keys"), "asset_keys")

    @property
    def provenance(self) -> PipesDataProvenance | None:
        """The provenance of the step's asset; raises unless the step targets exactly one asset."""
        return self._of_the_asset(self._data.get("provenance_by_asset_key"), "provenance")

    @property
    def provenance_by_asset_key(self) -> Mapping[str, PipesDataProvenance | None]:
        """The provenance of each of the step's assets; raises unless the step targets assets."""
        return self._by_asset_key(self._data.get("provenance_by_asset_key"), "provenance_by_asset_key")

    @property
    def code_version(self) -> str | None:
        """The code version of the step's asset; raises unless the step targets exactly one asset."""
        return self._of_the_asset(self._data.get("code_version_by_asset_key"), "code_version")

    @property
    def code_version_by_asset_key(self) -> Mapping[str, str | None]:
        """The code version of each of the step's assets; raises unless the step targets assets."""
        return self._by_asset_key(self._data.get("code_version_by_asset_key"), "code_version_by_asset_key")

    def _by_asset_key(self, value: V | None, name: str) -> V:
        return check.defined(value, name, "does not target an asset")

    def _of_the_asset(self, by_asset_key: Mapping[str, V] | None, name: str) -> V:
        values = self._by_asset_key(by_asset_key, name)
        check.single_asset(self._data.get("asset_keys"), name)
        return next(iter(values.values()))

    @property
    def is_partition_step(self) -> bool:
        """Whether the step targets one or more partitions."""
        return self._data.get("partition_key_range") is not None

    @property
    def partition_key(self) -> str:
        """The step's partition key; raises unless the step targets exactly one partition."""
        return check.defined(self._data.get("partition_key"), "partition_key", "does not target any partitions")

    @property
    def partition_key_range(self) -> PipesPartitionKeyRange:
        """The step's range of partition keys; raises unless the step targets partitions."""
        return check.defined(
            self._data.get("partition_key_range"), "partition_key_range", "does not target any partitions"
        )

    @property
    def partition_time_window(self) -> PipesTimeWindow | None:
        """The step's time window (None for partitions that are not time-based); raises unless the
        step targets partitions."""
        check.defined(self._data.get("partition_key_range"), "partition_time_window", "does not target any partitions")
        return self._data.get("partition_time_window")

    @property
    def run_id(self) -> str:
        """The id of the run."""
        return self._data["run_id"]

    @property
    def job_name(self) -> str | None:
        """The name of the run's job, if it has one."""
        return self._data.get("job_name")

    @property
    def retry_number(self) -> int:
        """How many times the step has been retried."""
        return self._data.get("retry_number", 0)

    def get_extra(self, key: str) -> Any:
        """The extra called ``key``; raises if the orchestration side did not pass it."""
        extras = self.extras
        if key not in extras:
            raise DagsterPipesError(f"Extra `{key}` is undefined. Extras must be provided by user.")
        return extras[key]

    @property
    def extras(self) -> Mapping[str, Any]:
        """Everything the orchestration side passed as extras."""
        return self._data.get("extras") or {}

    # ----- reporting back -----

    def report_asset_materialization(
        self,
        metadata: Mapping[str, Any] | None = None,
        data_version: str | None = None,
        asset_key: str | None = None,
    ) -> None:
        """Report that an asset was materialized, with metadata (raw values, or
        ``{"raw_value": ..., "type": ...}``) and a data version. ``asset_key`` may be left out
        when the step targets one asset. Each asset can be reported once."""
        method = "report_asset_materialization"
        asset_key = check.resolve_asset_key(self._data.get("asset_keys"), asset_key, method)
        if asset_key in self._materialized_assets:
            raise DagsterPipesError(
                f"Calling `{method}` with asset key `{asset_key}` is undefined. Asset has already been"
                " materialized, so no additional data can be reported for it."
            )
        normalized = check.normalize_metadata(metadata, method)
        check.of_type(data_version, str, method, "data_version", optional=True)
        self._write_message(method, {"asset_key": asset_key, "data_version": data_version, "metadata": normalized})
        self._materialized_assets.add(asset_key)

    def report_asset_check(
        self,
        check_name: str,
        passed: bool,
        severity: PipesAssetCheckSeverity = "ERROR",
        metadata: Mapping[str, Any] | None = None,
        asset_key: str | None = None,
    ) -> None:
        """Report the result of an asset check; ``severity`` is "ERROR" (the default) or "WARN"."""
        method = "report_asset_check"
        asset_key = check.resolve_asset_key(self._data.get("asset_keys"), asset_key, method)
        check.of_type(check_name, str, method, "check_name")
        check.of_type(passed, bool, method, "passed")
        check.one_of(severity, check.SEVERITIES, method, "severity")
        normalized = check.normalize_metadata(metadata, method)
        self._write_message(
            method,
            {
                "asset_key": asset_key,
                "check_name": check_name,
                "passed": passed,
                "metadata": normalized,
                "severity": severity,
            },
        )

    def report_custom_message(self, payload: Any) -> None:
        """Send any JSON-serializable payload; the orchestration side gets it from ``get_custom_messages()``.

        Once the hot path's appender writes the file channel, an instance's ``report_custom_message``
        is the appender's ``append_custom_message`` until :meth:`close` (one taken before and called
        after ``close`` raises ``OSError``, as the closed file it writes to refuses)."""
        self._sender._send("report_custom_message", {"payload": payload})

    def log_external_stream(self, stream: str, text: str, extras: PipesExtras | None = None) -> None:
        """Send text from an output stream (e.g. "stdout") for the orchestration side to show."""
        self._write_message("log_external_stream", {"stream": stream, "text": text, "extras": extras or {}})

    @property
    def log(self) -> logging.Logger:
        """A logger whose records (every level) are sent to the orchestration side's log."""
        if self._logger is None:
            from pipes_fast.external.logs import PipesLogger

            self._logger = PipesLogger(self._write_message)
        return self._logger


_REPORT = PipesContext.report_custom_message


def _sender_for(channel: Any) -> _Sender:
    """What a context sends ``(method, params)`` through: pipes_fast's own file channel itself (its
    ``_send`` writes the message without building it, once the hot path has taken over), any other
    channel, a subclass included, through its ``write_message``."""
    return channel if type(channel) is PipesFileMessageWriterChannel else _Enveloping(channel)


class _Enveloping:
    """Sends ``(method, params)`` as ``channel.write_message(make_message(method, params))``."""

    __slots__ = ("_channel",)

    def __init__(self, channel: Any) -> None:
        self._channel = channel

    def _send(self, method: str, params: Any) -> None:
        self._channel.write_message(make_message(method, params))  # type: ignore[arg-type]


class _Closed:
    """What a closed context sends through: nothing, every message raises."""

    __slots__ = ()

    def _send(self, method: str, params: Any) -> None:
        raise DagsterPipesError("Cannot send message after pipes context is closed.")


def _pipes_exception(error: TracebackException) -> PipesException:
    """An exception as the ``closed`` message carries it, with its cause and context."""
    if sys.version_info >= (3, 13):
        name: str | None = error.exc_type_str.rpartition(".")[2]
    else:
        name = error.exc_type.__name__ if error.exc_type is not None else None
    return {
        "message": "".join(error.format_exception_only()),
        "stack": error.stack.format(),
        "name": name,
        "cause": _pipes_exception(error.__cause__) if error.__cause__ else None,
        "context": _pipes_exception(error.__context__) if error.__context__ else None,
    }


class _InertContext:
    """Stands in for PipesContext in a process no orchestrator launched, as dagster-pipes'
    ``MagicMock`` does, without importing ``unittest.mock``: a script written for either package
    runs standalone the same way.

    Every attribute, call, item, ``with`` and arithmetic operator (plain, reflected, in-place, unary,
    ``divmod``, ``round``, ``math.floor``...) gives a child no-op, the same child each time it is
    asked for by the same name or operator. Set attributes stick. ``int()`` is 1, ``float()`` 1.0,
    ``complex()`` 1j, ``operator.index()`` 1, ``bool()`` True, ``len()`` 0, iteration and ``in`` find
    nothing, ``os.fspath()`` is a made-up relative path. Equality and hashing are by identity, and
    ``<``, ``<=``, ``>``, ``>=`` raise TypeError, as on MagicMock. Dunder attributes the class does
    not define raise AttributeError, so protocol probes (``copy``, ``numpy``...) see a plain object.

    Not mimicked: MagicMock's own API (``return_value``, ``assert_called_with``...), its ``repr``,
    and async protocols (``async with``/``async for``), which no real PipesContext supports.
    """

    def __getattr__(self, name: str) -> _InertContext:
        if len(name) > 3 and name.startswith("__") and name.endswith("__"):  # a dunder: not ours to invent
            raise AttributeError(name)
        child = vars(self)[name] = _InertContext()
        return child

    def __int__(self) -> int:
        return 1

    def __index__(self) -> int:
        return 1

    def __float__(self) -> float:
        return 1.0

    def __complex__(self) -> complex:
        return 1j

    def __bool__(self) -> bool:
        return True

    def __len__(self) -> int:
        return 0

    def __iter__(self) -> Any:
        return iter(())

    def __exit__(self, *exc_info: object) -> Literal[False]:
        return False

    def __fspath__(self) -> str:
        return f"{type(self).__name__}/{id(self)}"

    def __repr__(self) -> str:
        return "<no-op PipesContext: this process was not launched by a Pipes orchestrator>"


def _child_of(name: str) -> Callable[..., _InertContext]:
    """An ``_InertContext`` method answering the special method ``name`` with its child, as MagicMock does."""
    key = f"{name}()"  # not an identifier: no attribute can collide with it

    def method(self: _InertContext, *args: object, **kwargs: object) -> _InertContext:
        child: _InertContext = getattr(self, key)
        return child

    return method


_NUMERIC = "add sub mul matmul truediv floordiv mod pow lshift rshift and xor or".split()
for _name in [
    *"call getitem setitem delitem enter next neg pos abs invert round trunc floor ceil divmod rdivmod".split(),
    *_NUMERIC,
    *(f"r{op}" for op in _NUMERIC),
    *(f"i{op}" for op in _NUMERIC),
]:
    setattr(_InertContext, f"__{_name}__", _child_of(f"__{_name}__"))
