"""Context injectors: where the orchestration side puts the context for the external process.

:mod:`~pipes_fast.injectors.local` keeps it in the environment or in a file;
:mod:`~pipes_fast.injectors.s3` in an S3 object.
"""

from pipes_fast.injectors.local import (
    PipesContextInjector,
    PipesEnvContextInjector,
    PipesFileContextInjector,
    PipesTempFileContextInjector,
    context_json,
)

__all__ = [
    "PipesContextInjector",
    "PipesEnvContextInjector",
    "PipesFileContextInjector",
    "PipesTempFileContextInjector",
    "context_json",
]
