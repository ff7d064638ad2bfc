"""A user's ``mypy --strict`` sees every public name: the lazily loaded ones are explicit re-exports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import pipes_fast
import pipes_fast.external

pytestmark = pytest.mark.timeout(180)


def test_every_public_name_type_checks_where_a_user_imports_it(tmp_path: Path) -> None:
    imports = [
        f"from {module.__name__} import {name} as {prefix}_{name}"
        for module, prefix in ((pipes_fast, "core"), (pipes_fast.external, "external"))
        for name in module.__all__
    ]
    user = tmp_path / "user.py"
    user.write_text("\n".join(imports) + "\n")
    check = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"), str(user)]
    done = subprocess.run(check, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(imports) > 80
