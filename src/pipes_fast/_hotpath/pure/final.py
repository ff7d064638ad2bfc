"""Final classes: the pure implementation's public classes refuse subclassing as the compiled ones
(``@cython.final``) do, with the same ``TypeError``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

_Class = TypeVar("_Class", bound=type)

if TYPE_CHECKING:
    from typing import final
else:

    def final(cls: _Class) -> _Class:
        """``cls``, made final: defining a subclass of it raises ``TypeError``."""

        def __init_subclass__(subclass: type, **kwargs: Any) -> None:
            raise TypeError(f"type '{cls.__module__}.{cls.__qualname__}' is not an acceptable base type")

        cls.__init_subclass__ = classmethod(__init_subclass__)
        return cls


__all__ = ["final"]
