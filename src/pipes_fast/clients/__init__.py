"""Pipes clients: launch an external process inside a Pipes session and collect its results."""

from pipes_fast.clients.base import PipesClient, PipesClientCompletedInvocation
from pipes_fast.clients.subprocess import PipesSubprocessClient

__all__ = ["PipesClient", "PipesClientCompletedInvocation", "PipesSubprocessClient"]
