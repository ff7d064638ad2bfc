"""Builds the optional Cython extension; everything else lives in pyproject.toml.

If the extension cannot be compiled (no compiler, no Python headers, no Cython), the package
installs without it and runs on its pure-Python twin, with one warning saying so.
"""

import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

WARNING = (
    "WARNING: pipes_fast's compiled extension could not be built ({}); "
    "installing the pure-Python implementation, which is correct but slower."
)


class OptionalBuildExt(build_ext):
    """A build_ext whose failure leaves a working pure-Python install."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any build failure means "no extension"
            self._warn(exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            self._warn(exc)

    def _warn(self, exc: Exception) -> None:
        print("\n" + WARNING.format(f"{type(exc).__name__}: {exc}") + "\n", file=sys.stderr)


def extensions() -> list[Extension]:
    try:
        from Cython.Build import cythonize
    except ImportError as exc:
        print("\n" + WARNING.format(exc) + "\n", file=sys.stderr)
        return []
    ext = Extension("pipes_fast._hotpath.compiled", [os.path.join("ext", "compiled.pyx")])
    return cythonize([ext], compiler_directives={"language_level": "3"}, quiet=True)


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
