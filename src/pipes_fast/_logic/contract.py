"""Argument checks shared by both hot-path implementations, so that they fail alike.

Integer arguments have ranges that the compiled implementation's C integers hold, so that both
take the same values and refuse the others with the same ``ValueError``.
"""

from __future__ import annotations

import sys

LARGEST_SIZE = sys.maxsize  # a Py_ssize_t: sizes and limits
LARGEST_FD = 2**31 - 1  # a C int
LARGEST_FIRST_LINE = sys.maxsize // 2  # numbering leaves room for more lines than a stream can hold

TYPE_CHECKING = False  # typing stays unimported at run time: the external side's writer loads this module
if TYPE_CHECKING:
    from typing import Any


def integer(name: str, value: Any) -> int:
    """``value`` if it is an int (not a bool); else TypeError naming ``name``."""
    if type(value) is not int:
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    number: int = value
    return number


def integer_in(name: str, value: Any, low: int, high: int) -> int:
    """``value`` if it is an int from ``low`` to ``high``; else TypeError or ValueError naming ``name``."""
    number = integer(name, value)
    if not low <= number <= high:
        raise ValueError(f"{name} must be from {low} to {high}, got {number}")
    return number


def positive_int(name: str, value: Any) -> int:
    """``value`` if it is an int from 1 to ``LARGEST_SIZE``; else TypeError or ValueError naming ``name``."""
    return integer_in(name, value, 1, LARGEST_SIZE)


def file_descriptor(name: str, value: Any) -> int:
    """``value`` if it is an int from 0 to ``LARGEST_FD``; else TypeError or ValueError naming ``name``."""
    return integer_in(name, value, 0, LARGEST_FD)


def line_number(name: str, value: Any) -> int:
    """``value`` if it is an int from 1 to ``LARGEST_FIRST_LINE``; else TypeError or ValueError."""
    return integer_in(name, value, 1, LARGEST_FIRST_LINE)


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


def not_picklable(obj: object) -> TypeError:
    """The error that pickling or copying ``obj`` raises: a stream's state (a held line, a file
    descriptor, callbacks) is not a value."""
    return TypeError(f"cannot pickle {type(obj).__name__!r} object")
