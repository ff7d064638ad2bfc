"""``pipes-fast --version``: the version, and which hot-path implementation is in use and why."""

from __future__ import annotations

import json

from pipes_fast import _hotpath
from pipes_fast._version import __version__


def show(*, as_json: bool) -> int:
    """Print ``pipes-fast VERSION (compiled)`` or ``(pure Python: WHY)``, or with ``as_json`` an
    object with ``version``, ``implementation`` and ``reason`` (null for the compiled one)."""
    if as_json:
        print(
            json.dumps({"version": __version__, "implementation": _hotpath.IMPLEMENTATION, "reason": _hotpath.REASON})
        )
    elif _hotpath.REASON is None:
        print(f"pipes-fast {__version__} ({_hotpath.IMPLEMENTATION})")
    else:
        print(f"pipes-fast {__version__} (pure Python: {_hotpath.REASON})")
    return 0
