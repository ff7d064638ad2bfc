"""Packaging-level promises: the implementation switch, lazy import, typing marker."""

from __future__ import annotations

import importlib.util
import json
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


COMPILED_BUILT = importlib.util.find_spec("pipes_fast._hotpath.compiled") is not None
NOT_BUILT = "import sys; sys.modules['pipes_fast._hotpath.compiled'] = None; "  # as if the build had failed


def test_extension_flag_follows_what_is_in_use():
    code = (
        "import pipes_fast, pipes_fast._hotpath as h;"
        " print(pipes_fast.IMPLEMENTATION, pipes_fast.EXTENSION, h.implementation.__name__)"
    )
    in_use = "compiled True pipes_fast._hotpath.compiled" if COMPILED_BUILT else "pure False pipes_fast._hotpath.pure"
    assert _python(code) == in_use
    assert _python(code, PIPES_FAST_NO_EXTENSIONS="1") == "pure False pipes_fast._hotpath.pure"
    assert _python(code, PIPES_FAST_NO_EXTENSIONS="0") == in_use
    assert _python(NOT_BUILT + code) == "pure False pipes_fast._hotpath.pure"


def _version(code: str = "", **env: str) -> str:
    return _python(f"{code}from pipes_fast.cli import main; main(['--version'])", **env)


def test_version_names_the_implementation_and_why_not_the_compiled_one():
    version = pipes_fast.__version__
    in_use = "compiled" if COMPILED_BUILT else "pure Python: the compiled extension is not built"
    assert _version() == f"pipes-fast {version} ({in_use})"
    assert _version(PIPES_FAST_NO_EXTENSIONS="1") == f"pipes-fast {version} (pure Python: PIPES_FAST_NO_EXTENSIONS=1)"
    assert _version(NOT_BUILT) == f"pipes-fast {version} (pure Python: the compiled extension is not built)"
    as_json = _python("from pipes_fast.cli import main; main(['--version', '--json'])", PIPES_FAST_NO_EXTENSIONS="1")
    assert json.loads(as_json) == {"version": version, "implementation": "pure", "reason": "PIPES_FAST_NO_EXTENSIONS=1"}


def test_importing_the_package_loads_nothing_heavy():
    code = "import sys, pipes_fast; print(sorted(m for m in sys.modules if m.startswith('pipes_fast')))"
    assert _python(code) == "['pipes_fast', 'pipes_fast._system', 'pipes_fast._system.lazy', 'pipes_fast._version']"


def test_version_and_typing_marker():
    assert pipes_fast.__version__
    assert (Path(pipes_fast.__file__).parent / "py.typed").exists()


def test_unknown_attributes_raise_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        pipes_fast.nope  # noqa: B018
