"""Packaging-level promises: the implementation switch, lazy import, typing marker."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pipes_fast


def _python(code: str, **env: str) -> str:
    full_env = {k: v for k, v in os.environ.items() if k != "PIPES_FAST_NO_EXTENSIONS"}
    full_env.update(env)
    out = subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_extension_flag_follows_what_is_in_use():
    compiled = importlib.util.find_spec("pipes_fast._hotpath.compiled") is not None
    code = "import pipes_fast, pipes_fast._hotpath as h; print(pipes_fast.EXTENSION, h.implementation.__name__)"
    assert _python(code) == ("True pipes_fast._hotpath.compiled" if compiled else "False pipes_fast._hotpath.pure")
    assert _python(code, PIPES_FAST_NO_EXTENSIONS="1") == "False pipes_fast._hotpath.pure"
    assert _python(code, PIPES_FAST_NO_EXTENSIONS="0") == _python(code)


def test_importing_the_package_loads_nothing_heavy():
    code = "import sys, pipes_fast; print(sorted(m for m in sys.modules if m.startswith('pipes_fast')))"
    assert _python(code) == "['pipes_fast', 'pipes_fast._version']"


def test_version_and_typing_marker():
    assert pipes_fast.__version__
    assert (Path(pipes_fast.__file__).parent / "py.typed").exists()


def test_unknown_attributes_raise_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        pipes_fast.nope  # noqa: B018
