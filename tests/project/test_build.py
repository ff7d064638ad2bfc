"""The build never installs a stale compiled extension: with a compiler that fails (``CC=false``),
``pip install .`` of a checkout holding an extension built earlier (in ``build/``, and in the
source tree from ``build_ext --inplace``) installs the pure implementation only, and says so."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXTENSION = "compiled" + sysconfig.get_config_var("EXT_SUFFIX")


def _checkout(folder: Path) -> Path:
    """A copy of what ``pip install .`` reads from the checkout."""
    folder.mkdir()
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, folder / name)
    ignored = shutil.ignore_patterns("__pycache__", "*.so", "*.egg-info")
    for name in ("src", "ext"):
        shutil.copytree(ROOT / name, folder / name, ignore=ignored)
    return folder


def _left_over(path: Path) -> None:
    """An extension built earlier at ``path``: the real one if this checkout has built it, newer
    than the sources either way (so that a build which trusts timestamps would keep it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    built = ROOT / "src" / "pipes_fast" / "_hotpath" / EXTENSION
    if built.exists():
        shutil.copy(built, path)
    else:
        path.write_bytes(b"an extension built earlier")


def test_a_failing_compiler_installs_no_extension_built_earlier(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path / "checkout")
    build_lib = sysconfig.get_platform() + f"-cpython-{sys.version_info.major}{sys.version_info.minor}"
    _left_over(checkout / "build" / f"lib.{build_lib}" / "pipes_fast" / "_hotpath" / EXTENSION)
    _left_over(checkout / "src" / "pipes_fast" / "_hotpath" / EXTENSION)
    target = tmp_path / "installed"
    env = {**os.environ, "CC": "false"}
    # built in isolation, as a user's install is: the build gets the setuptools and Cython pyproject.toml asks for
    pip = [sys.executable, "-m", "pip", "install", "-v", "--no-deps", "--no-compile"]
    done = subprocess.run(
        [*pip, "--target", str(target), str(checkout)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "compiled extension could not be built" in done.stdout + done.stderr
    assert sorted(path.name for path in target.rglob("compiled*")) == []
    env = {k: v for k, v in os.environ.items() if k != "PIPES_FAST_NO_EXTENSIONS"}
    version = subprocess.run(
        [sys.executable, "-c", "from pipes_fast.cli import main; main(['--version'])"],
        env={**env, "PYTHONPATH": str(target)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert version.stdout.strip().endswith("(pure Python: the compiled extension is not built)")
