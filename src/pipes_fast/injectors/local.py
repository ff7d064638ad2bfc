"""Context injectors that keep the context on this machine: in the environment or in a file."""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from pipes_fast._system.files import open_private_file, removed_on_exit, temp_private_file
from pipes_fast.errors import PipesError
from pipes_fast.protocol import PipesContextData, PipesParams


def context_json(context_data: PipesContextData) -> bytes:
    """The context data as the external process reads it (JSON), or a :class:`PipesError`."""
    try:
        return json.dumps(context_data).encode()
    except (TypeError, ValueError) as exc:
        raise PipesError(f"the context data is not JSON-serialisable (check the extras): {exc}") from None


class PipesContextInjector(ABC):
    """Makes the context data reachable by the external process and yields params locating it."""

    @abstractmethod
    def inject_context(self, context_data: PipesContextData) -> AbstractContextManager[PipesParams]:
        """A context manager: the context is reachable while it is open, and cleaned up after."""

    @abstractmethod
    def no_messages_debug_text(self) -> str:
        """Says how the context was injected, for the warning when no messages arrived."""


class PipesEnvContextInjector(PipesContextInjector):
    """Puts the context data inline in the bootstrap params (``{"data": ...}``)."""

    @contextmanager
    def inject_context(self, context_data: PipesContextData) -> Iterator[PipesParams]:
        yield {"data": context_data}

    def no_messages_debug_text(self) -> str:
        return "Attempted to inject context directly, typically as an environment variable."


class PipesFileContextInjector(PipesContextInjector):
    """Writes the context data to ``path`` (owner-only) and deletes it when the session closes.

    The file is never written through a symbolic link; anything but a regular file at ``path`` is
    refused with a :class:`PipesError`. As with Dagster's injector, ``path`` is the injector's own:
    an existing regular file is overwritten, then removed with the session (``pipes-fast run``
    refuses an existing path unless given ``--overwrite``).
    """

    def __init__(self, path: str) -> None:
        self.path = os.fspath(path)

    @contextmanager
    def inject_context(self, context_data: PipesContextData) -> Iterator[PipesParams]:
        fd = open_private_file(self.path, context_json(context_data), what="context file")
        with removed_on_exit(self.path, fd):
            yield {"path": self.path}

    def no_messages_debug_text(self) -> str:
        return f"Attempted to inject context via file {self.path}"


class PipesTempFileContextInjector(PipesContextInjector):
    """Writes the context data to a new owner-only file in the temporary folder, removed afterwards."""

    @contextmanager
    def inject_context(self, context_data: PipesContextData) -> Iterator[PipesParams]:
        fd, path = temp_private_file("pipes_fast-context-", context_json(context_data))
        with removed_on_exit(path, fd):
            yield {"path": path}

    def no_messages_debug_text(self) -> str:
        return "Attempted to inject context via a temporary file."
