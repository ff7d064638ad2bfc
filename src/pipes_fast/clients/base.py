"""The client interface and what a completed invocation returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, Optional

from pipes_fast.errors import PipesError
from pipes_fast.protocol import PipesExtras
from pipes_fast.results import (
    AssetCheckResult,
    MaterializeResult,
    MetadataValue,
    PipesExecutionResult,
    is_check_result,
    is_materialization,
    normalize_metadata,
)
from pipes_fast.session import PipesSession, with_metadata


class PipesClient(ABC):
    """Base class of clients that run an external process with the Pipes protocol."""

    @abstractmethod
    def run(
        self, *, context: Any, extras: Optional[PipesExtras] = None, **kwargs: Any
    ) -> PipesClientCompletedInvocation:
        """Run the external process to completion and return what it reported."""


class PipesClientCompletedInvocation:
    """The results of a finished client run; every getter may be called any number of times.

    ``stdout``/``stderr`` hold the captured output where the client captured it (else None).
    """

    def __init__(
        self,
        session: PipesSession,
        metadata: Optional[Mapping[str, Any]] = None,
        *,
        stdout: Optional[str] = None,
        stderr: Optional[str] = None,
    ) -> None:
        self._session = session
        self._metadata = normalize_metadata(metadata)
        self._reported: list[PipesExecutionResult] = session.get_results(implicit_materializations=False)
        self._implicit: list[PipesExecutionResult] = session.get_results()  # only the implied ones are left
        self.stdout = stdout
        self.stderr = stderr

    @property
    def metadata(self) -> Mapping[str, MetadataValue]:
        """Metadata attached to every result of the invocation."""
        return self._metadata

    def get_results(self, *, implicit_materializations: bool = True) -> list[PipesExecutionResult]:
        """Every result, in order, with implied materializations for selected assets last."""
        results = self._reported + (self._implicit if implicit_materializations else [])
        return with_metadata(results, self._metadata)

    def get_materialize_result(self, *, implicit_materialization: bool = True) -> MaterializeResult:
        """The one materialization of the run, with the run's check results attached."""
        results = self.get_results(implicit_materializations=implicit_materialization)
        materializations = [r for r in results if is_materialization(r)]
        checks = tuple(r for r in results if is_check_result(r))
        if not materializations:
            raise PipesError("No materialization results received from external process.")
        if len(materializations) > 1:
            keys = sorted(r.asset_key.to_user_string() for r in materializations if r.asset_key)
            raise PipesError(
                f"Multiple materialize results returned with asset keys {keys}. If you are materializing"
                " multiple assets in a pipes invocation, use get_results() instead."
            )
        (materialization,) = materializations
        if any(c.asset_key not in (None, materialization.asset_key) for c in checks):
            raise PipesError(
                "Check result specified an asset key that is not part of the returned materialization."
                " If this was deliberate, use get_results() instead."
            )
        return materialization.replace(check_results=checks)

    def get_asset_check_result(self) -> AssetCheckResult:
        """The one asset check result of a run that reported nothing else."""
        results = self.get_results(implicit_materializations=False)
        checks = [r for r in results if is_check_result(r)]
        if len(checks) != 1 or len(results) != 1:
            raise PipesError(
                f"Did not find singular AssetCheckResult, got {len(results) - len(checks)} MaterializeResults"
                f" and {len(checks)} AssetCheckResults. Correct the reported results or use get_results() instead."
            )
        return checks[0]

    def get_custom_messages(self) -> tuple[Any, ...]:
        """Payloads of ``report_custom_message``, in order."""
        return self._session.get_custom_messages()
