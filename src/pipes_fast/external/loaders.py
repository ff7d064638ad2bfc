"""Context loaders: how the process reads the context data the orchestration side injected."""

from __future__ import annotations

from abc import ABC, abstractmethod

from pipes_fast.external.errors import DagsterPipesError
from pipes_fast.external.validation import param_of_type

TYPE_CHECKING = False  # typing stays unimported at run time: see pipes_fast.external
if TYPE_CHECKING:
    from typing import ContextManager

    from pipes_fast.protocol import PipesContextData, PipesParams


class PipesContextLoader(ABC):
    """Loads the context data from where the orchestration side's context injector put it."""

    @abstractmethod
    def load_context(self, params: PipesParams) -> ContextManager[PipesContextData]:
        """A context manager giving the context data, holding what it needs for the span of the block."""


class PipesDefaultContextLoader(PipesContextLoader):
    """Loads the context from a JSON file (``{"path": ...}``) or from the params (``{"data": ...}``)."""

    FILE_PATH_KEY = "path"
    DIRECT_KEY = "data"

    def load_context(self, params: PipesParams) -> ContextManager[PipesContextData]:
        if self.FILE_PATH_KEY in params:
            return load_context_file(param_of_type(params, self.FILE_PATH_KEY, str, self))
        if self.DIRECT_KEY in params:
            return LoadedContext(param_of_type(params, self.DIRECT_KEY, dict, self))
        raise DagsterPipesError(
            f"Invalid params for {type(self).__name__}, expected key {self.FILE_PATH_KEY!r} or"
            f" {self.DIRECT_KEY!r}, received {dict(params)}."
        )


def load_context_file(path: str) -> LoadedContext:
    """The context data in the JSON file at ``path``."""
    from pipes_fast._logic.codec import decode_json

    with open(path, encoding="utf-8") as file:
        return LoadedContext(decode_json(file.read()))


class LoadedContext:
    """Context data already in memory, as the context manager ``load_context`` returns."""

    def __init__(self, data: PipesContextData) -> None:
        self._data = data

    def __enter__(self) -> PipesContextData:
        return self._data

    def __exit__(self, *exc_info: object) -> None:
        return None
