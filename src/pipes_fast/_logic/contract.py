"""Argument checks shared by both hot-path implementations, so that they fail alike."""

from __future__ import annotations

TYPE_CHECKING = False  # typing stays unimported at run time: the external side's writer loads this module
if TYPE_CHECKING:
    from typing import Any


def integer(name: str, value: Any) -> int:
    """``value`` if it is an int (not a bool); else TypeError naming ``name``."""
    if type(value) is not int:
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    number: int = value
    return number


def positive_int(name: str, value: Any) -> int:
    """``value`` if it is an int of at least 1; else TypeError or ValueError naming ``name``."""
    number = integer(name, value)
    if number < 1:
        raise ValueError(f"{name} must be at least 1, got {number}")
    return number


def metadata_type(value: Any, known: frozenset[str]) -> str:
    """``value`` if it names a resolved metadata type; else TypeError or ValueError."""
    if type(value) is not str:
        raise TypeError(f"metadata type must be a str, got {type(value).__name__}")
    if value not in known:
        raise ValueError(f"unknown metadata type {value!r}; expected one of {sorted(known)}")
    return value


def callable_argument(name: str, value: Any) -> Any:
    """``value`` if it is callable; else TypeError naming ``name``."""
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {type(value).__name__}")
    return value
