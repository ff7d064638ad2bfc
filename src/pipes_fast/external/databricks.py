"""Databricks: the context loader for Unity Catalog volumes and the params loader for notebook
widgets (a job's base parameters). The message writer for volumes is
:class:`~pipes_fast.external.PipesUnityCatalogVolumesMessageWriter`, with the blob-store writers.
"""

from __future__ import annotations

from pipes_fast._logic import wire as _wire
from pipes_fast.external.loaders import PipesContextLoader, load_context_file
from pipes_fast.external.params import PipesMappingParamsLoader
from pipes_fast.external.validation import param_of_type

TYPE_CHECKING = False  # typing stays unimported at run time: see pipes_fast.external
if TYPE_CHECKING:
    from typing import Any, ContextManager

    from pipes_fast.protocol import PipesContextData, PipesParams

DAGSTER_PIPES_CONTEXT_WIDGET_KEY = _wire.DAGSTER_PIPES_CONTEXT_ENV_VAR
DAGSTER_PIPES_MESSAGES_WIDGET_KEY = _wire.DAGSTER_PIPES_MESSAGES_ENV_VAR


class PipesUnityCatalogVolumesContextLoader(PipesContextLoader):
    """Loads the context from the JSON file the params name (``{"path": FILE}``) on a Unity Catalog volume."""

    def load_context(self, params: PipesParams) -> ContextManager[PipesContextData]:
        return load_context_file(param_of_type(params, "path", str, self))


class PipesDatabricksNotebookWidgetsParamsLoader(PipesMappingParamsLoader):
    """Reads the params from a Databricks notebook's widgets (``dbutils.widgets``), under the same
    names as the environment variables."""

    _MISSING = TypeError  # dagster-pipes decodes the None that widgets.get gives

    def __init__(self, widgets: Any) -> None:
        super().__init__(widgets)
        self.widgets = widgets
