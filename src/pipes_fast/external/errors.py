"""The error and warning of the external side, under the names dagster-pipes users catch.

Where dagster-pipes lets a builtin or standard-library error through (``TypeError`` from
``json.dumps``, ``KeyError`` from a missing param, ``zlib.error`` from a bad param...), pipes_fast
raises a :class:`DagsterPipesError` that is also of that type (:func:`error_like`), with a message
saying what was wrong and where: ``except TypeError`` catches it as it catches dagster-pipes' error.
"""

from __future__ import annotations

from pipes_fast.errors import PipesError, PipesWarning

TYPE_CHECKING = False  # typing stays unimported at run time: see pipes_fast.external
if TYPE_CHECKING:
    from typing import Any


class DagsterPipesError(PipesError):
    """A Pipes call in the external process was given something it cannot accept."""


class DagsterPipesWarning(PipesWarning):
    """A recoverable problem in the external process (e.g. not launched by an orchestrator)."""


_LIKE: dict[tuple[type[BaseException], ...], type[DagsterPipesError]] = {}


def error_like(
    kinds: tuple[type[BaseException], ...], message: str, original: BaseException | None = None
) -> DagsterPipesError:
    """A :class:`DagsterPipesError` saying ``message`` that is also an instance of each of ``kinds``
    (what dagster-pipes raises in its place), carrying ``original``'s attributes (a
    ``JSONDecodeError``'s ``pos``...). Its class is named ``DagsterPipesError`` too, so tracebacks
    read the same; it is made once per ``kinds``."""
    cls = _LIKE.get(kinds)
    if cls is None:
        namespace = {
            "__init__": BaseException.__init__,  # the message only, whatever the kinds' constructors take
            "__str__": BaseException.__str__,  # not KeyError's quotes nor UnicodeError's fields
            "__reduce__": _reduce,
            "__module__": __name__,
            "__qualname__": DagsterPipesError.__qualname__,
            "kinds": kinds,
        }
        cls = _LIKE[kinds] = type(DagsterPipesError.__name__, (DagsterPipesError, *kinds), namespace)
    error = cls(message)
    if original is not None and hasattr(original, "__dict__"):
        vars(error).update(vars(original))
    return error


def _reduce(error: Any) -> tuple[Any, ...]:
    """Pickle an :func:`error_like` error as the call that makes it again."""
    return error_like, (error.kinds, str(error))
