"""Builds the optional Cython extension; everything else lives in pyproject.toml.

If the extension cannot be compiled (no compiler, no Python headers, no Cython), the package
installs without it and runs on its pure-Python implementation, with one warning saying so (pip
shows it with -v only; ``pipes-fast --version`` says which implementation is in use).
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
    """A build_ext whose failure leaves a working pure-Python install, never an extension built
    earlier: every build compiles (an extension left in build/ from an earlier build must not pass
    for this one), and a failed build removes the extension it would have written."""

    def finalize_options(self) -> None:
        super().finalize_options()
        self.force = True

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any build failure means "no extension"
            for ext in self.extensions:
                self._remove_built(ext)
            self._warn(exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            self._remove_built(ext)
            self._warn(exc)

    def _remove_built(self, ext: Extension) -> None:
        """Remove what an earlier build left where this one writes ``ext`` (build/, or the
        source tree with --inplace)."""
        path = self.get_ext_fullpath(ext.name)
        if os.path.exists(path):
            os.remove(path)
            print(f"removed {path}, built earlier", file=sys.stderr)

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
