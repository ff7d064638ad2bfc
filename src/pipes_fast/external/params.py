"""Bootstrap params: how the orchestration side tells the process where its context and messages go.

Two params, ``DAGSTER_PIPES_CONTEXT`` and ``DAGSTER_PIPES_MESSAGES``, each ``base64(zlib(json))``,
come as environment variables (the default) or as ``--dagster-pipes-context`` /
``--dagster-pipes-messages`` command-line arguments. The codec is pipes_fast's own
(``pipes_fast._logic.codec``), loaded on first use; its decoder imports neither ``json`` nor ``base64``.
"""

from __future__ import annotations

import os
import sys
from abc import ABC, abstractmethod

from pipes_fast._logic import wire as _wire
from pipes_fast.errors import PipesParamError
from pipes_fast.external.errors import DagsterPipesError, error_like

TYPE_CHECKING = False  # typing stays unimported at run time: see pipes_fast.external
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

    from pipes_fast.protocol import PipesParams


def encode_param(value: Any) -> str:
    """``base64(zlib(json(value)))``, as dagster-pipes encodes it; raises DagsterPipesError if
    ``value`` is not JSON-serializable (one that is also a ``ValueError`` if it contains itself)."""
    from pipes_fast._logic.codec import encode_param as encode

    try:
        encoded: str = encode(value)
    except PipesParamError as exc:
        kinds = (ValueError,) if isinstance(exc.__context__, ValueError) else ()
        raise error_like(kinds, str(exc)) from None
    return encoded


def decode_param(value: str) -> Any:
    """The value of an encoded param; raises a ``DagsterPipesError`` naming the step that failed
    (base64, zlib, size, JSON) which is also a ``PipesParamError`` (a ``ValueError``) and what
    dagster-pipes raises at that step (``binascii.Error``, ``zlib.error``, ``JSONDecodeError``...)."""
    from pipes_fast._logic.codec import decode_param as decode

    try:
        return decode(value)
    except PipesParamError as exc:
        raise _decode_error(value, exc, str(exc)) from None


def _decode_error(value: object, exc: PipesParamError, message: str) -> DagsterPipesError:
    """``exc`` (from pipes_fast's codec) as the error dagster-pipes' decoding raises for ``value``."""
    original = exc.__context__  # the codec raises `from None`: what failed is still its context
    if original is not None:
        return error_like((PipesParamError, type(original)), message, original)
    if not isinstance(value, (str, bytes)):
        return error_like((PipesParamError, TypeError), message)
    import zlib  # empty, truncated or too big: where dagster-pipes' zlib.decompress fails (or inflates it all)

    return error_like((PipesParamError, zlib.error), message)


# dagster-pipes' older names, deprecated there
encode_env_var = encode_param
decode_env_var = decode_param


class PipesParamsLoader(ABC):
    """Loads the params the orchestration side passed, for the context loader and the message writer."""

    @abstractmethod
    def is_dagster_pipes_process(self) -> bool:
        """Whether this process was given Pipes params (else the context is a no-op)."""

    @abstractmethod
    def load_context_params(self) -> PipesParams:
        """The params of the orchestration side's context injector."""

    @abstractmethod
    def load_messages_params(self) -> PipesParams:
        """The params of the orchestration side's message reader."""


class _NamedParamsLoader(PipesParamsLoader):
    """A loader that finds each param under a name: an environment variable, a command-line flag."""

    _MISSING: type[Exception] = TypeError
    """The error dagster-pipes' loader raises (besides DagsterPipesError) when a param was not passed."""

    def is_dagster_pipes_process(self) -> bool:
        return self._find(self._name("context")) is not None

    def load_context_params(self) -> PipesParams:
        return self._load("context")

    def load_messages_params(self) -> PipesParams:
        return self._load("messages")

    def _load(self, param: str) -> PipesParams:
        name = self._name(param)
        value = self._find(name)
        if value is None:
            raise error_like((self._MISSING,), f"{name} was not passed: the orchestration side gave no {param} param.")
        from pipes_fast._logic.codec import decode_param as decode

        try:
            params = decode(value)
        except PipesParamError as exc:
            raise _decode_error(value, exc, f"Invalid {param} params in {name}: {exc}.") from None
        if not isinstance(params, dict):
            raise DagsterPipesError(
                f"Invalid {param} params in {name}: expected a JSON object such as"
                f' {{"path": ...}}, received {params!r:.200}.'
            )
        return params

    @abstractmethod
    def _name(self, param: str) -> str:
        """The name the ``param`` ("context" or "messages") is passed under."""

    @abstractmethod
    def _find(self, name: str) -> str | None:
        """The encoded value passed under ``name`` (maybe empty), or None if it was not passed."""


class PipesMappingParamsLoader(_NamedParamsLoader):
    """Reads the params from a mapping of names to encoded values (like ``os.environ``)."""

    _MISSING: type[Exception] = KeyError

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self._mapping = mapping

    def _name(self, param: str) -> str:
        return _wire.DAGSTER_PIPES_CONTEXT_ENV_VAR if param == "context" else _wire.DAGSTER_PIPES_MESSAGES_ENV_VAR

    def _find(self, name: str) -> str | None:
        return self._mapping.get(name)


class PipesEnvVarParamsLoader(PipesMappingParamsLoader):
    """Reads the params from environment variables (the default)."""

    def __init__(self) -> None:
        super().__init__(os.environ)


class PipesCliArgsParamsLoader(_NamedParamsLoader):
    """Reads the params from command-line arguments, ``--name value`` or ``--name=value``.

    ``argv`` defaults to ``sys.argv`` as it is when the params are loaded. A flag given without a
    value marks a Pipes process all the same (as in dagster-pipes), whose params are then refused.
    """

    def __init__(self, argv: Sequence[str] | None = None) -> None:
        self._argv = argv

    def _name(self, param: str) -> str:
        return _wire.DAGSTER_PIPES_CONTEXT_CLI_ARG if param == "context" else _wire.DAGSTER_PIPES_MESSAGES_CLI_ARG

    def _find(self, name: str) -> str | None:
        """The value of the last ``name`` flag among the arguments, as argparse would take it
        (empty for a last flag with no value after it)."""
        argv = sys.argv if self._argv is None else self._argv
        found = None
        for index, argument in enumerate(argv):
            if argument == name:
                found = argv[index + 1] if index + 1 < len(argv) else ""
            elif argument.startswith(name + "="):
                found = argument[len(name) + 1 :]
        return found
